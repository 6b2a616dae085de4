"""Single flight: identical concurrent requests pay upstream once, within and across replicas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from router.cache.entry import Hit
from router.cache.response import CacheDirectives, CacheKey, ResponseCache
from router.policy.decision import CacheMode, CacheSettings
from router.store import MemoryStore, Store, create_store
from support.cache import BrokenStore, FakeClock, RecordingObserver, chat, completion, entry
from support.redis_server import RedisServer

ON = CacheSettings(CacheMode.ON, ttl_s=3600)
NONE = CacheDirectives()
Upstream = Callable[[], Awaitable[dict[str, Any]]]


class CountingUpstream:
    def __init__(self, delay_s: float = 0.1, fail_first: bool = False) -> None:
        self.calls = 0
        self.delay_s = delay_s
        self.fail_first = fail_first

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        call = self.calls
        await asyncio.sleep(self.delay_s)
        if self.fail_first and call == 1:
            raise RuntimeError("upstream failed")
        return completion(f"answer {call}")


async def serve(
    cache: ResponseCache,
    key: CacheKey,
    upstream: Upstream,
    directives: CacheDirectives = NONE,
) -> tuple[str, Any]:
    """What the pipeline does: lookup, then single flight, then upstream and store."""
    found = await cache.lookup(key, ON, directives)
    if isinstance(found, Hit):
        return "hit", found
    async with cache.flight(key, ON, directives) as flight:
        if flight.hit is not None:
            return "coalesced", flight.hit
        body = await upstream()
        await cache.store(key, entry(body=body), ON, directives)
        return ("leader" if flight.leader else "solo"), body


def _text(outcome: tuple[str, Any]) -> str:
    body = outcome[1].completion if isinstance(outcome[1], Hit) else outcome[1]
    content: str = body["choices"][0]["message"]["content"]
    return content


async def test_concurrent_identical_requests_call_upstream_once(
    cache: ResponseCache, observer: RecordingObserver
) -> None:
    upstream = CountingUpstream()
    key = cache.key(chat(), "fast", "team:a")
    outcomes = await asyncio.gather(*(serve(cache, key, upstream) for _ in range(10)))
    assert upstream.calls == 1
    assert sorted(kind for kind, _ in outcomes) == ["coalesced"] * 9 + ["leader"]
    assert {_text(o) for o in outcomes} == {"answer 1"}
    assert observer.coalesced == ["fast"] * 9
    assert len(observer.avoided) == 9


@pytest.fixture
async def replicas(
    request: pytest.FixtureRequest, store: Store, observer: RecordingObserver
) -> AsyncIterator[list[ResponseCache]]:
    """Two routers sharing one store: for Redis, two clients of the same server."""
    if isinstance(store, MemoryStore):
        yield [ResponseCache(store, observer, FakeClock()) for _ in range(2)]
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    other = create_store(server.url, timeout_s=0.5)
    yield [ResponseCache(store, observer, FakeClock()), ResponseCache(other, observer, FakeClock())]
    await other.aclose()


async def test_replicas_sharing_a_store_call_upstream_once(replicas: list[ResponseCache]) -> None:
    upstream = CountingUpstream(delay_s=0.2)
    key = replicas[0].key(chat(), "fast", "team:a")
    outcomes = await asyncio.gather(
        *(serve(replica, key, upstream) for replica in replicas for _ in range(5))
    )
    assert upstream.calls == 1
    assert {_text(o) for o in outcomes} == {"answer 1"}


async def test_a_streaming_waiter_gets_the_answer_as_chunks(cache: ResponseCache) -> None:
    upstream = CountingUpstream()
    plain = cache.key(chat(), "fast", "team:a")
    streamed = cache.key(chat(stream=True), "fast", "team:a")
    leading = asyncio.create_task(serve(cache, plain, upstream))
    await asyncio.sleep(0.05)  # the plain request now holds the lease
    waiter = await serve(cache, streamed, upstream)
    leader = await leading
    assert (leader[0], waiter[0]) == ("leader", "coalesced")
    chunks = waiter[1].chunks
    assert chunks is not None
    assert chunks[1]["choices"][0]["delta"] == {"content": "answer 1"}


async def test_a_failed_producer_hands_over_to_one_waiter(cache: ResponseCache) -> None:
    upstream = CountingUpstream(fail_first=True)
    key = cache.key(chat(), "fast", "team:a")
    outcomes = await asyncio.gather(
        *(serve(cache, key, upstream) for _ in range(6)), return_exceptions=True
    )
    assert upstream.calls == 2
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1
    assert {_text(o) for o in outcomes if not isinstance(o, BaseException)} == {"answer 2"}


async def test_waiting_is_bounded(store: Store, observer: RecordingObserver) -> None:
    cache = ResponseCache(store, observer, FakeClock(), flight_wait_s=0.2)
    slow = CountingUpstream(delay_s=2.0)
    key = cache.key(chat(), "fast", "team:a")
    leader = asyncio.create_task(serve(cache, key, slow))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    async with cache.flight(key, ON, NONE) as flight:
        waited = time.monotonic() - started
        assert flight.hit is None
        assert not flight.leader
    assert 0.15 < waited < 1.5  # gave up at flight_wait_s, long before the 2 s leader
    assert (await leader)[0] == "leader"


async def test_no_store_requests_do_not_lead(cache: ResponseCache) -> None:
    upstream = CountingUpstream()
    key = cache.key(chat(), "fast", "team:a")
    no_store = CacheDirectives.parse("no-store")
    outcomes = await asyncio.gather(*(serve(cache, key, upstream, no_store) for _ in range(3)))
    assert upstream.calls == 3
    assert {kind for kind, _ in outcomes} == {"solo"}


async def test_no_cache_requests_do_not_wait(cache: ResponseCache) -> None:
    upstream = CountingUpstream()
    key = cache.key(chat(), "fast", "team:a")
    no_cache = CacheDirectives.parse("no-cache")
    leading = asyncio.create_task(serve(cache, key, upstream))
    await asyncio.sleep(0.05)  # the first request now holds the lease
    second = await serve(cache, key, upstream, no_cache)
    first = await leading
    assert upstream.calls == 2
    assert (first[0], second[0]) == ("leader", "solo")


async def test_an_answer_stored_just_before_the_lease_is_served(
    cache: ResponseCache, store: Store
) -> None:
    key = cache.key(chat(), "fast", "team:a")
    await cache.store(key, entry(), ON, NONE)  # landed after this request's lookup missed
    async with cache.flight(key, ON, NONE) as flight:
        assert flight.hit is not None
        assert not flight.leader
    assert await store.get(key.lease_key) is None


async def test_the_lease_is_released_when_the_leader_is_done(
    cache: ResponseCache, store: Store
) -> None:
    key = cache.key(chat(), "fast", "team:a")
    async with cache.flight(key, ON, NONE) as flight:
        assert flight.leader
        assert await store.get(key.lease_key) is not None
    assert await store.get(key.lease_key) is None


async def test_identical_requests_coalesce_in_process_while_the_store_is_down() -> None:
    observer = RecordingObserver()
    cache = ResponseCache(BrokenStore(), observer, FakeClock())
    upstream = CountingUpstream()
    key = cache.key(chat(), "fast", "team:a")
    outcomes = await asyncio.gather(*(serve(cache, key, upstream) for _ in range(5)))
    assert upstream.calls == 1
    assert sorted(kind for kind, _ in outcomes) == ["coalesced"] * 4 + ["leader"]
