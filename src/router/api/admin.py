"""router's own routes: explain a decision without calling any upstream; purge the cache;
spend by day, team, key and model."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, model_validator
from starlette.responses import Response

from router.errors import InvalidRequest, PermissionDenied, UpstreamFailed
from router.policy.decision import explain
from router.shapes import ANONYMOUS
from router.store import StoreError
from router.tenancy import spend
from router.wire import check_headers, parse_chat_request

routes = APIRouter()
# A cache tenant as ``Principal.namespace`` spells it: no glob or separator characters.
NAMESPACE_PATTERN = r"^(team|key):[A-Za-z0-9._@:-]{1,256}$"


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
    config = state.config()
    await state.gate.prepare(config, principal)
    decision = state.pipeline.decision_for(parsed, principal, headers)
    # Deployments at their quota, as admission would find them now (nothing is taken).
    decision = await state.gate.explain(decision, parsed, principal, config)
    return Response(explain(decision), 200, media_type="application/json")


class PurgeRequest(BaseModel):
    """What to purge: one tenant (``{"namespace": "team:x"}`` or ``"key:name"``, the shapes
    router's cache uses) or, explicitly, everything (``{"all": true}``). Anything else is a
    400: a misspelt field must never widen a purge to every tenant."""

    model_config = ConfigDict(extra="forbid")

    namespace: str | None = Field(None, pattern=NAMESPACE_PATTERN)
    all: StrictBool = False

    @model_validator(mode="after")
    def _one_target(self) -> PurgeRequest:
        if (self.namespace is None) == (not self.all):
            raise ValueError('name one namespace, or purge everything with {"all": true}')
        return self


@routes.post("/v1/router/cache/purge")
async def purge_route(request: Request) -> Response:
    """Delete cached answers: one tenant's or all (see ``PurgeRequest``). Needs the master
    key whenever client keys are configured."""
    state = request.app.state.router
    principal = request.scope.get("state", {}).get("principal", ANONYMOUS)
    if state.authenticator.enabled and not principal.is_master:
        raise PermissionDenied("purging the cache needs the master key")
    raw = await request.body()
    try:
        target = PurgeRequest.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _purge_error(exc) from exc
    try:
        deleted = await state.cache.purge(target.namespace)
    except StoreError as exc:
        raise UpstreamFailed(
            f"the cache store failed: {exc.operation}", code="store_error"
        ) from exc
    return Response(
        orjson.dumps({"deleted": deleted, "namespace": target.namespace, "all": target.all}),
        200,
        media_type="application/json",
    )


@routes.get("/v1/router/spend")
async def spend_route(request: Request) -> Response:
    """Spend per day, team, key and model (``group_by`` picks which to keep), over
    ``from``..``to`` (UTC days, default: the last 30). The master key sees everyone; a client
    key sees its own spend only."""
    state = request.app.state.router
    principal = request.scope.get("state", {}).get("principal", ANONYMOUS)
    query = request.query_params
    today = datetime.now(UTC).date()
    try:
        end = date.fromisoformat(query.get("to") or today.isoformat())
        start = date.fromisoformat(query.get("from") or (end - timedelta(days=29)).isoformat())
        labels = spend.days(start, end)
        by = [g for g in (query.get("group_by") or "team,key,model,day").split(",") if g]
        spend.group((), by)  # validates the names
    except ValueError as exc:
        raise InvalidRequest(f"invalid spend query: {exc}") from exc
    try:
        rows = await spend.read_spend(state.store, labels)
    except StoreError as exc:
        raise UpstreamFailed(
            f"the spend store failed: {exc.operation}", code="store_error"
        ) from exc
    if state.authenticator.enabled and not principal.is_master:
        rows = [r for r in rows if r.key == principal.name]
    for field in ("team", "key", "model"):
        wanted = query.get(field)
        if wanted is not None:
            rows = [r for r in rows if getattr(r, field) == wanted]
    grouped = spend.group(rows, by)
    body = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group_by": by,
        "rows": [_kept(r.as_json(), by) for r in grouped],
        "total_usd": round(sum(r.usd for r in grouped), 9),
    }
    return Response(orjson.dumps(body), 200, media_type="application/json")


def _kept(row: dict[str, object], by: list[str]) -> dict[str, object]:
    """A grouped row without the fields it was summed over."""
    return {k: v for k, v in row.items() if k in by or k not in spend.GROUPS}


def _purge_error(exc: ValidationError) -> InvalidRequest:
    err = exc.errors()[0]
    param = ".".join(str(p) for p in err["loc"]) or None
    if err["type"] == "extra_forbidden":
        return InvalidRequest(
            f"unknown field {param!r}: a purge takes 'namespace' or 'all'",
            param=param,
            code="unknown_parameter",
        )
    if err["type"] == "string_pattern_mismatch":
        return InvalidRequest(
            "'namespace' must be 'team:<name>' or 'key:<name>'", param="namespace"
        )
    if err["type"] == "json_invalid":
        return InvalidRequest("request body is not valid JSON", code="invalid_json")
    return InvalidRequest(str(err["msg"]).removeprefix("Value error, "), param=param)
