"""Shared fixtures: each lives in ``tests/support/`` and is re-exported here."""
