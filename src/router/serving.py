"""The connection guard ``router serve`` runs: limits a connection must keep before router
reads a single request from it.

uvicorn's httptools protocol (what ``router serve`` runs, for speed) accepts headers of any
size, buffering them whole before the app sees anything, and waits forever for a connection
that sends nothing or drips its headers or body. Measured before this guard: one 100 MB header
grew the worker by 116 MB (kept after the 431), and 300 idle connections stayed open for good.
``GuardedHttpToolsProtocol`` is uvicorn's protocol with four bounds added:

- header bytes: at most ``max_header_bytes`` (request line and headers) are read per request;
  beyond that the answer is 431 and the connection closes, before the parser buffers more;
- header time: the request line and headers must be complete ``header_timeout_s`` after the
  connection opens or the request's first byte arrives (408, then close);
- body rate: while a body is being read (and router is not the one pausing it), at least
  ``min_body_bytes_per_s`` must arrive per ``header_timeout_s`` window (408, then close);
- connections: uvicorn's own settings do the rest (``timeout_keep_alive`` closes idle
  keep-alive connections, ``limit_concurrency`` answers 503 beyond ``max_connections``).

``serve_config`` builds the uvicorn ``Config`` with these limits from ``server:`` settings.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from router.config.schema import ServerSpec

log = logging.getLogger("router")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int = 64 * 1024
    header_timeout_s: float = 10.0
    min_body_bytes_per_s: int = 1024

    @classmethod
    def of(cls, server: ServerSpec) -> ConnectionLimits:
        return cls(server.max_header_bytes, server.header_timeout_s, server.min_body_bytes_per_s)


class ServeConfig(uvicorn.Config):
    """uvicorn's ``Config`` plus the limits the guarded protocol reads (it travels to each
    worker process with the rest of the config)."""

    def __init__(self, app: Any, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits


def _status(code: int, reason: str) -> bytes:
    body = reason.encode()
    return (
        f"HTTP/1.1 {code} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


_TOO_LARGE = _status(431, "Request Header Fields Too Large")
_TOO_SLOW = _status(408, "Request Timeout")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, bounded in header bytes, header time and body rate."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._limits: ConnectionLimits = getattr(config, "limits", ConnectionLimits())
        self._in_head = True  # reading a request line and headers (not a body)
        self._head_bytes = 0
        self._body_bytes = 0  # body bytes seen in the current rate window
        self._begun = False  # a request's first byte has come and it is not complete yet
        self._timer: asyncio.TimerHandle | None = None

    # -- connection events ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._head_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._feed(data)
        # Timers are set once the bytes at hand are parsed, not from the parser's callbacks:
        # a request whose head and body came in one read (the common case) needs none.
        if self._timer is None and self._begun and not self.transport.is_closing():
            self._arm(self._head_expired if self._in_head else self._body_window)

    def _feed(self, data: bytes) -> None:
        if not self._in_head:
            self._body_bytes += len(data)
            super().data_received(data)
            return
        room = self._limits.max_header_bytes - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            super().data_received(data)
            return
        # Feed only what fits: if the headers end inside it, the rest is body (or the next
        # request) and goes on; if they do not, the parser never buffers past the limit.
        super().data_received(data[:room])
        if self._in_head:
            self._refuse(_TOO_LARGE, "request headers over %d bytes", self._limits.max_header_bytes)
            return
        if not self.transport.is_closing():
            self._feed(data[room:])

    # -- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True  # unless the head completes in this read, its timer starts now

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._body_bytes = 0
        self._disarm()  # the head's timer, if it had one; the body's window starts now
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._begun = False
        self._in_head = True
        self._head_bytes = 0

    # -- timers ---------------------------------------------------------------------------

    def _arm(self, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(self._limits.header_timeout_s, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_expired(self) -> None:
        self._timer = None
        self._refuse(_TOO_SLOW, "no complete request headers within %gs", self._window)

    def _body_window(self) -> None:
        self._timer = None
        if self.cycle is None or not self.cycle.more_body or self.cycle.response_complete:
            return  # the body is in, or router answered without it
        # A paused read is router's own back-pressure, not a slow client.
        floor = self._limits.min_body_bytes_per_s * self._window
        if self._body_bytes < floor and not self.flow.read_paused:
            self._refuse(_TOO_SLOW, "request body slower than %g bytes/s", floor / self._window)
            return
        self._body_bytes = 0
        self._arm(self._body_window)

    @property
    def _window(self) -> float:
        return self._limits.header_timeout_s

    def _refuse(self, answer: bytes, why: str, value: float) -> None:
        """Answer and close; the app, if it started, sees a disconnect."""
        self._disarm()
        if self.transport.is_closing():
            return
        peer = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        log.warning("closed connection from %s: " + why, peer, value)
        if self._may_answer():
            self.transport.write(answer)
        self.transport.close()

    def _may_answer(self) -> bool:
        """Whether a status line may go out now: not into a response under way. While a
        head is read, ``cycle`` is the previous request's (a keep-alive connection's next
        request gets its 408 once that response is complete)."""
        cycle = self.cycle
        if cycle is None:
            return True
        if self._in_head:
            return bool(cycle.response_complete)
        return not cycle.response_started


def serve_config(app: str, server: ServerSpec, **kwargs: Any) -> ServeConfig:
    """uvicorn settings for ``router serve``, with the guard and the connection limits."""
    return ServeConfig(
        app,
        limits=ConnectionLimits.of(server),
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=server.keep_alive_s,
        limit_concurrency=server.max_connections,
        # httptools ignores it; h11 (if anyone swaps the protocol) honours the same bound.
        h11_max_incomplete_event_size=server.max_header_bytes,
        **kwargs,
    )
