"""Cross-cutting concerns as small pure-ASGI classes, one each, composed as a list in ``app``.

Pure ASGI rather than ``BaseHTTPMiddleware``: that one costs a task and a queue per request,
which is a measurable share of router's budget of well under a millisecond. For the same
reason the layers that need the response's status (errors, the access log) read it from the
scope (``STATUS``), recorded by the one ``send`` wrapper of the outermost layer, instead of
each wrapping ``send`` again: every message of a stream would pass through each wrapper.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from itertools import chain
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router.api.auth import PUBLIC_PATHS, Authenticator
from router.api.errors import error_body
from router.errors import HeadersTooLarge, PayloadTooLarge, RouterError
from router.shapes import CLIENT_CLOSED
from router.wire import header_int

log = logging.getLogger("router")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# All header names and values together; browsers and proxies stop near 8-16 KiB per header.
MAX_HEADER_BYTES = 64 * 1024


Refusal = Callable[[RouterError], None]  # counts a request refused before routing
STATUS = "response_status"  # scope["state"] key: the response's status once started, else 0


def watch_status(scope: Scope, send: Send) -> Send:
    """``send``, such that ``scope["state"][STATUS]`` holds the response's status once it has
    started. When an outer layer already records it, ``send`` as it is."""
    state: dict[str, Any] = scope.setdefault("state", {})
    if STATUS in state:
        return send
    state[STATUS] = 0

    async def watched(message: Message) -> None:
        if message["type"] == "http.response.start":
            state[STATUS] = message["status"]
        await send(message)

    return watched


async def send_error(send: Send, error: RouterError, scope: Scope) -> None:
    """Answer with an error in the route's shape, from code that runs outside the routes."""
    headers = [(b"content-type", b"application/json")]
    headers += [(k.encode(), v.encode()) for k, v in error.headers.items()]
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    body = orjson.dumps(error_body(error, scope["path"]))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestIdMiddleware:
    """Every response carries ``x-request-id``: the client's if it sent a sane one. Outermost,
    its ``send`` wrapper also records the response's status for the layers inside (``STATUS``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, b"x-request-id")
        rid = given if given and _REQUEST_ID.match(given) else secrets.token_hex(12)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        state[STATUS] = 0
        raw = rid.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state[STATUS] = message["status"]
                headers = list(message.get("headers", []))
                if not any(k == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", raw))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


class ErrorMiddleware:
    """The last word on anything the routes did not answer, logged exactly once: a bug is one
    traceback and a 500 that names the request id; a client that left before its body was
    complete is counted (499) and is the access log's one line. Nothing propagates to the
    server, which would log it again."""

    def __init__(self, app: ASGIApp, refused: Refusal) -> None:
        self.app = app
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = watch_status(scope, send)
        state = scope["state"]
        rid = state.get("request_id")
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            # Not a fault of router's: the access log's 499 line is the record of it.
            log.debug("client left before its request body was complete (request %s)", rid)
            self.refused(_ClientLeft("client closed the request"))
        except Exception:
            log.exception("unhandled error (request %s)", rid)
            if not state[STATUS]:
                error = RouterError(
                    f"internal error in router (request id {rid}); it has been logged"
                )
                await send_error(send, error, scope)


class _ClientLeft(RouterError, status=CLIENT_CLOSED, code="client_closed"):
    pass


class BodyLimitMiddleware:
    """Refuse bodies over the limit: early from Content-Length, else while reading. Headers
    are bounded here too, for servers other than ``router serve`` (whose connection guard,
    ``router.serving``, already stops reading at the same limit)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: Callable[[], int],
        refused: Refusal,
        header_limit: Callable[[], int] = lambda: MAX_HEADER_BYTES,
    ) -> None:
        self.app = app
        self.limit = limit
        self.refused = refused
        self.header_limit = header_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_limit = self.header_limit()
        if sum(map(len, chain.from_iterable(scope["headers"]))) > header_limit:
            error: RouterError = HeadersTooLarge(
                f"request headers are larger than the limit of {header_limit} bytes"
            )
            self.refused(error)
            await send_error(send, error, scope)
            return
        if scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        declared = header(scope, b"content-length")
        length = header_int(declared) if declared is not None else None
        if length is not None and length > limit:
            error = _too_large(limit)
            self.refused(error)
            await send_error(send, error, scope)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, limited_receive, send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")


class AuthMiddleware:
    """Resolve the caller once; every path not in ``PUBLIC_PATHS`` needs a valid key."""

    def __init__(
        self, app: ASGIApp, authenticator: Callable[[], Authenticator], refused: Refusal
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        try:
            # Bearer (OpenAI SDKs), api-key (Azure's), x-api-key (Anthropic's SDK, Claude Code).
            key = header(scope, b"api-key") or header(scope, b"x-api-key")
            state["principal"] = self.authenticator().authenticate(
                header(scope, b"authorization"), key
            )
        except RouterError as exc:
            self.refused(exc)
            await send_error(send, exc, scope)
            return
        await self.app(scope, receive, send)
