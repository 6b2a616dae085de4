"""Claude's server-sent events, read off an aiohttp response: ``EventStream`` yields each
event's JSON (``message_start`` ... ``message_stop``) for an Anthropic client, and
``ChatChunks`` turns them into OpenAI chunks for an OpenAI client.

The first event must come within the TTFT budget and each later one within the idle budget;
an ``error`` event (e.g. ``overloaded_error`` mid-stream), malformed JSON, or an end before
``message_stop`` fails the attempt with ``AttemptFailed``. Closing drops the connection, so
Anthropic stops generating.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from router.config.catalog import Deployment
from router.errors import AttemptError, AttemptFailed
from router.translate.openai_to_anthropic_stream import EventsToChunks
from router.upstream.failures import from_exception, from_status


class EventStream:
    """Anthropic stream events as dicts, in order, ending with ``message_stop``."""

    def __init__(
        self, deployment: Deployment, resp: aiohttp.ClientResponse, secret: str | None
    ) -> None:
        self._deployment = deployment
        self._resp = resp
        self._secret = secret

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events()

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        d = self._deployment
        content = self._resp.content
        wait = d.timeouts.ttft_s
        pending = b""
        try:
            while True:
                # One timed read per network segment (several events each), as in openai_compat.
                async with asyncio.timeout(wait):
                    data = await content.readany()
                if not data:
                    raise AttemptFailed(
                        AttemptError(d.name, "protocol", None, "stream ended before message_stop")
                    )
                lines = (pending + data).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue  # event: lines name the type the data repeats; blank lines
                    event = self._decode(line[5:].strip())
                    yield event
                    if event.get("type") == "message_stop":
                        return
                    wait = d.timeouts.idle_s
        except AttemptFailed:
            raise
        except Exception as exc:
            raise AttemptFailed(from_exception(d, exc, self._secret)) from exc
        finally:
            self._resp.close()

    def _decode(self, data: bytes) -> dict[str, Any]:
        name = self._deployment.name
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise AttemptFailed(
                AttemptError(name, "protocol", None, "malformed event in stream")
            ) from exc
        if not isinstance(event, dict):
            raise AttemptFailed(AttemptError(name, "protocol", None, "malformed event in stream"))
        if event.get("type") == "error":
            raise AttemptFailed(
                from_status(self._deployment, None, data, None, self._secret, in_stream=True)
            )
        return event

    async def aclose(self) -> None:
        self._resp.close()


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
