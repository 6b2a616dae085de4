from __future__ import annotations

from support.redis_server import redis_sentinel_url, redis_server, redis_url
from support.stores import store

__all__ = ["redis_sentinel_url", "redis_server", "redis_url", "store"]
