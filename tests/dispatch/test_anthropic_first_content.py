"""A streamed Anthropic answer is handed on at its first content event, as an OpenAI stream is
at its first content chunk: until then a fallback is still possible."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from router.config.catalog import Deployment, Price
from router.config.schema import Timeouts
from router.dispatch.stream import open_attempt
from router.shapes import MessagesCall
from router.upstream import ChunkStream, Completion

CLAUDE = Deployment(
    "c", "m", "anthropic", "claude", None, None, None, Price(1e-6, 2e-6, "t"), Timeouts()
)
START = {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 3}}}
PING = {"type": "ping"}


def _block(kind: str) -> dict[str, Any]:
    return {"type": "content_block_start", "index": 0, "content_block": {"type": kind}}


DELTA = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}


class Events:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._run()

    async def _run(self) -> AsyncIterator[dict[str, Any]]:
        for event in self.events:
            yield event

    async def aclose(self) -> None:
        return None


class Claude:
    """Only the Messages way in is used here."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        raise NotImplementedError

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChunkStream:
        raise NotImplementedError

    async def messages(self, deployment: Deployment, call: MessagesCall) -> Completion:
        raise NotImplementedError

    async def messages_stream(self, deployment: Deployment, call: MessagesCall) -> ChunkStream:
        return Events(self.events)

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize(
    ("events", "first"),
    [
        ([START, _block("text"), PING, DELTA, DELTA], 4),  # a text block waits for its text
        ([START, _block("tool_use"), PING, DELTA], 2),  # a tool call's name is content
        ([START, _block("thinking"), PING, PING], 2),  # thinking started: output is flowing
        ([START, PING, {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}], 3),
    ],
    ids=["text", "tool_use", "thinking", "empty"],
)
async def test_read_ahead_to_the_first_content_event(
    events: list[dict[str, Any]], first: int
) -> None:
    call = MessagesCall({"model": "m", "max_tokens": 5, "messages": [], "stream": True})
    opened = await open_attempt(Claude(events), CLAUDE, call)

    assert opened.first == events[:first]
