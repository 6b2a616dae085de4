"""OpenAI wire format in and out: parse the request, call the pipeline, render JSON or SSE.

SSE framing is ``data: {json}\\n\\n`` per chunk and one final ``data: [DONE]\\n\\n``; an error
after the stream has started is sent as a last ``data: {"error": {...}}`` event instead, so a
client sees why the answer stopped rather than a silent truncation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from router.auth import ANONYMOUS, Principal
from router.errors import NotFound, Overloaded, RouterError
from router.pipeline import Pipeline, Reply, StreamReply
from router.wire import parse_chat_request

routes = APIRouter()

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_DONE = b"data: [DONE]\n\n"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _principal(request: Request) -> Principal:
    principal: Principal = request.scope.get("state", {}).get("principal", ANONYMOUS)
    return principal


def _lower_headers(request: Request) -> dict[str, str]:
    # Starlette already lower-cases header names; this makes a plain dict for the pipeline.
    return dict(request.headers.items())


@routes.post("/v1/chat/completions")
@routes.post("/chat/completions", include_in_schema=False)
async def chat_completions(request: Request) -> Response:
    state = request.app.state.router
    raw = await request.body()
    parsed = parse_chat_request(raw, max_messages=state.config().server.max_messages)
    pipeline: Pipeline = state.pipeline
    with state.admission() as admitted:
        if not admitted:
            state.metrics.overload_rejections.inc()
            raise Overloaded(
                "router is at its in-flight request limit; retry shortly",
                headers={"retry-after": "1"},
            )
        reply = await pipeline.handle(parsed, _principal(request), _lower_headers(request))
        if isinstance(reply, Reply):
            return json_response(reply.body, headers=reply.headers)
    # The admission slot of a stream is held by the stream itself until it ends.
    return _sse(reply, state.hold())


def _sse(reply: StreamReply, slot: Any) -> StreamingResponse:
    async def frames() -> AsyncIterator[bytes]:
        with slot:
            try:
                async for chunk in reply.chunks:
                    yield b"data: " + orjson.dumps(chunk) + b"\n\n"
            except RouterError as exc:
                yield b"data: " + orjson.dumps(exc.body()) + b"\n\n"
                return
            yield _DONE

    headers = {**_SSE_HEADERS, **reply.headers}
    return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)


@routes.get("/v1/models")
@routes.get("/models", include_in_schema=False)
async def list_models(request: Request) -> Response:
    state = request.app.state.router
    return json_response({"object": "list", "data": state.model_cards()})


@routes.get("/v1/models/{model_id:path}")
async def get_model(request: Request, model_id: str) -> Response:
    state = request.app.state.router
    for card in state.model_cards():
        if card["id"] == model_id:
            return json_response(card)
    raise NotFound(f"The model '{model_id}' does not exist", param="model", code="model_not_found")


@routes.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: Request) -> Response:
    state = request.app.state.router
    report = await state.readiness()
    return json_response(report, 200 if report["ready"] else 503)


@routes.get("/metrics")
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.router.metrics.render()
    return Response(body, 200, media_type=content_type)
