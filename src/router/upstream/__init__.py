"""The one place router calls providers.

``Upstream`` is the seam: ``complete`` for a whole answer, ``stream`` for OpenAI-shaped chunks.
Three adapters implement it: ``openai_compat`` (OpenAI, Azure OpenAI, Azure AI Foundry, straight
over a pooled aiohttp client: the hot path), ``anthropic`` (Claude, natively over aiohttp) and
``litellm_adapter`` (every other provider litellm speaks). ``Upstreams`` (``select``) picks one
per deployment.

``MessagesUpstream`` adds the Anthropic Messages way in: ``messages`` and ``messages_stream``
take the client's Anthropic request (``MessagesCall``) and answer with an Anthropic message or
Anthropic stream events. ``Upstreams`` implements it for every deployment: Claude gets the
request unchanged, any other model gets it translated to OpenAI chat (``over_chat``).

Every adapter raises ``AttemptFailed`` for any failure of one attempt, with foreign exceptions
translated in ``upstream.failures``; nothing else in router sees aiohttp or litellm errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from router.config.catalog import Deployment
from router.shapes import MessagesCall, Usage

# Trace context for the attempt being made (``traceparent``, ``tracestate``): set around each
# call by ``router.tracing.upstream`` when tracing is on, sent by the adapters; empty otherwise.
TRACE_HEADERS: ContextVar[Mapping[str, str]] = ContextVar(
    "router_trace_headers", default=MappingProxyType({})
)


@dataclass(slots=True)
class Completion:
    """A whole answer: a ``chat.completion`` (OpenAI shape), or from ``messages`` an
    Anthropic ``message``."""

    body: dict[str, Any]
    usage: Usage | None


class ChunkStream(Protocol):
    """OpenAI ``chat.completion.chunk`` objects (from ``messages_stream``: Anthropic stream
    events); ``aclose`` cancels the upstream request."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def aclose(self) -> None: ...


class Upstream(Protocol):
    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        """One attempt; raises ``AttemptFailed``."""
        ...

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChunkStream:
        """Open a stream (status checked, nothing read yet); raises ``AttemptFailed``. Reading
        it may raise ``AttemptFailed`` too (error event, malformed chunk, dropped connection,
        idle timeout)."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class MessagesUpstream(Upstream, Protocol):
    async def messages(self, deployment: Deployment, call: MessagesCall) -> Completion:
        """One attempt at an Anthropic Messages request; the answer is an Anthropic message."""
        ...

    async def messages_stream(self, deployment: Deployment, call: MessagesCall) -> ChunkStream:
        """As ``stream``, yielding Anthropic events (``message_start`` ... ``message_stop``)."""
        ...


# What dispatch sends: an OpenAI chat body, or an Anthropic Messages request.
Payload = dict[str, Any] | MessagesCall


async def answer(upstream: Upstream, deployment: Deployment, payload: Payload) -> Completion:
    """One attempt at a whole answer, in the wire format the client spoke."""
    if isinstance(payload, MessagesCall):
        return await as_messages(upstream).messages(deployment, payload)
    return await upstream.complete(deployment, payload)


async def open_stream(upstream: Upstream, deployment: Deployment, payload: Payload) -> ChunkStream:
    """One streamed attempt, in the wire format the client spoke."""
    if isinstance(payload, MessagesCall):
        return await as_messages(upstream).messages_stream(deployment, payload)
    return await upstream.stream(deployment, payload)


def as_messages(upstream: Upstream) -> MessagesUpstream:
    """``upstream`` as one that takes Anthropic Messages requests (every ``Upstreams`` does)."""
    if not isinstance(upstream, MessagesUpstream):
        raise TypeError(f"{type(upstream).__name__} cannot take Anthropic Messages requests")
    return upstream
