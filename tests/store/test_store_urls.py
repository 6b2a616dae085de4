from __future__ import annotations

import pytest

from router.store import MemoryStore, RedisStore, SentinelTarget, create_store, parse_sentinel_url
from support.redis_server import RedisServer


async def test_no_url_means_the_embedded_memory_store() -> None:
    assert isinstance(create_store(None), MemoryStore)
    assert isinstance(create_store(""), MemoryStore)


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://:secret@cache.example:6380/1",
        "unix:///tmp/redis.sock?db=2",
        "redis+cluster://node1:7000",
        "redis+sentinel://s1:26379,s2:26380/mymaster/3",
    ],
)
async def test_redis_urls_build_a_redis_store_without_connecting(url: str) -> None:
    store = create_store(url, timeout_s=0.05)
    assert isinstance(store, RedisStore)
    assert store.health().healthy  # nothing has been tried yet
    await store.aclose()


def test_unknown_scheme_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="memcached"):
        create_store("memcached://localhost:11211")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "redis+sentinel://s1:26379,s2:26380/mymaster",
            SentinelTarget((("s1", 26379), ("s2", 26380)), "mymaster"),
        ),
        (
            "rediss+sentinel://app:p%40ss@s1/main/2",
            SentinelTarget((("s1", 26379),), "main", 2, "app", "p@ss", tls=True),
        ),
        (
            "redis+sentinel://:pw@[::1]:5000/svc",
            SentinelTarget((("::1", 5000),), "svc", password="pw"),
        ),
    ],
)
def test_sentinel_urls(url: str, expected: SentinelTarget) -> None:
    assert parse_sentinel_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["redis+sentinel://s1:26379", "redis+sentinel:///svc", "redis+sentinel://s1/svc/x"],
)
def test_incomplete_sentinel_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="Sentinel URL"):
        parse_sentinel_url(url)


async def test_a_real_server_by_url(redis_server: RedisServer) -> None:
    store = create_store(redis_server.url, timeout_s=0.5)
    try:
        await store.set("k", b"v", 60)
        assert await store.get("k") == b"v"
    finally:
        await store.aclose()


async def test_a_sentinel_url_reaches_the_master(redis_sentinel_url: str) -> None:
    store = create_store(redis_sentinel_url, timeout_s=0.5)
    try:
        await store.set("k", b"via sentinel", 60)
        assert await store.get("k") == b"via sentinel"
    finally:
        await store.aclose()
