"""The cache over a real redis-server that dies, freezes and comes back: requests never fail
and never wait much longer than the store timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from router.cache.entry import Bypass, CacheResult, Hit
from router.cache.response import CacheDirectives, ResponseCache
from router.policy.decision import CacheMode, CacheSettings
from router.store import Store, StoreError, create_store
from support.cache import FakeClock, RecordingObserver, chat, entry
from support.redis_server import RedisServer

ON = CacheSettings(CacheMode.ON, ttl_s=3600)
NONE = CacheDirectives()
TIMEOUT_S = 0.05
COOLDOWN_S = 0.2
# Bounded, not hanging (see tests/e2e/store/test_redis_faults.py); which calls reached Redis is
# what the store_errors assertions check.
MARGIN_S = 1.0


@pytest.fixture
async def fragile_store(redis_server: RedisServer) -> AsyncIterator[Store]:
    store = create_store(redis_server.url, timeout_s=TIMEOUT_S, cooldown_s=COOLDOWN_S)
    yield store
    await store.aclose()


@pytest.fixture
def fragile(fragile_store: Store, observer: RecordingObserver) -> ResponseCache:
    return ResponseCache(fragile_store, observer, FakeClock())


async def _full_request(cache: ResponseCache) -> tuple[str, float]:
    """Lookup, flight and store as the pipeline runs them; returns the header and time taken."""
    started = time.monotonic()
    key = cache.key(chat(), "fast", "team:a")
    found = await cache.lookup(key, ON, NONE)
    if isinstance(found, Hit):
        return str(found.result), time.monotonic() - started
    async with cache.flight(key, ON, NONE) as flight:
        assert flight.hit is None
        stored = await cache.store(key, entry(), ON, NONE)
    header = stored if stored is CacheResult.STORED else found.result
    return str(header), time.monotonic() - started


async def test_killed_redis_turns_the_cache_into_a_bypass(
    fragile: ResponseCache, redis_server: RedisServer, observer: RecordingObserver
) -> None:
    assert (await _full_request(fragile))[0] == "stored"
    redis_server.kill()
    header, took = await _full_request(fragile)
    assert header == "bypass"
    assert took < TIMEOUT_S + MARGIN_S  # one failed call, then the circuit skips Redis
    assert "get" in observer.store_errors
    health = fragile.health()
    assert (health.backend, health.healthy) == ("redis", False)


async def test_frozen_redis_costs_at_most_one_timeout(
    fragile: ResponseCache, redis_server: RedisServer, observer: RecordingObserver
) -> None:
    await _full_request(fragile)
    redis_server.pause()
    try:
        header, took = await _full_request(fragile)
        assert header == "bypass"
        assert took < TIMEOUT_S + MARGIN_S
        assert observer.store_errors == ["get"]
        lookups = await asyncio.gather(
            *(fragile.lookup(fragile.key(chat(), "fast", "team:a"), ON, NONE) for _ in range(20))
        )
        assert set(lookups) == {Bypass("store")}
    finally:
        redis_server.resume()


async def test_restarted_redis_is_used_again_on_its_own(
    fragile: ResponseCache, fragile_store: Store, redis_server: RedisServer
) -> None:
    await _full_request(fragile)
    redis_server.restart()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            await fragile_store.ping()
            break
        except StoreError:
            await asyncio.sleep(COOLDOWN_S / 2)
    assert fragile.health().healthy
    assert (await _full_request(fragile))[0] == "stored"  # the restart emptied it
    assert (await _full_request(fragile))[0] == "hit"
