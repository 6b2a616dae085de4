"""The one place foreign failures become ``AttemptError``s: HTTP error statuses and bodies,
aiohttp and asyncio exceptions, and litellm's exception classes.

Both adapters use it:

- ``from_status(deployment, status, raw, headers, secret, in_stream=False)``: an error answer
  (or an error event inside a stream);
- ``from_exception(deployment, exc, secret)``: aiohttp/asyncio exceptions;
- ``from_litellm(deployment, exc, secret)``: anything ``litellm.acompletion`` or its stream
  raised (litellm keeps the aiohttp/httpx cause chain, which decides connect vs protocol);
- ``scrub(text, secret)`` and ``retry_after(headers)`` for the pieces.

Messages are short and scrubbed: upstream error text can echo keys back, so anything shaped
like a credential, and the deployment's own key, are masked before a message leaves here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Iterator, Mapping
from typing import Any

import aiohttp
import httpx
import orjson

from router.config.catalog import Deployment
from router.errors import UNTRANSLATABLE, AttemptError

_SECRET_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{6,}|(?i:bearer)\s+[A-Za-z0-9._\-]{6,}|(?i:api[-_]?key)[\"'=:\s]+[A-Za-z0-9._\-]{6,}"
    # A key the provider masked itself still gives its last characters away ("sk-***9876",
    # "sk-proj-****9876"): the hint is the key's, not the client's.
    r"|[A-Za-z0-9_\-]*\*{2,}[A-Za-z0-9_\-]{2,})"
)
_MAX_MESSAGE = 300
# A shorter "key" is no credential worth masking (and masking it would garble the text).
_MIN_SECRET = 8
# litellm prefixes its messages with its class and the provider's exception name, and may
# append the raw upstream body or a traceback: neither belongs in an AttemptError.
_LITELLM_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*)+(?:\w+(?:Exception|Error)\s*-\s*)?")
_LITELLM_TAIL = re.compile(
    r"(?:,?\s*Original Response:|\s*Original exception:|\s*Received chunk:|\.?\s*Handle with `).*"
)
# Exceptions that are bugs or type confusion inside an adapter or litellm: their text is
# Python's ("'int' object has no attribute 'get'") and means nothing to a client.
_PYTHON_ERRORS = (TypeError, AttributeError, KeyError, IndexError, NameError, AssertionError)
log = logging.getLogger("router")
# What a request that left router fails with on the way: anything else inside litellm's
# "connection error" happened before it was sent.
_TRANSPORT_ERRORS = (OSError, TimeoutError, httpx.HTTPError, aiohttp.ClientError)
_CONNECT_ERRORS = (aiohttp.ClientConnectorError, ConnectionRefusedError, socket.gaierror)
_DROP_ERRORS = (
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientPayloadError,
    aiohttp.ClientOSError,
    ConnectionResetError,
)


def scrub(text: str, secret: str | None = None) -> str:
    """Mask credentials in upstream text; also truncate, since bodies can be large."""
    if secret and len(secret) >= _MIN_SECRET:
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
    if isinstance(exc, _CONNECT_ERRORS):
        return AttemptError(name, "connect", None, "could not connect")
    if isinstance(exc, _DROP_ERRORS):
        return AttemptError(name, "protocol", None, "connection dropped")
    return _internal(name, exc, secret)


def _internal(name: str, exc: BaseException, secret: str | None) -> AttemptError:
    """An exception of our own code or a library's: logged here with its text; the client
    reads only that the answer could not be handled."""
    log.warning("attempt on %s failed inside router: %s", name, scrub(repr(exc), secret))
    return AttemptError(name, "protocol", None, "the provider's answer could not be handled")


def _untranslatable(name: str, exc: BaseException, secret: str | None) -> AttemptError:
    """litellm failed on its own, with no transport error in the chain: it could not handle
    the request (``"function": 5`` is an ``AttributeError`` deep inside a translation). The
    request's fault, not the deployment's; the client reads no Python text."""
    log.warning("litellm could not handle a request for %s: %s", name, scrub(repr(exc), secret))
    return AttemptError(name, "invalid", None, UNTRANSLATABLE)


def from_litellm(deployment: Deployment, exc: BaseException, secret: str | None) -> AttemptError:
    """litellm's exceptions -> one failed attempt.

    Order matters: litellm reports a refused connection as a 500 and a read timeout as a 408,
    so the cause chain is consulted before any status; a failure after the stream opened
    (``MidStreamFallbackError``, even when caused by an in-stream error event) is a protocol
    failure, as in the OpenAI-compatible adapter.
    """
    from litellm import exceptions as llx  # already loaded: only litellm raises these

    name = deployment.name
    chain = list(_causes(exc))
    if any(isinstance(e, llx.Timeout | TimeoutError) for e in chain):
        return AttemptError(name, "timeout", None, "timed out")
    if any(isinstance(e, _CONNECT_ERRORS) for e in chain):
        return AttemptError(name, "connect", None, "could not connect")
    if isinstance(exc, llx.MidStreamFallbackError):
        cause = exc.original_exception or exc
        return AttemptError(name, "protocol", None, _litellm_message(cause, secret))
    dropped = any(isinstance(e, _DROP_ERRORS) for e in chain)
    if isinstance(exc, llx.APIConnectionError) or dropped:
        if not any(isinstance(e, _TRANSPORT_ERRORS) for e in chain):
            return _untranslatable(name, chain[-1], secret)
        return AttemptError(name, "protocol", None, _litellm_message(exc, secret))
    status = getattr(exc, "provider_status_code", None) or getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status <= 599:
        headers = getattr(exc, "litellm_response_headers", None)
        if headers is None:
            headers = getattr(getattr(exc, "response", None), "headers", None)
        wait = retry_after(headers) if isinstance(headers, Mapping) else None
        return AttemptError(name, "status", status, _litellm_message(exc, secret), wait)
    if any(isinstance(e, _PYTHON_ERRORS) for e in chain):
        return _internal(name, chain[-1], secret)
    return AttemptError(name, "protocol", None, _litellm_message(exc, secret))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, following ``__cause__``, ``__context__`` and litellm's
    ``original_exception``; bounded, since chains can loop."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        yield current
        original = getattr(current, "original_exception", None)
        current = (
            current.__cause__
            or current.__context__
            or (original if isinstance(original, BaseException) else None)
        )


def _litellm_message(exc: BaseException, secret: str | None) -> str:
    """The provider's own message when litellm quotes its error body, else litellm's text
    without its class-name prefixes."""
    text = str(getattr(exc, "message", None) or exc)
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        quoted = _upstream_message(text[start : end + 1].encode())
        if not quoted.startswith("{"):
            return scrub(quoted, secret)
    lines = text.strip().splitlines() or [""]
    short = _LITELLM_TAIL.sub("", _LITELLM_PREFIX.sub("", lines[0])).strip()
    return scrub(short or type(exc).__name__, secret)
