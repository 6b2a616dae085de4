"""A real redis-server killed, frozen and restarted: calls end within the timeout, skip Redis
while it is unhealthy, and recover on their own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from router.store import Store, StoreError, StoreFailure, create_store
from support.redis_server import RedisServer

TIMEOUT_S = 0.05
COOLDOWN_S = 0.2
# A call without the timeout would hang on a frozen server until pytest's own timeout, so a bound
# of about a second still proves the timeout works, and absorbs a loaded CI machine's scheduling
# (fifty concurrent cancellations took 0.53 s there once). Speed is measured in bench/, not here.
MARGIN_S = 1.0


@pytest.fixture
async def fragile(redis_server: RedisServer) -> AsyncIterator[Store]:
    store = create_store(redis_server.url, timeout_s=TIMEOUT_S, cooldown_s=COOLDOWN_S)
    yield store
    await store.aclose()


async def _failure(store: Store, key: str = "k") -> tuple[StoreFailure, float]:
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        await store.get(key)
    return caught.value.failure, time.monotonic() - started


async def _until_healthy(store: Store) -> None:
    for _ in range(50):
        try:
            await store.ping()
            return
        except StoreError:
            await asyncio.sleep(COOLDOWN_S / 4)
    pytest.fail("store did not recover")


async def test_killed_server_fails_fast_then_skips_redis(
    fragile: Store, redis_server: RedisServer
) -> None:
    await fragile.set("k", b"v", 60)
    redis_server.kill()
    failure, took = await _failure(fragile)
    assert failure in (StoreFailure.CONNECTION, StoreFailure.TIMEOUT)
    assert took < TIMEOUT_S + MARGIN_S
    health = fragile.health()
    assert not health.healthy
    assert health.detail.startswith("get:")
    failure, took = await _failure(fragile)
    assert failure is StoreFailure.CIRCUIT_OPEN  # never reached the network
    assert took < MARGIN_S


async def test_paused_server_times_out_within_bound(
    fragile: Store, redis_server: RedisServer
) -> None:
    await fragile.set("k1", b"one", 60)
    await fragile.set("k2", b"two", 60)
    redis_server.pause()
    failure, took = await _failure(fragile, "k1")
    assert failure is StoreFailure.TIMEOUT
    assert took < TIMEOUT_S + MARGIN_S
    redis_server.resume()
    await _until_healthy(fragile)
    # The reply to the abandoned GET k1 must never answer a later command.
    assert await fragile.get_many(["k2", "k1"]) == [b"two", b"one"]
    assert fragile.health().healthy


async def test_new_client_against_paused_server_is_bounded(redis_server: RedisServer) -> None:
    redis_server.pause()
    store = create_store(redis_server.url, timeout_s=TIMEOUT_S, cooldown_s=COOLDOWN_S)
    try:
        failure, took = await _failure(store)
        assert failure is StoreFailure.TIMEOUT
        assert took < TIMEOUT_S + MARGIN_S
    finally:
        redis_server.resume()
        await store.aclose()


async def test_restarted_server_is_used_again_without_intervention(
    fragile: Store, redis_server: RedisServer
) -> None:
    await fragile.set("k", b"v", 60)
    redis_server.restart()
    # The pooled connection is stale; the first call may fail once, never for long.
    await _until_healthy(fragile)
    assert await fragile.get("k") is None  # a restart without persistence loses entries
    await fragile.set("k", b"again", 60)
    assert await fragile.get("k") == b"again"
    assert fragile.health().healthy


async def test_many_concurrent_calls_to_a_paused_server_all_end_in_time(
    fragile: Store, redis_server: RedisServer
) -> None:
    await fragile.ping()
    redis_server.pause()
    try:
        outcomes = await asyncio.gather(*(_failure(fragile, f"k{i}") for i in range(50)))
    finally:
        redis_server.resume()
    assert {failure for failure, _ in outcomes} == {StoreFailure.TIMEOUT}
    assert max(took for _, took in outcomes) < TIMEOUT_S + MARGIN_S
