"""Shared state behind one small protocol: process memory by default, Redis when configured.

``create_store(url, timeout_s=...)`` (``create_app`` passes ``REDIS_URL`` from its environ)
picks the implementation once, at start-up; everything else holds a :class:`Store` and never
knows which.
"""

from router.store.base import Store, StoreError, StoreFailure, StoreHealth
from router.store.factory import SentinelTarget, create_store, parse_sentinel_url
from router.store.memory import MemoryStore
from router.store.redis_store import RedisStore

__all__ = [
    "MemoryStore",
    "RedisStore",
    "SentinelTarget",
    "Store",
    "StoreError",
    "StoreFailure",
    "StoreHealth",
    "create_store",
    "parse_sentinel_url",
]
