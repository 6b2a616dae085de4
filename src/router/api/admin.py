"""router's own routes: explain a decision without calling any upstream; purge the cache."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from router.errors import InvalidRequest, PermissionDenied, UpstreamFailed
from router.policy.decision import explain
from router.shapes import ANONYMOUS
from router.store import StoreError
from router.wire import check_headers, parse_chat_request

routes = APIRouter()


@routes.post("/v1/router/explain")
async def explain_route(request: Request) -> Response:
    """The whole decision for a chat request: matched rule, every candidate with its expected
    cost, latency and quality, those excluded and why. No upstream is called."""
    state = request.app.state.router
    headers = dict(request.headers.items())
    check_headers(headers)
    parsed = parse_chat_request(
        await request.body(), max_messages=state.config().server.max_messages
    )
    principal = request.scope.get("state", {}).get("principal", ANONYMOUS)
    decision = state.pipeline.decision_for(parsed, principal, headers)
    return Response(explain(decision), 200, media_type="application/json")


@routes.post("/v1/router/cache/purge")
async def purge_route(request: Request) -> Response:
    """Delete cached answers: one tenant's (``{"namespace": "team:x"}``) or all. Needs the
    master key whenever client keys are configured."""
    state = request.app.state.router
    principal = request.scope.get("state", {}).get("principal", ANONYMOUS)
    if state.authenticator.enabled and not principal.is_master:
        raise PermissionDenied("purging the cache needs the master key")
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc
    namespace = body.get("namespace") if isinstance(body, dict) else None
    if namespace is not None and not isinstance(namespace, str):
        raise InvalidRequest("'namespace' must be a string", param="namespace")
    try:
        deleted = await state.cache.purge(namespace)
    except StoreError as exc:
        raise UpstreamFailed(
            f"the cache store failed: {exc.operation}", code="store_error"
        ) from exc
    return Response(
        orjson.dumps({"deleted": deleted, "namespace": namespace}),
        200,
        media_type="application/json",
    )
