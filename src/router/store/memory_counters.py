"""Counters in one process's memory: the same contract as the Redis scripts
(``tests/store/test_counter_contract.py`` runs against both). The event loop runs each call
to completion, so an ask is atomic without a lock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from router.store.counters import Ask, Draw, Lease, Level, Settlement, Skipped, Verdict


@dataclass(slots=True)
class _Counter:
    value: int
    expires_at: float | None  # monotonic seconds; None: never


class MemoryCounters:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._counters: dict[str, _Counter] = {}
        self._leases: dict[str, dict[str, float]] = {}
        self._fields: dict[str, tuple[dict[str, int], float | None]] = {}
        self._once: dict[str, float] = {}  # settlement guard -> expiry
        self._calls = 0

    def admit(self, asks: Sequence[Ask]) -> list[Verdict]:
        self._sweep()
        return [self._admit(ask) for ask in asks]

    def _admit(self, ask: Ask) -> Verdict:
        levels, blocked = self._check(ask.draws, ask.leases)
        if blocked is not None:
            return Verdict(False, tuple(levels), blocked)
        chosen: int | None = None
        skipped: list[Skipped] = []
        for i, option in enumerate(ask.options):
            option_levels, item = self._check(option.draws, option.leases)
            if item is None:
                chosen = i
                self._apply(option.draws, option.leases)
                break
            skipped.append(Skipped(i, item, option_levels[item]))
        if ask.options and chosen is None:
            return Verdict(False, tuple(levels), None, None, tuple(skipped))
        self._apply(ask.draws, ask.leases)
        levels, _ = self._check(ask.draws, ask.leases, after=True)
        return Verdict(True, tuple(levels), None, chosen, tuple(skipped))

    def _check(
        self, draws: Sequence[Draw], leases: Sequence[Lease], *, after: bool = False
    ) -> tuple[list[Level], int | None]:
        levels: list[Level] = []
        blocked: int | None = None
        for draw in draws:
            level = self._level(draw.key)
            levels.append(level)
            if blocked is None and not after and level.used + draw.amount > draw.limit:
                blocked = len(levels) - 1
        now = self._clock()
        for lease in leases:
            held = self._leases.get(lease.key, {})
            count = sum(1 for t in held.values() if t > now)
            levels.append(Level(count, 0))
            if blocked is None and not after and count + 1 > lease.limit:
                blocked = len(levels) - 1
        return levels, blocked

    def _apply(self, draws: Sequence[Draw], leases: Sequence[Lease]) -> None:
        now = self._clock()
        for draw in draws:
            counter = self._live(draw.key)
            if counter is None:
                expires = now + draw.window_ms / 1000 if draw.window_ms > 0 else None
                self._counters[draw.key] = _Counter(draw.amount, expires)
            else:
                counter.value += draw.amount
        for lease in leases:
            self._leases.setdefault(lease.key, {})[lease.holder] = now + lease.ttl_ms / 1000

    def settle(self, settlements: Sequence[Settlement]) -> None:
        now = self._clock()
        for s in settlements:
            if s.once:
                if self._once.get(s.once, 0.0) > now:
                    continue  # applied already: this is a retry
                self._once[s.once] = now + s.once_ttl_ms / 1000
            for adj in s.adjusts:
                counter = self._live(adj.key)
                if counter is not None:
                    counter.value = max(0, counter.value + adj.delta)
                elif adj.create and adj.delta > 0:
                    expires = now + adj.window_ms / 1000 if adj.window_ms > 0 else None
                    self._counters[adj.key] = _Counter(adj.delta, expires)
            for rel in s.releases:
                self._leases.get(rel.key, {}).pop(rel.holder, None)
            for add in s.adds:
                found = self._fields.get(add.key)
                if found is None or (found[1] is not None and found[1] <= now):
                    found = ({}, now + add.ttl_ms / 1000 if add.ttl_ms > 0 else None)
                    self._fields[add.key] = found
                found[0][add.field] = found[0].get(add.field, 0) + add.amount

    def levels(self, keys: Sequence[str]) -> list[Level]:
        return [self._level(key) for key in keys]

    def fields(self, keys: Sequence[str]) -> list[dict[str, int]]:
        now = self._clock()
        out = []
        for key in keys:
            found = self._fields.get(key)
            live = found is not None and (found[1] is None or found[1] > now)
            out.append(dict(found[0]) if found is not None and live else {})
        return out

    def _live(self, key: str) -> _Counter | None:
        counter = self._counters.get(key)
        expires = counter.expires_at if counter is not None else None
        if expires is not None and expires <= self._clock():
            del self._counters[key]
            return None
        return counter

    def _level(self, key: str) -> Level:
        counter = self._live(key)
        if counter is None:
            return Level(0, 0)
        if counter.expires_at is None:
            return Level(counter.value, 0)
        return Level(counter.value, max(1, round((counter.expires_at - self._clock()) * 1000)))

    def _sweep(self) -> None:
        """Drop what has expired, now and then: counters are few (bounded by config), but
        windows and leases come and go."""
        self._calls += 1
        if self._calls % 1024:
            return
        now = self._clock()
        for key in [k for k, c in self._counters.items() if c.expires_at and c.expires_at <= now]:
            del self._counters[key]
        for key, held in list(self._leases.items()):
            for holder in [h for h, t in held.items() if t <= now]:
                del held[holder]
            if not held:
                del self._leases[key]
        for key in [k for k, (_, t) in self._fields.items() if t is not None and t <= now]:
            del self._fields[key]
        for key in [k for k, t in self._once.items() if t <= now]:
            del self._once[key]
