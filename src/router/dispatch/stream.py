"""A streamed answer, as dispatch hands it on: ``AnswerStream`` yields from the first chunk
(already read, so nothing reached the client while a fallback was possible) and reports its
attempt to the observer itself when it ends, however it ends.

After the first chunk a failure ends the stream: reading raises ``StreamInterrupted`` (the API
sends it as the last SSE event); a stream closed before its end (the client left) is a
cancelled attempt, which says nothing about the deployment's health.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from router.config.catalog import Deployment
from router.dispatch.attempts import AttemptOutcome
from router.dispatch.hedge import HedgeOutcome
from router.errors import AttemptError, AttemptFailed, StreamInterrupted
from router.shapes import Clock
from router.upstream import ChunkStream, Payload, Upstream, open_stream


@dataclass(slots=True)
class Opened:
    """A stream that has produced its first content chunk (or ended cleanly without one)."""

    source: ChunkStream
    rest: AsyncIterator[dict[str, Any]]
    first: list[dict[str, Any]]


async def open_attempt(upstream: Upstream, deployment: Deployment, body: Payload) -> Opened:
    """One streamed attempt, read ahead to its first content chunk. The adapters bound connect
    and the response headers; this bounds the whole way to the first *content* chunk (a
    role-only opening chunk does not count): ``connect_s + ttft_s``."""
    limit = deployment.timeouts.connect_s + deployment.timeouts.ttft_s
    source: ChunkStream | None = None
    try:
        async with asyncio.timeout(limit):
            source = await open_stream(upstream, deployment, body)
            rest = aiter(source)
            first = await _read_to_content(rest)
    except BaseException as exc:
        if source is not None:
            await source.aclose()
        if isinstance(exc, TimeoutError):
            message = f"no first token within {limit:g}s"
            error = AttemptError(deployment.name, "timeout", None, message)
            raise AttemptFailed(error) from exc
        raise
    return Opened(source, rest, first)


class AnswerStream:
    """The chunks of one deployment's answer, from the first; ``aclose`` ends the upstream
    request. The attempt is reported once, when the stream ends or is closed."""

    def __init__(
        self,
        deployment: Deployment,
        opened: Opened,
        *,
        failures: list[AttemptError],
        upstream_s: float,
        ttft_s: float,
        hedge: HedgeOutcome | None,
        clock: Clock,
        started: float,
        report: Callable[[AttemptOutcome], None],
    ) -> None:
        self.deployment = deployment
        self.failures = failures  # attempts that failed before this one answered
        self.upstream_s = upstream_s  # time waiting on upstreams until the first content chunk
        self.ttft_s = ttft_s
        self.hedge = hedge
        self._opened = opened
        self._clock = clock
        self._started = started  # when the winning attempt began
        self._report = report
        self._reported = False
        self._chunks = self._relay()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks

    async def aclose(self) -> None:
        await self._chunks.aclose()
        if not self._reported:  # closed before anyone read it
            await self._opened.source.aclose()
            self._finish(ok=False, error=None)

    async def _relay(self) -> AsyncGenerator[dict[str, Any], None]:
        ok, error = False, None  # until the end is reached: the reader left (cancelled)
        try:
            for chunk in self._opened.first:
                yield chunk
            async for chunk in self._opened.rest:
                yield chunk
            ok = True
        except AttemptFailed as exc:
            error = exc.error
            raise StreamInterrupted(exc.error) from exc
        finally:
            await self._opened.source.aclose()
            self._finish(ok=ok, error=error)

    def _finish(self, *, ok: bool, error: AttemptError | None) -> None:
        self._reported = True
        self._report(
            AttemptOutcome(
                self.deployment,
                ok,
                True,
                self._clock() - self._started,
                self.ttft_s,
                error,
                cancelled=not ok and error is None,
                interrupted=error is not None,
            )
        )


# Anthropic events that tell the client something: a delta (text, tool input, thinking), or
# the end of the message.
_ANTHROPIC_CONTENT = frozenset({"content_block_delta", "message_delta", "message_stop"})
# Blocks whose start is already output: a tool call's name, and thinking (the model's first
# output tokens; with thinking's display omitted no delta comes until the thought is done, which
# can take minutes, so waiting for one would time out a healthy answer).
_ANTHROPIC_BLOCKS = frozenset({"tool_use", "thinking", "redacted_thinking"})


async def _read_to_content(chunks: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """Read chunks until one carries content (text, tool call or finish); the role-only
    opening chunk does not count, since the client has learned nothing from it."""
    seen: list[dict[str, Any]] = []
    async for chunk in chunks:
        seen.append(chunk)
        if _has_content(chunk):
            return seen
    return seen  # stream ended cleanly without content (e.g. only usage): still a success


def _has_content(chunk: dict[str, Any]) -> bool:
    kind = chunk.get("type")
    if kind is not None:  # an Anthropic stream event (OpenAI chunks have no "type")
        return kind in _ANTHROPIC_CONTENT or (
            kind == "content_block_start"
            and (chunk.get("content_block") or {}).get("type") in _ANTHROPIC_BLOCKS
        )
    for choice in chunk.get("choices") or ():
        if choice.get("finish_reason"):
            return True
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls") or delta.get("refusal"):
            return True
    return False
