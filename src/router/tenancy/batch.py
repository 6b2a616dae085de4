"""Coalesce store calls: one round trip at a time. What is submitted while the event loop is
busy, or while a round trip is in flight, goes to the store together in the next one. At
concurrency 16 that turns many admissions into one script call (redis-py's cost per call is
paid once for all of them); alone, a request waits for no one (the flush runs on the loop's
next turn). Each submission gets its own answer, in the order it was submitted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(
        self, send: Callable[[Sequence[T]], Awaitable[Sequence[R]]], *, max_batch: int = 256
    ) -> None:
        self._send = send
        self._max = max_batch
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None  # the one sender, while there is work

    def submit(self, item: T) -> asyncio.Future[R]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        try:
            await self._flush_all()
        finally:
            self._flusher = None

    async def _flush_all(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
            try:
                results = await self._send([item for item, _ in batch])
            except asyncio.CancelledError:  # the loop is going away: so are the waiters
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # every waiter learns of it; none is left hanging
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def drain(self) -> None:
        """Wait for everything submitted so far (shutdown: settlements must not be lost)."""
        while self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
