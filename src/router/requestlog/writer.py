"""The bounded queue between requests and the sink, drained by one background task.

``submit`` is a ``put_nowait``: it never waits and never raises. When the queue is full (the
sink is slow or down) the record is dropped and counted; a batch the sink refuses is
dropped and counted too, with one warning a minute at most. A request is never slowed or
failed by its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from router.metrics import Metrics
from router.requestlog.record import RequestRecord, encode
from router.requestlog.sinks import Sink

log = logging.getLogger("router")

BATCH = 256  # records per sink call: one file append or one Redis round trip
_WARN_EVERY_S = 60.0


class RequestLog(Protocol):
    @property
    def enabled(self) -> bool:
        """False: callers can skip building records at all."""
        ...

    def submit(self, record: RequestRecord) -> None: ...

    def start(self) -> None:
        """Start writing (inside the running event loop)."""
        ...

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (for at most ``timeout_s``), then close the sink."""
        ...


class NoRequestLog:
    """The default: no ``request_log`` section, nothing recorded."""

    @property
    def enabled(self) -> bool:
        return False

    def submit(self, record: RequestRecord) -> None:
        return None

    def start(self) -> None:
        return None

    async def aclose(self, timeout_s: float = 5.0) -> None:
        return None


NO_REQUEST_LOG = NoRequestLog()


class QueuedLog:
    def __init__(
        self, sink: Sink, metrics: Metrics, queue_size: int, *, batch: int = BATCH
    ) -> None:
        self._sink = sink
        self._metrics = metrics
        self._queue: asyncio.Queue[RequestRecord] = asyncio.Queue(queue_size)
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._warned_at = -_WARN_EVERY_S

    @property
    def enabled(self) -> bool:
        return True

    @property
    def sink(self) -> Sink:
        return self._sink

    def submit(self, record: RequestRecord) -> None:
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self._dropped("queue_full")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self, timeout_s: float = 5.0) -> None:
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        left = self._queue.qsize()
        if left:
            self._dropped("shutdown", left)
        with contextlib.suppress(Exception):
            await self._sink.aclose()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[RequestRecord]) -> None:
        lines = []
        for record in batch:
            try:
                lines.append(encode(record))
            except Exception:  # a bug, not an outage: still never the request's problem
                self._dropped("encode_error")
                self._warn("a request record could not be encoded", exc_info=True)
        if not lines:
            return
        try:
            await self._sink.write(lines)
        except Exception as exc:
            self._dropped("sink_error", len(lines))
            self._warn(f"request log: {self._sink.name} sink failed: {exc!r}")
        else:
            self._metrics.record_log_written(self._sink.name, len(lines))

    def _dropped(self, reason: str, count: int = 1) -> None:
        self._metrics.record_log_dropped(reason, count)

    def _warn(self, message: str, *, exc_info: bool = False) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning("%s (records dropped; counted in router_request_log_dropped_total)",
                        message, exc_info=exc_info)  # fmt: skip
