"""Metrics tests that drive router's real traffic (see traffic.py)."""
