"""The limit counters' contract: every test runs against the memory store and a real
redis-server (the Lua scripts), so the two implementations cannot drift apart."""

from __future__ import annotations

import asyncio

from router.store import Store
from router.store.counters import (
    Adjust,
    Ask,
    Draw,
    FieldAdd,
    Lease,
    Level,
    Option,
    Release,
    Settlement,
)

MINUTE = 60_000


def _rpm(key: str, limit: int, amount: int = 1, window: int = MINUTE) -> Draw:
    return Draw(f"{{t}}:{key}", limit, amount, window)


async def _one(store: Store, ask: Ask) -> bool:
    (verdict,) = await store.admit([ask])
    return verdict.admitted


async def test_a_window_admits_exactly_its_limit(store: Store) -> None:
    results = [await _one(store, Ask(draws=(_rpm("a", 5),))) for _ in range(8)]
    assert results == [True] * 5 + [False] * 3
    (level,) = await store.levels(["{t}:a"])
    assert level.used == 5
    assert 0 < level.reset_ms <= MINUTE


async def test_concurrent_batches_admit_exactly_the_limit(store: Store) -> None:
    asks = [Ask(draws=(_rpm("c", 7),))] * 5
    batches = await asyncio.gather(*(store.admit(asks) for _ in range(4)))
    admitted = [v.admitted for batch in batches for v in batch]
    assert admitted.count(True) == 7


async def test_an_ask_is_all_or_nothing(store: Store) -> None:
    both = Ask(draws=(_rpm("x", 10), _rpm("y", 2, amount=2)))
    (first,) = await store.admit([both])
    assert first.admitted
    assert first.levels == (Level(1, first.levels[0].reset_ms), Level(2, first.levels[1].reset_ms))
    (second,) = await store.admit([both])
    assert not second.admitted
    assert second.blocked == 1  # y is full
    assert second.levels[1].used == 2
    # x was not taken by the refused ask.
    assert [lv.used for lv in await store.levels(["{t}:x", "{t}:y"])] == [1, 2]


async def test_a_draw_larger_than_the_limit_never_passes(store: Store) -> None:
    assert not await _one(store, Ask(draws=(_rpm("big", 100, amount=101),)))
    assert await _one(store, Ask(draws=(_rpm("big", 100, amount=100),)))


async def test_a_window_ends_and_starts_again(store: Store) -> None:
    short = _rpm("w", 1, window=150)
    assert await _one(store, Ask(draws=(short,)))
    assert not await _one(store, Ask(draws=(short,)))
    await asyncio.sleep(0.3)
    assert await _one(store, Ask(draws=(short,)))


async def test_a_window_of_zero_never_ends(store: Store) -> None:
    total = _rpm("total", 2, window=0)
    assert await _one(store, Ask(draws=(total,)))
    (level,) = await store.levels(["{t}:total"])
    assert level == Level(1, 0)


async def test_leases_hold_slots_until_released_or_expired(store: Store) -> None:
    def lease(holder: str, ttl: int = MINUTE) -> Ask:
        return Ask(leases=(Lease("{t}:conc", 2, holder, ttl),))

    assert await _one(store, lease("a"))
    assert await _one(store, lease("b", ttl=150))
    (full,) = await store.admit([lease("c")])
    assert not full.admitted
    assert full.blocked == 0
    assert full.levels == (Level(2, 0),)
    await store.settle([Settlement(releases=(Release("{t}:conc", "a"),))])
    assert await _one(store, lease("c"))
    await asyncio.sleep(0.3)  # b's lease lapses: a crashed holder gives its slot back
    assert await _one(store, lease("d"))
    assert not await _one(store, lease("e"))


async def test_options_take_the_first_that_passes_and_report_the_skipped(store: Store) -> None:
    common = (_rpm("key", 10),)
    dep_a = Option(draws=(_rpm("dep-a", 1),))
    dep_b = Option(draws=(_rpm("dep-b", 1),))
    ask = Ask(draws=common, options=(dep_a, dep_b))
    (first,) = await store.admit([ask])
    assert (first.admitted, first.option, first.skipped) == (True, 0, ())
    (second,) = await store.admit([ask])
    assert (second.admitted, second.option) == (True, 1)
    assert [(s.option, s.item, s.level.used) for s in second.skipped] == [(0, 0, 1)]
    assert second.skipped[0].level.reset_ms > 0
    (third,) = await store.admit([ask])
    assert not third.admitted
    assert third.blocked is None
    assert third.options_exhausted
    assert [s.option for s in third.skipped] == [0, 1]
    # The common draw was not taken by the refused ask.
    assert [lv.used for lv in await store.levels(["{t}:key"])] == [2]


async def test_adjust_reconciles_within_the_window_and_never_below_zero(store: Store) -> None:
    assert await _one(store, Ask(draws=(_rpm("tok", 100, amount=40),)))
    await store.settle([Settlement(adjusts=(Adjust("{t}:tok", 25),))])
    assert (await store.levels(["{t}:tok"]))[0].used == 65
    await store.settle([Settlement(adjusts=(Adjust("{t}:tok", -500),))])
    assert (await store.levels(["{t}:tok"]))[0].used == 0
    # Without create, an adjust never starts a window; with it, it does.
    await store.settle([Settlement(adjusts=(Adjust("{t}:none", 5),))])
    await store.settle([Settlement(adjusts=(Adjust("{t}:made", 5, MINUTE, create=True),))])
    none, made = await store.levels(["{t}:none", "{t}:made"])
    assert none == Level(0, 0)
    assert made.used == 5
    assert 0 < made.reset_ms <= MINUTE


async def test_field_counters_add_up_per_field(store: Store) -> None:
    adds = (FieldAdd("{t}:spend", "a", 3, MINUTE), FieldAdd("{t}:spend", "b", 1, MINUTE))
    await store.settle([Settlement(adds=adds), Settlement(adds=adds[:1])])
    assert await store.fields(["{t}:spend", "{t}:nothing"]) == [{"a": 6, "b": 1}, {}]


async def test_large_amounts_stay_exact(store: Store) -> None:
    big = 2**52 + 1
    assert await _one(store, Ask(draws=(_rpm("nano", 2**53, amount=big, window=0),)))
    await store.settle([Settlement(adds=(FieldAdd("{t}:f", "x", big),))])
    assert (await store.levels(["{t}:nano"]))[0].used == big
    assert await store.fields(["{t}:f"]) == [{"x": big}]


async def test_a_batch_applies_asks_in_order(store: Store) -> None:
    verdicts = await store.admit([Ask(draws=(_rpm("seq", 2),))] * 3)
    assert [v.admitted for v in verdicts] == [True, True, False]
    assert [v.levels[0].used for v in verdicts] == [1, 2, 2]


async def test_a_guarded_settlement_applies_once(store: Store) -> None:
    add = FieldAdd("{t}:once", "n", 1)
    first = Settlement(adds=(add,), once="{t}:settled:a")
    await store.settle([first, first])
    await store.settle([first, Settlement(adds=(add,), once="{t}:settled:b")])
    await store.settle([Settlement(adds=(add,))])  # unguarded: always applies
    assert await store.fields(["{t}:once"]) == [{"n": 3}]


async def test_an_exchange_settles_first_then_admits_in_one_call(store: Store) -> None:
    lease = Lease("{t}:slots", 1, "h1", MINUTE)
    (held,) = await store.admit([Ask(leases=(lease,))])
    assert held.admitted
    (blocked,) = await store.admit([Ask(leases=(Lease("{t}:slots", 1, "h2", MINUTE),))])
    assert not blocked.admitted
    # The release rides with the next admission and is applied before it is checked.
    release = Settlement(
        releases=(Release("{t}:slots", "h1"),), adds=(FieldAdd("{t}:spent", "n", 5),)
    )
    verdicts = await store.exchange(
        [release], [Ask(leases=(Lease("{t}:slots", 1, "h2", MINUTE),)), Ask(draws=(_rpm("e", 1),))]
    )
    assert [v.admitted for v in verdicts] == [True, True]
    assert verdicts[1].levels[0].used == 1
    assert await store.fields(["{t}:spent"]) == [{"n": 5}]
    assert await store.exchange([], [Ask(draws=(_rpm("e", 1),))]) != []  # asks alone work too


async def test_an_admitted_ask_reads_its_counters_after_the_take(store: Store) -> None:
    ask = Ask(
        draws=(_rpm("win", 10, amount=3), _rpm("forever", 100, amount=4, window=0)),
        leases=(Lease("{t}:slots", 5, "h1", MINUTE),),
        options=(Option(draws=(_rpm("dep", 10),)),),
    )
    (first,) = await store.admit([ask])
    assert first.admitted
    win, forever, slots = first.levels
    assert (win.used, forever, slots) == (3, Level(4, 0), Level(1, 0))
    assert 0 < win.reset_ms <= MINUTE
    again = Ask(ask.draws, (Lease("{t}:slots", 5, "h2", MINUTE),), ask.options)
    (second,) = await store.admit([again])
    assert [lv.used for lv in second.levels] == [6, 8, 2]
    assert 0 < second.levels[0].reset_ms <= win.reset_ms
    assert [lv.used for lv in await store.levels(["{t}:dep"])] == [2]
