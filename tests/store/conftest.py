from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from router.store import Store, create_store
from support.redis_server import RedisServer, redis_sentinel_url, redis_server, redis_url

__all__ = ["redis_sentinel_url", "redis_server", "redis_url", "store"]


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """The contract fixture: every test using it runs once per implementation."""
    url: str | None = None
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
    made = create_store(url, timeout_s=0.5)
    yield made
    await made.aclose()
