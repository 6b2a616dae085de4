"""One event, one log entry: an unexpected error is one traceback (not one from router and
one from the server), and a client that leaves mid-body is one line, no traceback."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from router.config.catalog import Deployment
from router.shapes import Usage
from router.upstream import ChunkStream, Completion
from support.reliability import HELLO, Metrics, eventually, post
from support.stack import RouterFactory, RunningRouter

LOGGERS = ("router", "uvicorn.error", "uvicorn", "")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def logged() -> Iterator[list[logging.LogRecord]]:
    """Records from every logger a server could report through. Enter it after the server
    started: uvicorn's logging set-up replaces the handlers of its loggers."""
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    ours = logging.getLogger("router")
    level = ours.level
    ours.setLevel(logging.INFO)  # what router serve configures
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        ours.setLevel(level)
        for logger in loggers:
            logger.removeHandler(handler)


class _Garbled:
    """An upstream whose answer is not a completion: router's own code then fails (a bug)."""

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        return Completion(None, Usage(1, 1))  # type: ignore[arg-type]

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChunkStream:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def _unique(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    # A record propagating to a parent we also listen on reaches the handler twice.
    seen: dict[int, logging.LogRecord] = {}
    for record in records:
        seen[id(record)] = record
    return [r for r in seen.values() if r.levelno >= logging.INFO and "router.serve" not in r.name]


def test_an_unexpected_error_is_one_500_logged_once(
    start_router: RouterFactory, config_dir: Path
) -> None:
    running = start_router(config_dir, upstream=_Garbled())
    with logged() as records:
        r = post(running, HELLO)
        time.sleep(0.2)
    assert r.status_code == 500
    rid = r.headers["x-request-id"]
    assert rid in r.json()["error"]["message"]
    assert "kaboom" not in r.text  # the client reads no exception text
    tracebacks = [rec for rec in _unique(records) if rec.exc_info]
    assert len(tracebacks) == 1, [rec.getMessage() for rec in tracebacks]
    assert rid in tracebacks[0].getMessage()


def test_a_client_leaving_mid_body_is_one_line(router: RunningRouter) -> None:
    with logged() as seen:
        with socket.create_connection(("127.0.0.1", router.port), timeout=5) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nhost: r\r\n"
                b'content-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model"'
            )
            time.sleep(0.2)
        assert eventually(lambda: any("499" in r.getMessage() for r in _unique(seen)), 3)
        time.sleep(0.2)
        records = _unique(seen)
    assert len(records) == 1, [r.getMessage() for r in records]  # the access log's line
    assert records[0].exc_info is None
    assert Metrics(router).value("router_request_errors_total", error_type="client_closed") == 1
