"""Lookup, store, modes, Cache-Control and purge, on both stores."""

from __future__ import annotations

import asyncio

import pytest

from router.cache.entry import Bypass, CacheResult, Hit, Miss
from router.cache.response import CacheDirectives, ResponseCache
from router.policy.decision import CacheMode, CacheSettings
from router.store import Store, StoreFailure
from support.cache import (
    BrokenStore,
    FakeClock,
    RecordingObserver,
    chat,
    completion,
    entry,
    text_stream,
)

ON = CacheSettings(CacheMode.ON, ttl_s=3600)
NONE = CacheDirectives()


async def test_miss_then_store_then_hit(cache: ResponseCache, observer: RecordingObserver) -> None:
    key = cache.key(chat(), "fast", "team:a")
    assert isinstance(await cache.lookup(key, ON, NONE), Miss)
    assert await cache.store(key, entry(cost=0.002), ON, NONE) is CacheResult.STORED
    hit = await cache.lookup(key, ON, NONE)
    assert isinstance(hit, Hit)
    assert hit.completion == completion()
    assert hit.chunks is None
    assert hit.entry.deployment == "openai/gpt-4o-mini"
    assert observer.labels() == ["miss", "stored", "hit"]
    assert observer.avoided == [("fast", "fast", 0.002)]


async def test_entries_expire_with_the_policy_ttl(cache: ResponseCache) -> None:
    key = cache.key(chat(), "fast", "team:a")
    await cache.store(key, entry(), CacheSettings(CacheMode.ON, ttl_s=1), NONE)
    assert isinstance(await cache.lookup(key, ON, NONE), Hit)
    await asyncio.sleep(1.1)
    assert isinstance(await cache.lookup(key, ON, NONE), Miss)


@pytest.mark.parametrize(
    ("mode", "reads", "writes"),
    [
        (CacheMode.ON, True, True),
        (CacheMode.OFF, False, False),
        (CacheMode.READ_ONLY, True, False),
        (CacheMode.WRITE_ONLY, False, True),
    ],
)
async def test_modes(cache: ResponseCache, mode: CacheMode, reads: bool, writes: bool) -> None:
    settings = CacheSettings(mode, ttl_s=60)
    key = cache.key(chat(), "fast", "team:a")
    stored = await cache.store(key, entry(), settings, NONE)
    assert stored is (CacheResult.STORED if writes else CacheResult.BYPASS)
    await cache.store(key, entry(), ON, NONE)  # make sure there is something to read
    found = await cache.lookup(key, settings, NONE)
    assert isinstance(found, Hit) if reads else found == Bypass("mode")


async def test_no_cache_skips_reading_but_still_stores(cache: ResponseCache) -> None:
    key = cache.key(chat(), "fast", "team:a")
    await cache.store(key, entry(), ON, NONE)
    no_cache = CacheDirectives.parse("no-cache")
    assert await cache.lookup(key, ON, no_cache) == Bypass("directive")
    assert await cache.store(key, entry(), ON, no_cache) is CacheResult.STORED


async def test_no_store_skips_writing_but_still_reads(cache: ResponseCache) -> None:
    key = cache.key(chat(), "fast", "team:a")
    no_store = CacheDirectives.parse("no-store")
    assert await cache.store(key, entry(), ON, no_store) is CacheResult.BYPASS
    assert isinstance(await cache.lookup(key, ON, no_store), Miss)
    await cache.store(key, entry(), ON, NONE)
    assert isinstance(await cache.lookup(key, ON, no_store), Hit)


async def test_max_age_accepts_only_younger_entries(cache: ResponseCache, clock: FakeClock) -> None:
    key = cache.key(chat(), "fast", "team:a")
    await cache.store(key, entry(), ON, NONE)
    clock.now += 10
    assert isinstance(await cache.lookup(key, ON, CacheDirectives.parse("max-age=5")), Miss)
    hit = await cache.lookup(key, ON, CacheDirectives.parse("max-age=20"))
    assert isinstance(hit, Hit)
    assert hit.age_s == pytest.approx(10)


async def test_tenants_never_see_each_others_entries(cache: ResponseCache) -> None:
    mine = cache.key(chat(), "fast", "team:a")
    theirs = cache.key(chat(), "fast", "team:b")
    await cache.store(mine, entry(), ON, NONE)
    assert isinstance(await cache.lookup(theirs, ON, NONE), Miss)
    assert isinstance(await cache.lookup(mine, ON, NONE), Hit)


async def test_purge_one_namespace_or_all(cache: ResponseCache) -> None:
    keys = {ns: cache.key(chat(), "fast", ns) for ns in ("team:a", "team:a:b", "key:c")}
    for key in keys.values():
        await cache.store(key, entry(), ON, NONE)
    assert await cache.purge("team:a") == 1
    assert isinstance(await cache.lookup(keys["team:a"], ON, NONE), Miss)
    assert isinstance(await cache.lookup(keys["team:a:b"], ON, NONE), Hit)
    assert await cache.purge() == 2
    assert isinstance(await cache.lookup(keys["key:c"], ON, NONE), Miss)


async def test_partial_or_failed_answers_are_never_stored(cache: ResponseCache) -> None:
    key = cache.key(chat(stream=True), "fast", "team:a")
    cut = text_stream()[:3]  # the connection broke before the finish chunk
    assert await cache.store(key, entry(chunks=cut), ON, NONE) is CacheResult.BYPASS
    unfinished = completion()
    unfinished["choices"][0]["finish_reason"] = None
    assert await cache.store(key, entry(body=unfinished), ON, NONE) is CacheResult.BYPASS
    assert await cache.store(key, entry(body={"choices": []}), ON, NONE) is CacheResult.BYPASS
    assert isinstance(await cache.lookup(key, ON, NONE), Miss)


async def test_zero_ttl_stores_nothing(cache: ResponseCache) -> None:
    key = cache.key(chat(), "fast", "team:a")
    assert await cache.store(key, entry(), CacheSettings(CacheMode.ON, 0), NONE) == "bypass"


async def test_unreadable_entry_is_a_miss(cache: ResponseCache, store: Store) -> None:
    key = cache.key(chat(), "fast", "team:a")
    await store.set(key.entry_key, b"not json", 60)
    assert isinstance(await cache.lookup(key, ON, NONE), Miss)
    await store.set(key.entry_key, b'{"v": 1, "model": "m"}', 60)
    assert isinstance(await cache.lookup(key, ON, NONE), Miss)


async def test_broken_store_bypasses_and_reports() -> None:
    observer = RecordingObserver()
    cache = ResponseCache(BrokenStore(), observer, FakeClock())
    key = cache.key(chat(), "fast", "team:a")
    assert await cache.lookup(key, ON, NONE) == Bypass("store")
    assert await cache.store(key, entry(), ON, NONE) is CacheResult.BYPASS
    assert observer.labels() == ["bypass"]
    assert observer.store_errors == ["get", "set"]
    assert observer.write_failures == ["fast"]  # the failed write is counted as a write
    assert not cache.health().healthy


async def test_skipped_store_is_not_counted_as_an_error() -> None:
    observer = RecordingObserver()
    cache = ResponseCache(BrokenStore(StoreFailure.CIRCUIT_OPEN), observer, FakeClock())
    key = cache.key(chat(), "fast", "team:a")
    assert await cache.lookup(key, ON, NONE) == Bypass("store")
    assert observer.store_errors == []
