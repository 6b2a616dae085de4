"""OpenAI wire format in and out: parse the request, call the pipeline, render JSON or SSE.

SSE framing is ``data: {json}\\n\\n`` per chunk and one final ``data: [DONE]\\n\\n``; an error
after the stream has started is sent as a last ``data: {"error": {...}}`` event instead, so a
client sees why the answer stopped rather than a silent truncation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from router.api.access import OUTCOME, PROMPT, PROMPT_CHARS
from router.api.admission import Slot
from router.api.headers import deadline, router_headers
from router.errors import NotFound, RouterError
from router.pipeline import Outcome, Pipeline, Streamed
from router.report import RequestFacts
from router.shapes import ANONYMOUS, CLIENT_CLOSED, Principal
from router.wire import ParsedRequest, check_headers, parse_chat_request

routes = APIRouter()

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_DONE = b"data: [DONE]\n\n"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def principal_of(request: Request) -> Principal:
    principal: Principal = request.scope.get("state", {}).get("principal", ANONYMOUS)
    return principal


def lower_headers(request: Request) -> dict[str, str]:
    # Starlette already lower-cases header names; this makes a plain dict for the pipeline.
    return dict(request.headers.items())


async def chat_completions(request: Request) -> Response:
    return await answer(request, _parse_chat, _render_chat)


# The proxy's routes are plain Starlette routes (``hot_route``); the others are FastAPI's.
def hot_route(
    router: APIRouter, path: str, endpoint: Callable[[Request], Awaitable[Response]]
) -> None:
    """A POST route called with the request as it is: FastAPI's own route machinery
    (dependency solving, its request handler) cost ~40 us per request in a micro-timing, for
    endpoints that take nothing but the request and return a ``Response``. Errors reach the
    app's exception handlers all the same; such a route is not in ``/openapi.json``."""
    router.add_route(path, endpoint, methods=["POST"], include_in_schema=False)


hot_route(routes, "/v1/chat/completions", chat_completions)
hot_route(routes, "/chat/completions", chat_completions)


def _parse_chat(raw: bytes, max_messages: int) -> ParsedRequest:
    return parse_chat_request(raw, max_messages=max_messages)


def _render_chat(parsed: ParsedRequest, outcome: Outcome, slot: Slot) -> Response:
    if isinstance(outcome, Streamed):
        return SSEResponse(outcome, slot)
    return json_response(outcome.body, headers=router_headers(outcome.route))


async def answer(
    request: Request,
    parse: Callable[[bytes, int], ParsedRequest],
    render: Callable[[ParsedRequest, Outcome, Slot], Response],
) -> Response:
    """One request through the pipeline, the same for every wire format: ``parse`` reads the
    body (with the server's message limit), ``render`` writes the outcome in the format's own
    shape. A stream's slot is held by the stream itself until it ends."""
    state = request.app.state.router
    headers = lower_headers(request)
    principal = principal_of(request)
    # Admitted before the body is read: a full worker, or a key over its share, costs nothing
    # more than the headers.
    slot: Slot = state.admit(principal)
    try:
        try:
            check_headers(headers)
            parsed = parse(await request.body(), state.config().server.max_messages)
            deadline_s = deadline(headers)
        except RouterError as exc:
            state.refused(exc)
            raise
        pipeline: Pipeline = state.pipeline
        facts = facts_for(request, parsed)
        outcome = await unless_client_leaves(
            request,
            pipeline.handle(
                parsed,
                principal,
                headers,
                deadline_s=deadline_s,
                facts=facts,
                request_id=request.scope.get("state", {}).get("request_id"),
            ),
        )
    except BaseException:
        slot.release()
        raise
    if not isinstance(outcome, Streamed):
        slot.release()
        if outcome is None:
            return Response(status_code=CLIENT_CLOSED)  # nobody is left to read it
    return render(parsed, outcome, slot)


def facts_for(request: Request, parsed: ParsedRequest) -> RequestFacts:
    """The request's routing facts, left in its scope for the access log to write; with
    ``--log-prompts`` (never by default), the last user message's text too."""
    facts = RequestFacts()
    scope_state: dict[str, Any] = request.scope.setdefault("state", {})
    scope_state[OUTCOME] = facts
    if request.app.state.router.logs.prompts:
        scope_state[PROMPT] = parsed.chat.last_user_text()[:PROMPT_CHARS]
    return facts


async def unless_client_leaves(
    request: Request, work: Coroutine[Any, Any, Outcome]
) -> Outcome | None:
    """Run the pipeline while watching for the client to leave; if it leaves first, cancel the
    pipeline (and with it the upstream request) and return None. Starlette alone would let a
    non-streamed request, or a stream still waiting for its first token, run to the end."""
    job = asyncio.ensure_future(work)
    return job.result() if await _client_stays(job, request.receive) else None


class SSEResponse(Response):
    """Server-sent events without Starlette's StreamingResponse task group: one task pumps
    chunks, one waits for the client to leave and cancels the pump (and so the upstream
    request) at once. Measured: the task group was the largest line of a streaming profile.
    """

    def __init__(self, outcome: Streamed, slot: Slot) -> None:
        # Not Response.__init__: it would add content-length: 0 for an empty initial body.
        self.status_code = 200
        self.background = None
        headers = {
            **_SSE_HEADERS,
            **router_headers(outcome.route),
            "content-type": "text/event-stream",
        }
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self._chunks = outcome.chunks
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self._slot:
            pump = asyncio.ensure_future(self._pump(send))
            try:
                with contextlib.suppress(Exception):  # a failed send: the client is gone
                    await _client_stays(pump, receive)
            finally:
                await self._chunks.aclose()

    async def _pump(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        body = b""
        try:
            async for chunk in self._chunks:
                body = self.frame(chunk)
                await send({"type": "http.response.body", "body": body, "more_body": True})
            body = self.end
        except RouterError as exc:
            body = self.error_frame(exc)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    # The framing: OpenAI's here; the Anthropic route's subclass has its own.
    end = _DONE

    def frame(self, chunk: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def error_frame(self, error: RouterError) -> bytes:
        return b"data: " + orjson.dumps(error.body()) + b"\n\n"


async def _client_stays(task: asyncio.Future[Any], receive: Receive) -> bool:
    """Wait for ``task`` while watching for the client to leave. If it leaves first, the task
    is cancelled (and with it the upstream request) and the answer is False. The task's own
    exception is raised; cancelling the caller cancels the task too. One watcher and a done
    callback: ``asyncio.wait`` and ``gather`` over both cost twice as much per request."""
    watch = asyncio.ensure_future(_disconnected(receive))
    watch.add_done_callback(functools.partial(_left, task))
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # the caller itself is cancelled, not only the task
        return False
    finally:
        watch.cancel()
    return True


def _left(task: asyncio.Future[Any], watch: asyncio.Future[None]) -> None:
    """The watcher ended: unless it was cancelled, the client is gone (a receive that failed
    says so too; its exception is retrieved here, as nobody awaits the watcher)."""
    if not watch.cancelled():
        watch.exception()
        task.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


@routes.get("/v1/models")
@routes.get("/models", include_in_schema=False)
async def list_models(request: Request) -> Response:
    state = request.app.state.router
    return json_response({"object": "list", "data": state.model_cards(principal_of(request))})


@routes.get("/v1/models/{model_id:path}")
async def get_model(request: Request, model_id: str) -> Response:
    state = request.app.state.router
    for card in state.model_cards(principal_of(request)):
        if card["id"] == model_id:
            return json_response(card)
    raise NotFound(f"The model '{model_id}' does not exist", param="model", code="model_not_found")


@routes.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: Request) -> Response:
    state = request.app.state.router
    detailed = state.may_see_details(
        request.headers.get("authorization"), request.headers.get("api-key")
    )
    report = await state.readiness(detailed=detailed)
    return json_response(report, 200 if report["ready"] else 503)


@routes.get("/metrics")
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.router.metrics.render()
    return Response(body, 200, media_type=content_type)
