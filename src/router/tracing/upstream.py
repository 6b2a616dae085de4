"""One span per upstream attempt, around the upstream seam: ``TracedUpstream`` wraps the app's
``Upstream`` when tracing is on (and only then, so the untraced path does not even pass
through here).

Each call to a provider is a CLIENT span ``chat {upstream model}``, a child of whatever span
is current (the request's, also inside hedge tasks, which copy the context). While the call is
made, its W3C ``traceparent`` sits in ``TRACE_HEADERS`` for the adapter to send, so the
provider's own spans join the client's trace. A stream's span ends when the stream does.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from opentelemetry.trace import Span, SpanKind, Status, StatusCode, use_span

from router.config.catalog import Deployment
from router.errors import AttemptFailed
from router.shapes import MessagesCall, Usage
from router.tracing import names as a
from router.tracing.setup import Tracing
from router.translate.anthropic_events import EventWatch
from router.upstream import TRACE_HEADERS, ChunkStream, Completion, Upstream, as_messages

_T = TypeVar("_T")


class TracedUpstream:
    def __init__(self, inner: Upstream, tracing: Tracing) -> None:
        self._inner = inner
        self._tracing = tracing

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        return await self._answer(deployment, body, lambda: self._inner.complete(deployment, body))

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChunkStream:
        span = self._start(deployment, body, stream=True)
        chunks = await self._within(span, lambda: self._inner.stream(deployment, body))
        return _TracedChunks(chunks, span)

    async def messages(self, deployment: Deployment, call: MessagesCall) -> Completion:
        """An Anthropic Messages attempt: traced as a chat like any other."""
        return await self._answer(
            deployment, call.body, lambda: as_messages(self._inner).messages(deployment, call)
        )

    async def messages_stream(self, deployment: Deployment, call: MessagesCall) -> ChunkStream:
        span = self._start(deployment, call.body, stream=True)
        events = await self._within(
            span, lambda: as_messages(self._inner).messages_stream(deployment, call)
        )
        return _TracedChunks(events, span, EventWatch())

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _start(self, deployment: Deployment, body: dict[str, Any], *, stream: bool) -> Span:
        attributes: dict[str, Any] = {
            a.GEN_AI_OPERATION: a.CHAT,
            a.GEN_AI_SYSTEM: a.provider_value(deployment.provider),
            a.GEN_AI_PROVIDER: a.provider_value(deployment.provider),
            a.GEN_AI_REQUEST_MODEL: deployment.model,
            a.GEN_AI_REQUEST_STREAM: stream,
            a.ROUTER_DEPLOYMENT: deployment.name,
            a.ROUTER_MODEL: deployment.logical_model,
        }
        if deployment.base_url:
            url = urlsplit(deployment.base_url)
            if url.hostname:
                attributes[a.SERVER_ADDRESS] = url.hostname
            if url.port:
                attributes[a.SERVER_PORT] = url.port
        return self._tracing.tracer.start_span(
            f"{a.CHAT} {deployment.model}", kind=SpanKind.CLIENT, attributes=attributes
        )

    async def _answer(
        self,
        deployment: Deployment,
        body: dict[str, Any],
        call: Callable[[], Awaitable[Completion]],
    ) -> Completion:
        """A whole answer: its span ends here, with the answer's facts."""
        span = self._start(deployment, body, stream=False)
        completion = await self._within(span, call)
        _answered(span, completion.body, completion.usage)
        span.end()
        return completion

    async def _within(self, span: Span, call: Callable[[], Awaitable[_T]]) -> _T:
        """Makes the call with the span current; a failure ends the span, marked with it."""
        try:
            with self._current(span):
                return await call()
        except BaseException as exc:
            _failed(span, exc)
            span.end()
            raise

    @contextmanager
    def _current(self, span: Span) -> Iterator[None]:
        """The attempt's span is current and its ``traceparent`` ready for the adapter."""
        with use_span(span, end_on_exit=False):
            carrier: dict[str, str] = {}
            self._tracing.propagator.inject(carrier)
            token = TRACE_HEADERS.set(carrier)
            try:
                yield
            finally:
                TRACE_HEADERS.reset(token)


class _TracedChunks:
    """The attempt's chunks; the span ends with the stream, with its usage and outcome."""

    def __init__(self, inner: ChunkStream, span: Span, events: EventWatch | None = None) -> None:
        self._inner = inner
        self._span = span
        self._events = events  # set for Anthropic stream events, which carry usage their way
        self._ended = False
        self._chunks = self._relay()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks

    async def aclose(self) -> None:
        await self._chunks.aclose()
        await self._inner.aclose()
        self._end(None)

    async def _relay(self) -> AsyncGenerator[dict[str, Any], None]:
        last: dict[str, Any] = {}
        usage: Usage | None = None
        try:
            async for chunk in self._inner:
                if not last:
                    self._span.add_event("first chunk")
                last = chunk
                if self._events is not None:
                    self._events.see(chunk)
                else:
                    usage = Usage.from_openai(chunk.get("usage")) or usage
                yield chunk
        except BaseException as exc:
            self._end(exc)
            raise
        if self._events is not None:
            last, usage = self._events.start, self._events.usage
        _answered(self._span, last, usage)
        self._end(None)

    def _end(self, exc: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        if exc is not None:
            _failed(self._span, exc)
        self._span.end()


def _answered(span: Span, body: dict[str, Any], usage: Usage | None) -> None:
    if model := body.get("model"):
        span.set_attribute(a.GEN_AI_RESPONSE_MODEL, str(model))
    if response_id := body.get("id"):
        span.set_attribute(a.GEN_AI_RESPONSE_ID, str(response_id))
    reasons = [str(c["finish_reason"]) for c in body.get("choices") or () if c.get("finish_reason")]
    if reasons:
        span.set_attribute(a.GEN_AI_RESPONSE_FINISH_REASONS, reasons)
    if usage is not None:
        span.set_attribute(a.GEN_AI_INPUT_TOKENS, usage.prompt_tokens)
        span.set_attribute(a.GEN_AI_OUTPUT_TOKENS, usage.completion_tokens)


def _failed(span: Span, exc: BaseException) -> None:
    if isinstance(exc, AttemptFailed):
        error = exc.error
        span.set_attribute(a.ERROR_TYPE, error.kind)
        if error.status is not None:
            span.set_attribute(a.HTTP_STATUS, error.status)
        span.set_status(Status(StatusCode.ERROR, error.kind))
    else:  # cancelled (a hedge lost, the client left) or an unexpected error
        span.set_attribute(a.ERROR_TYPE, type(exc).__name__)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
