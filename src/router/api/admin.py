"""router's own routes: explain a decision without calling any upstream."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from router.auth import ANONYMOUS
from router.policy import explain
from router.wire import parse_chat_request

routes = APIRouter()


@routes.post("/v1/router/explain")
async def explain_route(request: Request) -> Response:
    """The whole decision for a chat request: matched rule, every candidate with its expected
    cost, latency and quality, those excluded and why. No upstream is called."""
    state = request.app.state.router
    parsed = parse_chat_request(
        await request.body(), max_messages=state.config().server.max_messages
    )
    principal = request.scope.get("state", {}).get("principal", ANONYMOUS)
    decision = state.pipeline.decision_for(parsed, principal, dict(request.headers.items()))
    return Response(explain(decision), 200, media_type="application/json")
