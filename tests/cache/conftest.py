from __future__ import annotations

import pytest

from router.cache.response import ResponseCache
from router.store import Store
from support.cache import FakeClock, RecordingObserver
from support.redis_server import redis_server, redis_url
from support.stores import store

__all__ = ["cache", "clock", "observer", "redis_server", "redis_url", "store"]


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(store: Store, observer: RecordingObserver, clock: FakeClock) -> ResponseCache:
    return ResponseCache(store, observer, clock)
