"""The store fixture shared by the store contract suite and the cache tests: every test that
uses it runs once per implementation (memory, and a real redis-server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from router.store import Store, create_store
from support.redis_server import RedisServer

__all__ = ["store"]


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    url: str | None = None
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
    made = create_store(url, timeout_s=0.5)
    yield made
    await made.aclose()
