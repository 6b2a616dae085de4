"""The embedded store: one process's memory, used when ``REDIS_URL`` is unset.

Each worker process has its own, so with several workers an entry cached by one is a miss
in another; Redis is how replicas and workers share. The event loop runs each operation to
completion, so ``set_if_absent`` and ``incr`` are atomic without a lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from router.shapes import Clock
from router.store.base import StoreHealth
from router.store.counters import Ask, Level, Settlement, Verdict
from router.store.memory_counters import MemoryCounters


@dataclass(slots=True)
class _Item:
    value: bytes
    expires_at: float


class MemoryStore:
    """An LRU map with per-key expiry, bounded to ``max_keys`` so it cannot grow without end."""

    def __init__(self, *, max_keys: int = 10_000, clock: Clock = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._items: OrderedDict[str, _Item] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock
        # Apart from the LRU: a limit's counter must never be evicted by cache pressure.
        self._counters = MemoryCounters(clock)

    @property
    def backend(self) -> str:
        return "memory"

    def _live(self, key: str) -> _Item | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item.expires_at <= self._clock():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item

    def _put(self, key: str, value: bytes, ttl_s: float) -> None:
        self._items[key] = _Item(value, self._clock() + ttl_s)
        self._items.move_to_end(key)
        if len(self._items) > self._max_keys:
            self._evict()

    def _evict(self) -> None:
        now = self._clock()
        for key in [k for k, item in self._items.items() if item.expires_at <= now]:
            del self._items[key]
        while len(self._items) > self._max_keys:
            self._items.popitem(last=False)  # least recently used

    async def get(self, key: str) -> bytes | None:
        item = self._live(key)
        return None if item is None else item.value

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self._put(key, value, ttl_s)

    async def set_if_absent(self, key: str, value: bytes, ttl_s: float) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl_s)
        return True

    async def delete(self, key: str, *, if_value: bytes | None = None) -> bool:
        item = self._live(key)
        if item is None or (if_value is not None and item.value != if_value):
            return False
        del self._items[key]
        return True

    async def delete_prefix(self, prefix: str) -> int:
        doomed = [key for key in self._items if key.startswith(prefix)]
        now = self._clock()
        live = sum(1 for key in doomed if self._items[key].expires_at > now)
        for key in doomed:
            del self._items[key]
        return live

    async def incr(self, key: str, ttl_s: float) -> int:
        item = self._live(key)
        if item is None:
            self._put(key, b"1", ttl_s)
            return 1
        value = int(item.value) + 1
        item.value = str(value).encode()
        return value

    async def admit(self, asks: Sequence[Ask]) -> list[Verdict]:
        return self._counters.admit(asks)

    async def settle(self, settlements: Sequence[Settlement]) -> None:
        self._counters.settle(settlements)

    async def exchange(
        self, settlements: Sequence[Settlement], asks: Sequence[Ask]
    ) -> list[Verdict]:
        self._counters.settle(settlements)
        return self._counters.admit(asks)

    async def levels(self, keys: Sequence[str]) -> list[Level]:
        return self._counters.levels(keys)

    async def fields(self, keys: Sequence[str]) -> list[dict[str, int]]:
        return self._counters.fields(keys)

    async def ping(self) -> None:
        return None

    def health(self) -> StoreHealth:
        return StoreHealth(backend="memory", healthy=True)

    async def aclose(self) -> None:
        self._items.clear()
