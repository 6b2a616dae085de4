"""Writing an SSE stream with pacing and injected faults.

A provider renders its whole stream up front as a :class:`StreamScript`
(pre-encoded frames), so the writer only decides *when* each frame goes out
and which fault interrupts it.  With no delays or faults the stream is sent
in a single write, which keeps the benchmark hot path cheap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from aiohttp import web

from router.emulators.behaviour import Behaviour
from router.emulators.records import ReceivedRequest

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
}


def data_frame(payload: object) -> bytes:
    """An unnamed SSE event (OpenAI style)."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def event_frame(event: str, payload: object) -> bytes:
    """A named SSE event (Anthropic style)."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


@dataclass(frozen=True, slots=True)
class StreamScript:
    """Every frame of one streamed answer, in order.

    ``preamble`` goes out with the headers, ``chunks`` are the content chunks
    (the unit that Behaviour's ``*_after_chunks`` fields count), ``epilogue``
    finishes the stream.  ``error`` and ``malformed`` are the frames used by
    the corresponding faults.
    """

    preamble: Sequence[bytes]
    chunks: Sequence[bytes]
    epilogue: Sequence[bytes]
    error: bytes
    malformed: bytes


def _is_plain(b: Behaviour) -> bool:
    return (
        b.ttft_s <= 0
        and b.chunk_interval_s <= 0
        and b.drop_after_chunks is None
        and b.error_event_after_chunks is None
        and b.malformed_after_chunks is None
        and b.stall_after_chunks is None
    )


async def write_stream(
    request: web.Request,
    record: ReceivedRequest,
    behaviour: Behaviour,
    script: StreamScript,
) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers=SSE_HEADERS)
    await response.prepare(request)
    if _is_plain(behaviour):
        await response.write(b"".join([*script.preamble, *script.chunks, *script.epilogue]))
        record.chunks_sent = len(script.chunks)
        await response.write_eof()
        return response

    await response.write(b"".join(script.preamble))
    if behaviour.ttft_s > 0:
        await asyncio.sleep(behaviour.ttft_s)
    total = len(script.chunks)
    # A fault scheduled past the end of a short answer fires just before the
    # epilogue rather than silently never happening.
    drop = _clamp(behaviour.drop_after_chunks, total)
    error = _clamp(behaviour.error_event_after_chunks, total)
    malformed = _clamp(behaviour.malformed_after_chunks, total)
    stall = _clamp(behaviour.stall_after_chunks, total)
    for sent in range(total + 1):
        # Faults are checked *before* chunk number ``sent`` goes out, so
        # "after 0 chunks" means right after the preamble.
        if sent == drop:
            _drop(request)
            return response
        if sent == error:
            await response.write(script.error)
            await response.write_eof()
            return response
        if sent == malformed:
            await response.write(script.malformed)
        if sent == stall and behaviour.stall_s > 0:
            await asyncio.sleep(behaviour.stall_s)
        if sent == total:
            break
        if sent and behaviour.chunk_interval_s > 0:
            await asyncio.sleep(behaviour.chunk_interval_s)
        await response.write(script.chunks[sent])
        record.chunks_sent = sent + 1
    await response.write(b"".join(script.epilogue))
    await response.write_eof()
    return response


def _clamp(after: int | None, total: int) -> int | None:
    return None if after is None else max(0, min(after, total))


def _drop(request: web.Request) -> None:
    """Close the socket mid-body: buffered chunks are flushed, the terminator never is."""
    if request.transport is not None:
        request.transport.close()
