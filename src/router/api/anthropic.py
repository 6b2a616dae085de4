"""Anthropic Messages in and out: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``,
for the ``anthropic`` SDK and Claude Code (``ANTHROPIC_BASE_URL`` pointed at router).

The request goes through the same pipeline as an OpenAI one, routed by the same policies to any
deployment: a Claude deployment gets the client's body as sent (with its ``anthropic-beta``
values), any other model gets it translated to OpenAI chat, and the answer comes back as an
Anthropic message or Anthropic stream events either way. ``anthropic-version`` and
``anthropic-beta`` are accepted, as is the ``?beta=true`` query Anthropic's SDK adds for beta
calls; keys come as ``x-api-key`` or ``Authorization: Bearer``. Errors have Anthropic's shape
(``api.errors``), also after a stream has started (an ``error`` event).

An OpenAI-side model has no use for some of a request's hints (``thinking``,
``context_management``, ``output_config.effort``): when one answered, ``x-router-omitted``
names the hints it did not get. Claude gets ``thinking`` unless another model answered the last
turn of the tool loop (``translate.thinking``), which the header names too.

``count_tokens`` answers with router's own estimate of the prompt (the one routing uses:
characters / 4, see ``policy.classify``), marked ``x-router-token-count: estimate``; it is not
Anthropic's tokenizer.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from router.api.admission import Slot
from router.api.headers import ESTIMATE_HEADER, router_headers
from router.api.openai import (
    SSEResponse,
    answer,
    hot_route,
    json_response,
    lower_headers,
    principal_of,
)
from router.errors import RouterError
from router.pipeline import Outcome, Pipeline, Route, Streamed
from router.translate.anthropic_to_openai import chat_request
from router.translate.thinking import thinking_must_be_off
from router.wire import ParsedRequest
from router.wire_anthropic import parse_messages_request

routes = APIRouter()


async def messages(request: Request) -> Response:
    state = request.app.state.router
    betas = _betas(request)

    def parse(raw: bytes, max_messages: int) -> ParsedRequest:
        return parse_messages_request(raw, max_messages=max_messages, betas=betas)

    def render(parsed: ParsedRequest, outcome: Outcome, slot: Slot) -> Response:
        headers = _headers(state, parsed, outcome.route)
        if isinstance(outcome, Streamed):
            return AnthropicSSE(outcome, slot, headers)
        return json_response(outcome.body, headers=headers)

    return await answer(request, parse, render)


hot_route(routes, "/v1/messages", messages)


@routes.post("/v1/messages/count_tokens")
async def count_tokens(request: Request) -> Response:
    state = request.app.state.router
    try:
        parsed = parse_messages_request(
            await request.body(),
            max_messages=state.config().server.max_messages,
            betas=_betas(request),
            counting=True,
        )
    except RouterError as exc:
        state.refused(exc)
        raise
    # The model must name something routable, as on /v1/messages (else 404); the decision
    # carries the estimate routing works with.
    pipeline: Pipeline = state.pipeline
    decision = pipeline.decision_for(parsed, principal_of(request), lower_headers(request))
    estimate = decision.prompt_tokens or 0
    return json_response({"input_tokens": estimate}, headers={ESTIMATE_HEADER: "estimate"})


def _betas(request: Request) -> tuple[str, ...]:
    values = request.headers.getlist("anthropic-beta")
    return tuple(b.strip() for value in values for b in value.split(",") if b.strip())


def _headers(state: Any, parsed: ParsedRequest, route: Route) -> dict[str, str]:
    """The ``x-router-*`` headers, and ``x-router-omitted`` naming what the answering model
    did not get of the request."""
    deployment = state.config().catalog.deployments.get(route.deployment)
    if parsed.messages is None or deployment is None:
        return router_headers(route)
    body = parsed.messages.body
    if deployment.speaks_messages:
        omitted: tuple[str, ...] = ("thinking",) if thinking_must_be_off(body) else ()
    else:
        omitted = chat_request(body, reading=True).omitted
    return router_headers(route, omitted=omitted)


class AnthropicSSE(SSEResponse):
    """Anthropic's framing: ``event: <type>`` and ``data: <json>`` per event, no end marker
    (``message_stop`` is the end), and an ``error`` event if the stream fails after starting."""

    end = b""

    def __init__(
        self,
        outcome: Streamed,
        slot: Slot,
        headers: dict[str, str],
    ) -> None:
        super().__init__(outcome, slot)
        extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        known = {k for k, _ in self.raw_headers}
        self.raw_headers += [(k, v) for k, v in extra if k not in known]

    def frame(self, chunk: dict[str, Any]) -> bytes:
        kind = str(chunk.get("type") or "message")
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(chunk) + b"\n\n"

    def error_frame(self, error: RouterError) -> bytes:
        return b"event: error\ndata: " + orjson.dumps(error.anthropic_body()) + b"\n\n"
