"""Claude's server-sent events, read off an aiohttp response: ``EventStream`` yields each
event's JSON (``message_start`` ... ``message_stop``) for an Anthropic client, and
``ChatChunks`` turns them into OpenAI chunks for an OpenAI client.

The first event must come within the TTFT budget and each later one within the idle budget;
an ``error`` event (e.g. ``overloaded_error`` mid-stream), malformed JSON, or an end before
``message_stop`` fails the attempt with ``AttemptFailed``. Closing drops the connection, so
Anthropic stops generating.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from router.translate.openai_to_anthropic_stream import EventsToChunks
from router.upstream.pool import SSE


class EventStream(SSE):
    """Anthropic stream events as dicts, in order, ending with ``message_stop``; an ``error``
    event is a failure."""

    UNFINISHED = "stream ended before message_stop"
    MALFORMED = "malformed event in stream"

    def is_error(self, item: dict[str, Any]) -> bool:
        return item.get("type") == "error"

    def is_last(self, item: dict[str, Any]) -> bool:
        return item.get("type") == "message_stop"


class ChatChunks:
    """An ``EventStream`` as OpenAI ``chat.completion.chunk`` dicts."""

    def __init__(self, events: EventStream, *, created: int) -> None:
        self._events = events
        self._created = created

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[dict[str, Any]]:
        translate = EventsToChunks(created=self._created)
        async for event in self._events:
            for chunk in translate.feed(event):
                yield chunk

    async def aclose(self) -> None:
        await self._events.aclose()
