"""The access log: one structured line per request, written when its last byte has gone.

Pure ASGI, installed only when the access log is on (so off costs nothing). It knows what
every request has (request id, method, path, status, the caller's key name and team, latency);
what routing did (policy, rule, model, deployment, attempts, cache, tokens, cost, time to first
token) comes from the outcome the route leaves in the scope's state (``OUTCOME``). Probes and
scrapes (``/healthz``, ``/readyz``, ``/metrics``) are not logged: they would drown the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from router.api.auth import PUBLIC_PATHS
from router.api.middleware import STATUS, watch_status
from router.logs import as_extra
from router.shapes import CLIENT_CLOSED, Principal

OUTCOME = "outcome"  # scope["state"] key: what the route knows about the request's routing
PROMPT = "prompt"  # scope["state"] key: the last user turn's text, set only when prompts log
PROMPT_CHARS = 2000  # of the last user message, at most, when prompts are logged

_log = logging.getLogger("router.access")


class LoggedOutcome(Protocol):
    def log_fields(self) -> Mapping[str, object]:
        """The routing facts of one request, as access-log fields."""
        ...


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        send = watch_status(scope, send)  # the status, as the response started
        failed = False
        try:
            await self.app(scope, receive, send)
        except BaseException:
            failed = True
            raise
        finally:
            status = int(scope["state"][STATUS])
            _write(scope, status or (500 if failed else 0), time.perf_counter() - started)


def _write(scope: Scope, status: int, latency_s: float) -> None:
    status = status or CLIENT_CLOSED  # no response started: the client left first
    level = logging.WARNING if status >= 500 else logging.INFO
    if not _log.isEnabledFor(level):
        return
    state: dict[str, Any] = scope.get("state", {})
    principal = state.get("principal")
    fields: dict[str, object] = {
        "event": "request",
        "request_id": state.get("request_id"),
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "key": principal.name if isinstance(principal, Principal) else None,
        "team": principal.team if isinstance(principal, Principal) else None,
        "latency_s": round(latency_s, 6),
    }
    outcome = state.get(OUTCOME)
    if outcome is not None:
        fields.update(outcome.log_fields())
    if "trace_id" in state:  # tracing is on: the line leads to its trace
        fields["trace_id"] = state["trace_id"]
    if PROMPT in state:
        fields["prompt"] = state[PROMPT]
    # makeRecord + handle, as Logger.log would, minus its walk up the stack for the caller's
    # file and line: a line per request should cost microseconds, and the caller is known.
    record = _log.makeRecord(
        _log.name,
        level,
        __file__,
        0,
        "%s %s %d",
        (scope["method"], scope["path"], status),
        None,
        extra=as_extra(fields),
    )
    _log.handle(record)
