from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cache_fakes import FakeClock, RecordingObserver

from router.cache import ResponseCache
from router.store import Store, create_store
from support.redis_server import RedisServer, redis_server, redis_url

__all__ = ["cache", "clock", "observer", "redis_server", "redis_url", "store"]


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    url: str | None = None
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
    made = create_store(url, timeout_s=0.5)
    yield made
    await made.aclose()


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(store: Store, observer: RecordingObserver, clock: FakeClock) -> ResponseCache:
    return ResponseCache(store, observer, clock)
