"""The one place foreign failures become ``AttemptError``s: HTTP error statuses and bodies,
aiohttp and asyncio exceptions (and litellm's, in its adapter's terms).

Messages are short and scrubbed: upstream error text can echo keys back, so anything shaped
like a credential, and the deployment's own key, are masked before a message leaves here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from router.catalog import Deployment
from router.errors import AttemptError

_SECRET_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{6,}|(?i:bearer)\s+[A-Za-z0-9._\-]{6,}|(?i:api[-_]?key)[\"'=:\s]+[A-Za-z0-9._\-]{6,})"
)
_MAX_MESSAGE = 300


def scrub(text: str, secret: str | None = None) -> str:
    """Mask credentials in upstream text; also truncate, since bodies can be large."""
    if secret:
        text = text.replace(secret, "***")
    text = _SECRET_SHAPES.sub("***", text)
    return text[:_MAX_MESSAGE]


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """``Retry-After`` (seconds form) or ``retry-after-ms``; HTTP dates are not worth parsing
    for a retry budget of seconds."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            return None
    return None


def _upstream_message(raw: bytes) -> str:
    """The provider's own message from an OpenAI, Azure or Anthropic error body."""
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace").strip() or "no error body"
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or err)
        return str(err)
    return str(body)


def from_status(
    deployment: Deployment,
    status: int | None,
    raw: bytes,
    headers: Mapping[str, str] | None,
    secret: str | None,
    *,
    in_stream: bool = False,
) -> AttemptError:
    """An error answer (or an error event inside a stream) -> one failed attempt."""
    message = scrub(_upstream_message(raw), secret)
    if in_stream:
        return AttemptError(deployment.name, "protocol", status, f"error event: {message}")
    return AttemptError(deployment.name, "status", status, message, retry_after(headers))


def from_exception(deployment: Deployment, exc: BaseException, secret: str | None) -> AttemptError:
    """aiohttp/asyncio exceptions -> connect, timeout or protocol failures."""
    name = deployment.name
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return AttemptError(name, "timeout", None, "timed out")
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return AttemptError(name, "connect", None, "could not connect")
    if isinstance(
        exc,
        aiohttp.ServerDisconnectedError
        | aiohttp.ClientPayloadError
        | aiohttp.ClientOSError
        | ConnectionResetError,
    ):
        return AttemptError(name, "protocol", None, "connection dropped")
    return AttemptError(name, "protocol", None, scrub(f"{type(exc).__name__}: {exc}", secret))
