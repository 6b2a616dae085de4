"""The request span: one SERVER span per request, installed only when tracing is on.

It continues the client's trace when the request carries a W3C ``traceparent`` and starts a
new one otherwise; the pipeline names it (``chat {model}``) and fills in the routing, and the
attempts hang below it. Pure ASGI, like the other middleware: the span is current for
everything the request runs, the streamed body included, and ends with the last byte. The
trace id is left in the scope's state for the access log, so a log line leads to its trace.
Probes and scrapes are not traced.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router.api.auth import PUBLIC_PATHS
from router.tracing import Tracing
from router.tracing import names as a

TRACE_ID = "trace_id"  # scope["state"] key


class TracingMiddleware:
    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        parent = self.tracing.propagator.extract(carrier)
        state: dict[str, Any] = scope.setdefault("state", {})
        attributes = {a.HTTP_METHOD: scope["method"], a.HTTP_ROUTE: scope["path"]}
        if "request_id" in state:
            attributes[a.ROUTER_REQUEST_ID] = state["request_id"]
        with self.tracing.tracer.start_as_current_span(
            f"{scope['method']} {scope['path']}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            state[TRACE_ID] = format(span.get_span_context().trace_id, "032x")

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute(a.HTTP_STATUS, status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            await self.app(scope, receive, send_status)
