"""The store protocol: the few operations router's shared state needs, and their errors.

Both implementations honour one contract (``tests/store/test_store_contract.py``); a caller
never learns which one it holds, except through :meth:`Store.health` for ``/readyz``.

Every operation either answers or raises :class:`StoreError` within the store's timeout: a
store never hangs its caller, and callers treat an error as "no shared state right now".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from router.store.counters import Ask, Level, Settlement, Verdict


class StoreFailure(StrEnum):
    TIMEOUT = "timeout"  # no answer within the store's timeout
    CONNECTION = "connection"  # could not connect, or the connection broke
    CIRCUIT_OPEN = "circuit_open"  # skipped without trying: the store failed moments ago
    ERROR = "error"  # the server answered with an error


class StoreError(Exception):
    """One store operation that did not complete; ``operation`` is a low-cardinality name."""

    def __init__(self, operation: str, failure: StoreFailure, detail: str = "") -> None:
        super().__init__(
            f"store {operation} failed: {failure}" + (f" ({detail})" if detail else "")
        )
        self.operation = operation
        self.failure = failure

    @property
    def skipped(self) -> bool:
        """True when the store was not even tried (its circuit is open)."""
        return self.failure is StoreFailure.CIRCUIT_OPEN


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What ``/readyz`` reports: a degraded store makes router slower, not unready."""

    backend: str  # "memory" or "redis"
    healthy: bool
    detail: str = ""  # last error while degraded; never a URL or password


class Store(Protocol):
    """Byte values under string keys, each with a time to live (seconds, fractions allowed)."""

    @property
    def backend(self) -> str: ...

    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values in the order of ``keys``: one round trip (keys sharing a ``{hash tag}``
        stay on one Redis Cluster node)."""
        ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def set_if_absent(self, key: str, value: bytes, ttl_s: float) -> bool:
        """Set only when ``key`` is absent; True when this call set it (a lease was won)."""
        ...

    async def delete(self, key: str, *, if_value: bytes | None = None) -> bool:
        """Delete ``key``; with ``if_value``, only while it still holds that value (releasing
        a lease that may have expired and been taken by someone else). True if deleted."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix`` (an admin operation, not the hot path);
        returns how many were deleted."""
        ...

    async def incr(self, key: str, ttl_s: float) -> int:
        """Add one and return the new value; the TTL starts when the key is created."""
        ...

    async def admit(self, asks: Sequence[Ask]) -> list[Verdict]:
        """Each ask atomically, in order, in one round trip (see ``counters``)."""
        ...

    async def settle(self, settlements: Sequence[Settlement]) -> None: ...

    async def exchange(
        self, settlements: Sequence[Settlement], asks: Sequence[Ask]
    ) -> list[Verdict]:
        """``settle`` then ``admit``, in one round trip (what the request path sends)."""
        ...

    async def levels(self, keys: Sequence[str]) -> list[Level]:
        """Windowed counters as they stand (nothing taken)."""
        ...

    async def fields(self, keys: Sequence[str]) -> list[dict[str, int]]:
        """Every field of each field counter (empty when absent)."""
        ...

    async def ping(self) -> None: ...

    def health(self) -> StoreHealth: ...

    async def aclose(self) -> None: ...
