"""Shared fixtures: each lives in ``tests/support/`` and is re-exported here."""

from support.stack import config_dir, emulators, router, start_router

__all__ = ["config_dir", "emulators", "router", "start_router"]
