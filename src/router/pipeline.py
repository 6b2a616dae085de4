"""The request's way through router, once per request, in one straight line:

    decision = decide(...)                 # which deployments, in which order, and why
    turn     = cache.open(...)             # lookup; after a miss, join identical requests
    answer   = dispatch(decision, body)    # attempts: retries, fallback, hedges, timeouts
    cache.keep(...)                        # a complete answer, if the decision allows
    account(answer)                        # usage, cost, savings, live signals, metrics

The API layer parses before and renders after; everything per attempt lives in ``dispatch``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from router.accounting import Bill, bill, format_usd
from router.cache.entry import CacheResult, Hit
from router.cache.steps import CacheTurn, CacheUse, replay
from router.config.catalog import Deployment
from router.config.load import Config
from router.dispatch.dispatcher import Dispatcher, StreamAnswer
from router.errors import (
    AttemptError,
    AttemptFailed,
    InvalidRequest,
    RouterError,
    StreamInterrupted,
    status_class,
)
from router.metrics import Metrics
from router.policy.decision import Decision
from router.shapes import Principal, Usage
from router.signals import Signals
from router.wire import ParsedRequest

Clock = Callable[[], float]
_CLIENT_CLOSED = 499  # nginx's "client closed request": counted, never seen by a client


class Decider(Protocol):
    def __call__(
        self,
        request: ParsedRequest,
        principal: Principal,
        headers: Mapping[str, str],
        config: Config,
    ) -> Decision: ...


@dataclass(slots=True)
class Reply:
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(slots=True)
class StreamReply:
    chunks: AsyncGenerator[dict[str, Any], None]  # may raise StreamInterrupted mid-way
    headers: dict[str, str]


@dataclass(slots=True)
class _Context:
    """What the pipeline knows about one request while it runs."""

    config: Config
    decision: Decision
    started: float
    stream: bool


class Pipeline:
    def __init__(
        self,
        config: Callable[[], Config],
        decide: Decider,
        dispatcher: Dispatcher,
        metrics: Metrics,
        signals: Signals,
        cache: CacheUse,
        *,
        clock: Clock = time.perf_counter,
    ) -> None:
        self._cache = cache
        self._signals = signals
        self._config = config
        self._decide = decide
        self._dispatch = dispatcher
        self._metrics = metrics
        self._clock = clock

    def decision_for(
        self, request: ParsedRequest, principal: Principal, headers: Mapping[str, str]
    ) -> Decision:
        return self._decide(request, principal, headers, self._config())

    async def handle(
        self, request: ParsedRequest, principal: Principal, headers: Mapping[str, str]
    ) -> Reply | StreamReply:
        started = self._clock()
        config = self._config()
        try:
            deadline = _deadline(headers)
            decision = self._decide(request, principal, headers, config)
        except RouterError as exc:
            self._refused(exc, request.stream, started)
            raise
        ctx = _Context(config, decision, started, request.stream)
        self._metrics.routing_decisions.labels(decision.policy, decision.rule, decision.model).inc()
        turn = await self._cache.open(decision, request, principal, headers)
        await self._cache.join_flight(turn)
        if turn.hit is not None:
            return self._from_cache(ctx, turn, turn.hit)
        try:
            if request.stream:
                answer = await self._dispatch.open_stream(
                    decision, request.body, deadline_s=deadline
                )
            else:
                done = await self._dispatch.complete(decision, request.body, deadline_s=deadline)
        except BaseException as exc:
            await self._cache.land(turn)
            if isinstance(exc, RouterError):
                self._finish(ctx, None, exc.status, None, self._clock() - started, turn, exc)
            elif isinstance(exc, asyncio.CancelledError):  # the client left before an answer
                self._finish(ctx, None, _CLIENT_CLOSED, None, self._clock() - started, turn)
            raise
        if request.stream:
            self._count_fallbacks(ctx, answer.failures, answer.deployment)
            est = _estimate(decision, answer.deployment)
            out = _headers(decision, answer.deployment, est, "estimate", turn.result)
            return StreamReply(self._relay(ctx, request, answer, turn), out)
        self._count_fallbacks(ctx, done.failures, done.deployment)
        body = done.completion.body
        body["model"] = done.deployment.logical_model
        usage = done.completion.usage
        charge = self._bill(ctx, done.deployment, usage)
        try:
            await self._cache.keep(turn, done.deployment, usage, charge.cost_usd, completion=body)
        finally:
            await self._cache.land(turn)
        self._finish(ctx, done.deployment, 200, usage, done.upstream_s, turn, charge=charge)
        out = _headers(decision, done.deployment, charge.cost_usd, "actual", turn.result)
        return Reply(body, out)

    def _from_cache(self, ctx: _Context, turn: CacheTurn, hit: Hit) -> Reply | StreamReply:
        entry = hit.entry
        m = self._metrics
        stream = "true" if ctx.stream else "false"
        total = self._clock() - ctx.started
        m.requests.labels(ctx.decision.policy, entry.model, "2xx", turn.result.value).inc()
        m.request_duration.labels(ctx.decision.policy, entry.model, stream).observe(total)
        m.overhead.labels(stream).observe(total)
        headers = {
            "x-router-policy": _header_safe(ctx.decision.policy),
            "x-router-model": _header_safe(entry.model),
            "x-router-deployment": _header_safe(entry.deployment),
            "x-router-reason": f"cache hit ({hit.age_s:.0f}s old); {ctx.decision.reason}",
            "x-router-cost-usd": "0",
            "x-router-cost-basis": "actual",
            "x-router-cache": turn.result.value,
        }
        if hit.chunks is not None:
            return StreamReply(replay(hit.chunks), headers)
        assert hit.completion is not None
        return Reply(dict(hit.completion), headers)

    async def _relay(
        self, ctx: _Context, request: ParsedRequest, answer: StreamAnswer, turn: CacheTurn
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Rewrite and pass chunks on; account (and cache a complete answer) when the stream
        ends, however it ends."""
        model = answer.deployment.logical_model
        want_usage = request.chat.wants_usage_in_stream
        kept: list[dict[str, Any]] | None = [] if turn.collecting else None
        usage: Usage | None = None
        error: AttemptError | None = None
        interrupted: StreamInterrupted | None = None
        status = _CLIENT_CLOSED  # until the stream completes: the client went away
        first_at = self._clock() - ctx.started
        # Router's own time in a stream is what it spent before the first chunk was ready;
        # after that it only relays, so the rest counts as upstream wait.
        own = max(first_at - answer.upstream_s, 0.0)
        self._metrics.time_to_first_token.labels(
            ctx.decision.policy, model, answer.deployment.name
        ).observe(first_at)
        try:
            async for chunk in _join(answer.first, answer.chunks):
                chunk["model"] = model
                if kept is not None:
                    kept.append(chunk)
                if "usage" in chunk:
                    found = Usage.from_openai(chunk["usage"])
                    usage = found or usage
                    if not want_usage:
                        if not chunk.get("choices"):
                            continue  # the usage-only chunk the client did not ask for
                        chunk = {k: v for k, v in chunk.items() if k != "usage"}
                yield chunk
            status = 200
        except AttemptFailed as exc:
            error = exc.error
            status = 502
            self._metrics.stream_interruptions.labels(answer.deployment.name, error.kind).inc()
            interrupted = StreamInterrupted(
                f"upstream stream failed after it started: {exc.error.describe()}"
            )
            raise interrupted from exc
        finally:
            await answer.source.aclose()
            duration = self._clock() - ctx.started
            self._dispatch.stream_finished(
                answer, duration, error, cancelled=status == _CLIENT_CLOSED
            )
            charge = self._bill(ctx, answer.deployment, usage)
            try:
                if status == 200 and kept is not None:
                    await self._cache.keep(
                        turn, answer.deployment, usage, charge.cost_usd, chunks=kept
                    )
            finally:
                await self._cache.land(turn)
            self._finish(
                ctx,
                answer.deployment,
                status,
                usage,
                duration - own,
                turn,
                interrupted,
                charge=charge,
            )

    def _bill(self, ctx: _Context, deployment: Deployment, usage: Usage | None) -> Bill:
        return bill(ctx.config.catalog, deployment, usage, ctx.config.server.baseline_model)

    def _refused(self, error: RouterError, stream: bool, started: float) -> None:
        self._metrics.record_refusal(error.status, error.code or error.type)
        self._metrics.overhead.labels("true" if stream else "false").observe(
            self._clock() - started
        )

    def _finish(
        self,
        ctx: _Context,
        deployment: Deployment | None,
        status: int,
        usage: Usage | None,
        upstream_s: float,
        turn: CacheTurn,
        error: RouterError | None = None,
        *,
        charge: Bill | None = None,
    ) -> None:
        m = self._metrics
        policy = ctx.decision.policy
        model = deployment.logical_model if deployment else ctx.decision.model
        total = self._clock() - ctx.started
        stream = "true" if ctx.stream else "false"
        m.requests.labels(policy, model, status_class(status), turn.result.value).inc()
        m.request_duration.labels(policy, model, stream).observe(total)
        m.overhead.labels(stream).observe(max(total - upstream_s, 0.0))
        if error is not None:
            m.request_errors.labels(policy, model, error.code or error.type).inc()
        if deployment is None or usage is None or charge is None:
            return
        self._signals.record_usage(model, ctx.decision.task, usage.completion_tokens)
        m.record_tokens(model, deployment.name, usage.prompt_tokens, usage.completion_tokens)
        m.record_cost(
            policy,
            model,
            deployment.name,
            charge.cost_usd,
            charge.baseline,
            charge.baseline_cost_usd,
        )

    def _count_fallbacks(
        self, ctx: _Context, failures: list[AttemptError], served: Deployment
    ) -> None:
        tried = [f.deployment for f in failures if f.deployment != served.name]
        if tried:
            self._metrics.fallbacks.labels(ctx.decision.policy, tried[-1], served.name).inc()


async def _join(
    first: list[dict[str, Any]], rest: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[dict[str, Any]]:
    for chunk in first:
        yield chunk
    async for chunk in rest:
        yield chunk


def _estimate(decision: Decision, deployment: Deployment) -> float:
    """Stream headers leave before usage is known: the decision's expected cost of this
    request on the deployment that answers (prompt and expected output)."""
    for candidate in decision.chain:
        if candidate.deployment.name == deployment.name and candidate.expected_cost_usd:
            return candidate.expected_cost_usd
    return deployment.price.cost(decision.prompt_tokens or 0, 0)


def _headers(
    decision: Decision, deployment: Deployment, cost: float, basis: str, cache: CacheResult
) -> dict[str, str]:
    return {
        "x-router-cache": cache.value,
        "x-router-policy": _header_safe(decision.policy),
        "x-router-model": _header_safe(deployment.logical_model),
        "x-router-deployment": _header_safe(deployment.name),
        "x-router-reason": decision.reason,
        "x-router-cost-usd": format_usd(cost),
        "x-router-cost-basis": basis,
    }


def _header_safe(value: str) -> str:
    """Config names reach headers, which carry latin-1 only: anything else becomes ``?``."""
    return value if value.isascii() else value.encode("ascii", "replace").decode()


def _deadline(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("x-router-timeout")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise InvalidRequest(
            "x-router-timeout must be a number of seconds in (0, 3600]", param="x-router-timeout"
        )
    return value
