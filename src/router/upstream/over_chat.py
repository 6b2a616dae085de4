"""An Anthropic Messages request answered by an OpenAI-side deployment (MAI-Code-1-Flash,
GPT-4o, anything litellm speaks): translated to OpenAI chat for this attempt
(``translate.anthropic_to_openai``), sent through that deployment's own adapter, and the
answer translated back to an Anthropic message or Anthropic stream events.

A request the model cannot honour is refused with ``InvalidRequest`` naming the field, before
anything is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from router.config.catalog import Deployment
from router.errors import AttemptError, AttemptFailed
from router.shapes import MessagesCall
from router.translate import anthropic_to_openai as to_openai
from router.translate.anthropic_to_openai_stream import ChunksToEvents
from router.upstream import ChunkStream, Completion, Upstream


def chat_body(deployment: Deployment, call: MessagesCall, *, stream: bool) -> dict[str, Any]:
    translated = to_openai.chat_request(call.body, max_tokens_limit=deployment.max_output_tokens)
    body = translated.body
    body.pop("stream", None)
    if stream:
        body["stream"] = True
    return body


async def messages(upstream: Upstream, deployment: Deployment, call: MessagesCall) -> Completion:
    done = await upstream.complete(deployment, chat_body(deployment, call, stream=False))
    try:
        message = to_openai.message(done.body)
    except ValueError as exc:
        raise AttemptFailed(AttemptError(deployment.name, "protocol", None, str(exc))) from exc
    return Completion(message, done.usage)


async def messages_stream(
    upstream: Upstream, deployment: Deployment, call: MessagesCall
) -> EventsFromChunks:
    chunks = await upstream.stream(deployment, chat_body(deployment, call, stream=True))
    return EventsFromChunks(chunks)


class EventsFromChunks:
    """An OpenAI chunk stream as Anthropic stream events (closing events once it ends)."""

    def __init__(self, chunks: ChunkStream) -> None:
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events()

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        translate = ChunksToEvents()
        async for chunk in self._chunks:
            for event in translate.feed(chunk):
                yield event
        for event in translate.finish():
            yield event

    async def aclose(self) -> None:
        await self._chunks.aclose()
