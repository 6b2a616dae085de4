"""One contract, two stores: every test runs against memory and a real redis-server."""

from __future__ import annotations

import asyncio

from router.store import Store


async def test_missing_key_reads_as_none(store: Store) -> None:
    assert await store.get("absent") is None


async def test_set_then_get_returns_the_same_bytes(store: Store) -> None:
    value = bytes(range(256))
    await store.set("k", value, 60)
    assert await store.get("k") == value
    await store.set("k", b"second", 60)
    assert await store.get("k") == b"second"


async def test_values_expire_after_their_ttl(store: Store) -> None:
    await store.set("short", b"v", 0.15)
    await store.set("long", b"v", 60)
    await asyncio.sleep(0.3)
    assert await store.get("short") is None
    assert await store.get("long") == b"v"


async def test_get_many_keeps_order_and_reports_missing(store: Store) -> None:
    await store.set("a", b"1", 60)
    await store.set("c", b"3", 60)
    assert await store.get_many(["c", "b", "a"]) == [b"3", None, b"1"]


async def test_set_if_absent_wins_once_until_expiry(store: Store) -> None:
    assert await store.set_if_absent("lease", b"first", 0.15) is True
    assert await store.set_if_absent("lease", b"second", 0.15) is False
    assert await store.get("lease") == b"first"
    await asyncio.sleep(0.3)
    assert await store.set_if_absent("lease", b"third", 60) is True
    assert await store.get("lease") == b"third"


async def test_concurrent_set_if_absent_has_exactly_one_winner(store: Store) -> None:
    results = await asyncio.gather(
        *(store.set_if_absent("race", str(i).encode(), 60) for i in range(20))
    )
    assert results.count(True) == 1


async def test_delete_reports_whether_it_deleted(store: Store) -> None:
    await store.set("k", b"v", 60)
    assert await store.delete("k") is True
    assert await store.get("k") is None
    assert await store.delete("k") is False


async def test_delete_if_value_only_removes_a_matching_value(store: Store) -> None:
    await store.set("lease", b"mine", 60)
    assert await store.delete("lease", if_value=b"theirs") is False
    assert await store.get("lease") == b"mine"
    assert await store.delete("lease", if_value=b"mine") is True
    assert await store.get("lease") is None


async def test_delete_prefix_removes_only_that_prefix(store: Store) -> None:
    for key in ("ns:a:1", "ns:a:2", "ns:ab:1", "ns:b:1", "other"):
        await store.set(key, b"v", 60)
    assert await store.delete_prefix("ns:a:") == 2
    assert await store.get_many(["ns:a:1", "ns:a:2", "ns:ab:1", "ns:b:1", "other"]) == [
        None,
        None,
        b"v",
        b"v",
        b"v",
    ]


async def test_delete_prefix_treats_glob_characters_literally(store: Store) -> None:
    await store.set("p*[x]?:1", b"v", 60)
    await store.set("pz[x]?:1", b"v", 60)
    await store.set("p*x:1", b"v", 60)
    assert await store.delete_prefix("p*[x]?:") == 1
    assert await store.get("pz[x]?:1") == b"v"
    assert await store.get("p*x:1") == b"v"


async def test_delete_prefix_handles_more_keys_than_one_batch(store: Store) -> None:
    for i in range(1200):
        await store.set(f"bulk:{i}", b"v", 60)
    assert await store.delete_prefix("bulk:") == 1200
    assert await store.get("bulk:7") is None


async def test_incr_counts_and_restarts_after_ttl(store: Store) -> None:
    assert [await store.incr("n", 0.15) for _ in range(3)] == [1, 2, 3]
    await asyncio.sleep(0.3)
    assert await store.incr("n", 60) == 1


async def test_ping_and_health_report_a_healthy_store(store: Store) -> None:
    await store.ping()
    health = store.health()
    assert health.healthy
    assert health.backend == store.backend
    assert health.backend in ("memory", "redis")
