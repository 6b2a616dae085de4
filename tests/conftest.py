"""Shared fixtures: each lives in ``tests/support/`` and is re-exported here."""

from support.redis_server import redis_sentinel_url, redis_server, redis_url
from support.stack import config_dir, emulators, router, start_router

__all__ = [
    "config_dir",
    "emulators",
    "redis_sentinel_url",
    "redis_server",
    "redis_url",
    "router",
    "start_router",
]
