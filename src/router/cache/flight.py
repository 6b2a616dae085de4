"""Single flight: while one request for a key is being answered upstream, identical requests
wait for its answer instead of paying for it again.

Across replicas the producer holds a lease (``set_if_absent`` with a TTL) and waiters poll the
store, backing off, until the entry appears or the lease is gone (then one of them takes it).
Within a process only one request per key talks to the store; the others wait on its future,
which also works while the store is down. Every wait is bounded by ``wait_s``: after it, a
request simply goes upstream itself.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from enum import Enum
from types import TracebackType

from router.cache.entry import CacheEntry, Hit
from router.shapes import Clock
from router.store import Store, StoreError

_POLL_FIRST_S = 0.01
_POLL_MAX_S = 0.25


class _Poll(Enum):
    HIT = "hit"
    GONE = "gone"  # no entry and no lease: nobody is producing
    GAVE_UP = "gave_up"  # deadline passed, or the store failed


@dataclass(slots=True)
class FlightBoard:
    """One per cache: the flights this process is part of, keyed by entry key."""

    store: Store
    _: KW_ONLY
    wait_s: float
    lease_ttl_s: float
    on_store_error: Callable[[StoreError], None]
    clock: Clock = time.monotonic
    local: dict[str, asyncio.Future[CacheEntry | None]] = field(default_factory=dict)

    def publish(self, entry_key: str, entry: CacheEntry) -> None:
        """The producer's answer, handed to local waiters without a store round trip."""
        pending = self.local.get(entry_key)
        if pending is not None and not pending.done():
            pending.set_result(entry)


@dataclass(slots=True, eq=False)
class Flight:
    """After a miss, ``join`` it. Then exactly one of: ``hit`` is set (serve it), ``leader``
    is true (go upstream; storing the answer feeds the waiters), or neither (go upstream
    without coordination: waiting was not allowed, timed out, or the store failed). ``leave``
    when done (after storing, so waiters get the answer); ``async with`` does both."""

    board: FlightBoard
    entry_key: str
    lease_key: str
    _: KW_ONLY
    can_read: bool
    can_write: bool
    to_hit: Callable[[CacheEntry], Hit | None]
    hit: Hit | None = field(default=None, init=False)
    leader: bool = field(default=False, init=False)
    _token: bytes = field(default_factory=lambda: secrets.token_bytes(12), init=False)
    _leased: bool = field(default=False, init=False)
    _left: bool = field(default=False, init=False)
    _mine: asyncio.Future[CacheEntry | None] | None = field(default=None, init=False)

    async def __aenter__(self) -> Flight:
        await self.join()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.leave()

    async def join(self) -> None:
        if not (self.can_read or self.can_write):
            return
        deadline = self.board.clock() + self.board.wait_s
        while (pending := self.board.local.get(self.entry_key)) is not None:
            if not self.can_read or self.board.clock() >= deadline:
                return
            try:
                remaining = deadline - self.board.clock()
                entry = await asyncio.wait_for(asyncio.shield(pending), remaining)
            except TimeoutError:
                return
            if entry is not None:
                self.hit = self.to_hit(entry)
                return
            if self.board.local.get(self.entry_key) is pending:
                del self.board.local[self.entry_key]  # its owner gave up: compete ourselves
        self._mine = asyncio.get_running_loop().create_future()
        self.board.local[self.entry_key] = self._mine
        try:
            await self._represent(deadline)
        except BaseException:
            try:
                if self._leased:
                    await self._release()
            finally:
                self._settle(None)
            raise
        if not self.leader:
            self._settle(self.hit.entry if self.hit else None)

    async def leave(self) -> None:
        """Idempotent; only a leader has anything to release."""
        if not self.leader or self._left:
            return
        self._left = True
        try:
            if self._leased:
                await self._release()
        finally:
            self._settle(None)  # no-op when the answer was published; else waiters move on

    async def _represent(self, deadline: float) -> None:
        """This process's one participant for the key: lead, or wait on another replica."""
        store = self.board.store
        while self.board.clock() < deadline:
            if self.can_write:
                try:
                    won = await store.set_if_absent(
                        self.lease_key, self._token, self.board.lease_ttl_s
                    )
                except StoreError as exc:
                    # No shared coordination: still lead this process's identical requests.
                    self.board.on_store_error(exc)
                    self.leader = True
                    return
                if won:
                    self._leased = True
                    # The answer may have landed between the caller's lookup and our lease.
                    if self.can_read and await self._poll_once() is _Poll.HIT:
                        await self._release()
                        return
                    self.leader = True
                    return
            if not self.can_read:
                return
            outcome = await self._poll(deadline)
            if outcome is not _Poll.GONE or not self.can_write:
                return

    async def _poll(self, deadline: float) -> _Poll:
        delay = _POLL_FIRST_S
        while True:
            outcome = await self._poll_once()
            if outcome is not None:
                return outcome
            remaining = deadline - self.board.clock()
            if remaining <= 0:
                return _Poll.GAVE_UP
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, _POLL_MAX_S)

    async def _poll_once(self) -> _Poll | None:
        """One round trip: the entry, or whether anyone still holds the lease."""
        try:
            raw, lease = await self.board.store.get_many([self.entry_key, self.lease_key])
        except StoreError as exc:
            self.board.on_store_error(exc)
            return _Poll.GAVE_UP
        if raw is not None:
            entry = CacheEntry.decode(raw)
            if entry is not None and (hit := self.to_hit(entry)) is not None:
                self.hit = hit
                return _Poll.HIT
        return _Poll.GONE if lease is None else None

    async def _release(self) -> None:
        self._leased = False
        try:
            await self.board.store.delete(self.lease_key, if_value=self._token)
        except StoreError as exc:
            self.board.on_store_error(exc)  # the lease expires on its own

    def _settle(self, entry: CacheEntry | None) -> None:
        mine = self._mine
        if mine is None:
            return
        if not mine.done():
            mine.set_result(entry)
        if self.board.local.get(self.entry_key) is mine:
            del self.board.local[self.entry_key]
