"""The request's way through router, once per request, in one straight line:

    decision = decide(...)                 # which deployments, in which order, and why
    turn     = cache.open(...)             # lookup; after a miss, join identical requests
    answer   = dispatch(decision, body)    # attempts: retries, fallback, hedges, timeouts
    cache.keep(...)                        # a complete answer, if the decision allows
    account(answer)                        # usage, cost, savings, live signals, metrics

``handle`` returns a typed outcome (``Answered`` or ``Streamed``, each with the ``Route`` that
says who answered and why); the API layer parses before and renders after (JSON or SSE, and
every ``x-router-*`` header from the route). Everything per attempt lives in ``dispatch``; a
stream's steps 4 and 5 run when the stream ends, however it ends.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from router.accounting import bill
from router.cache.entry import CacheResult, Hit
from router.cache.steps import CacheTurn, CacheUse, replay
from router.config.catalog import Deployment
from router.config.load import Config
from router.dispatch.dispatcher import Dispatcher
from router.dispatch.hedge import HedgeOutcome
from router.dispatch.stream import AnswerStream
from router.errors import AllAttemptsFailed, AttemptError, RouterError
from router.gate import Gate
from router.metrics import Charge, Metrics
from router.policy.decision import Decision
from router.report import RequestFacts, RequestReport
from router.requestlog.trail import RequestRecorder
from router.shapes import CLIENT_CLOSED, Clock, Principal, Usage
from router.signals import Signals
from router.tenancy.asks import Ticket
from router.tracing import Tracing
from router.translate.anthropic_events import EventWatch
from router.wire import Inbound, ParsedRequest


class Decider(Protocol):
    def __call__(self, inbound: Inbound, config: Config) -> Decision: ...


@dataclass(frozen=True, slots=True)
class Route:
    """Who answered and why: what the API renders as the ``x-router-*`` headers."""

    policy: str
    model: str
    deployment: str
    reason: str
    cost_usd: float
    cost_basis: Literal["actual", "estimate"]  # a stream's headers leave before its usage
    cache: CacheResult
    limits: Mapping[str, str] = field(default_factory=dict)  # x-ratelimit-*: tightest limits
    # Each upstream attempt in order, as (deployment, outcome): "ok", an HTTP status, or the
    # failure's kind ("timeout", "circuit_open", ...). Empty for a cache hit.
    attempts: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Answered:
    body: dict[str, Any]
    route: Route


@dataclass(slots=True)
class Streamed:
    chunks: AsyncGenerator[dict[str, Any], None]  # may raise StreamInterrupted mid-way
    route: Route


Outcome = Answered | Streamed


@dataclass(slots=True)
class _Request:
    """What the pipeline knows about one request while it runs."""

    config: Config
    decision: Decision
    turn: CacheTurn
    run: RequestReport
    ticket: Ticket | None = None  # the caller's reservations, settled when the request ends


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The parts the request's way goes through, built once by the app."""

    config: Callable[[], Config]  # the config being served (swapped on reload)
    decide: Decider
    dispatch: Dispatcher
    metrics: Metrics
    signals: Signals
    cache: CacheUse
    clock: Clock = time.perf_counter
    tracing: Tracing | None = None
    gate: Gate | None = None  # tenancy: limits, budgets, quotas, spend
    recorder: RequestRecorder | None = None  # the request log's, when one is configured

    def decision_for(
        self, request: ParsedRequest, principal: Principal, headers: Mapping[str, str]
    ) -> Decision:
        return self.decide(Inbound(request, principal, headers), self.config())

    async def handle(
        self,
        request: ParsedRequest,
        principal: Principal,
        headers: Mapping[str, str],
        *,
        deadline_s: float | None = None,
        facts: RequestFacts | None = None,
        request_id: str | None = None,
    ) -> Outcome:
        """``facts``, when given, is filled in as the request goes (for the access log)."""
        config = self.config()
        trail = None
        if self.recorder is not None:
            trail = self.recorder.trail(request_id, request, principal, headers, config)
        run = RequestReport(self.metrics, self.clock, request.stream, facts, self.tracing, trail)
        run.requested(request)

        # 1. decide, then admit: the caller's limits and budgets, the deployments' quotas
        # (``gate``: a deployment at its quota leaves the chain, with the reason)
        gate, ticket = self.gate, None
        with run.step("router.decide"):
            try:
                if gate is not None:
                    await gate.prepare(config, principal)
                decision = self.decide(Inbound(request, principal, headers), config)
                if gate is not None:
                    decision, ticket = await gate.admit(decision, request, principal, config)
            except RouterError as exc:
                run.refused(exc.status, exc.code or exc.type)
                raise
            run.decided(decision)
        limits = ticket.headers if ticket is not None else {}

        # 2. the cache: a hit (stored, or from an identical request in flight) answers here
        with run.step("router.cache"):
            try:
                turn = await self.cache.open(decision, request, principal, headers)
            except BaseException:
                self._release(config, ticket)
                raise
            run.cache(turn.result)
        if turn.hit is not None:
            self._release(config, ticket)
            return self._from_cache(run, decision, turn, turn.hit, limits)
        req = _Request(config, decision, turn, run, ticket)

        # 3. dispatch
        try:
            if request.stream:
                stream = await self.dispatch.stream(
                    decision, request.payload, deadline_s=deadline_s
                )
            else:
                answer = await self.dispatch.complete(
                    decision, request.payload, deadline_s=deadline_s
                )
        except BaseException as exc:
            await turn.leave()
            self._unanswered(req, exc)
            raise
        if request.stream:
            self._fell_back(req, stream.failures, stream.deployment, stream.hedge)
            cost = _estimate(decision, stream.deployment)
            route = _route(
                decision, stream.deployment, cost, "estimate", turn.result, limits, stream.failures
            )
            return Streamed(self._relay(req, request, stream), route)
        self._fell_back(req, answer.failures, answer.deployment, answer.hedge)
        body = answer.completion.body
        body["model"] = answer.deployment.logical_model
        run.answered(body=body)

        # 4. keep, and 5. account
        cost = await self._settle(
            req, answer.deployment, 200, answer.completion.usage, answer.upstream_s, body=body
        )
        route = _route(
            decision, answer.deployment, cost, "actual", turn.result, limits, answer.failures
        )
        return Answered(body, route)

    async def _relay(
        self, req: _Request, request: ParsedRequest, stream: AnswerStream
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Steps 4 and 5 for a stream: rewrite and pass chunks on, then keep a complete answer
        and account when the stream ends, however it ends."""
        model = stream.deployment.logical_model
        want_usage = request.chat.wants_usage_in_stream
        kept: list[dict[str, Any]] | None = [] if req.turn.collecting else None
        seen: list[dict[str, Any]] | None = [] if req.run.keeps_answer else None
        usage: Usage | None = None
        # Anthropic events (a Messages client) pass on whole: only watched for usage.
        watch = EventWatch(model) if request.messages is not None else None
        status, error = CLIENT_CLOSED, None  # until the stream completes: the client left
        # Router's own time in a stream is what it spent before the first chunk was ready;
        # after that it only relays, so the rest counts as upstream wait.
        own = max(req.run.first_token(model, stream.deployment.name) - stream.upstream_s, 0.0)
        try:
            async for chunk in stream:
                if watch is not None:
                    watch.see(chunk)
                    if kept is not None:
                        kept.append(chunk)
                    if seen is not None:
                        seen.append(chunk)
                    yield chunk
                    continue
                chunk["model"] = model
                if kept is not None:
                    kept.append(chunk)
                if seen is not None:
                    seen.append(chunk)
                if "usage" in chunk:
                    usage = Usage.from_openai(chunk["usage"]) or usage
                    if not want_usage:
                        if not chunk.get("choices"):
                            continue  # the usage-only chunk the client did not ask for
                        if kept is None and seen is None:
                            del chunk["usage"]  # nothing else holds this chunk
                        else:
                            chunk = {k: v for k, v in chunk.items() if k != "usage"}
                yield chunk
            status = 200
        except RouterError as exc:  # StreamInterrupted: the attempt failed mid-way
            status, error = exc.status, exc
            raise
        finally:
            await stream.aclose()
            usage = watch.usage if watch is not None else usage
            req.run.answered(chunks=seen)
            upstream_s = req.run.elapsed() - own
            await self._settle(req, stream.deployment, status, usage, upstream_s, error, kept)

    def _from_cache(
        self,
        run: RequestReport,
        decision: Decision,
        turn: CacheTurn,
        hit: Hit,
        limits: Mapping[str, str],
    ) -> Outcome:
        entry = hit.entry
        run.cache(turn.result)
        run.finished(200, entry.model, upstream_s=0.0)
        # The stored answer's deployment is who answered: the reason names it, not whoever
        # this decision would have tried first.
        reason = (
            f"cache hit ({hit.age_s:.0f}s old) from {entry.deployment}; "
            f"{decision.policy}/{decision.rule}"
        )
        route = Route(
            decision.policy, entry.model, entry.deployment, reason, 0.0, "actual", turn.result,
            limits,
        )  # fmt: skip
        if hit.chunks is not None:
            return Streamed(replay(hit.chunks), route)
        assert hit.completion is not None
        return Answered(dict(hit.completion), route)

    async def _settle(
        self,
        req: _Request,
        deployment: Deployment,
        status: int,
        usage: Usage | None,
        upstream_s: float,
        error: RouterError | None = None,
        chunks: list[dict[str, Any]] | None = None,
        *,
        body: dict[str, Any] | None = None,
    ) -> float:
        """Keep a complete answer (then leave the single flight, so waiters get it), and
        account for it. Returns its cost."""
        charge = bill(req.config.catalog, deployment, usage, req.config.server.baseline_model)
        try:
            if status == 200 and (body is not None or chunks is not None):
                await self.cache.keep(
                    req.turn, deployment, usage, charge.cost_usd, completion=body, chunks=chunks
                )
        finally:
            await req.turn.leave()
        if self.gate is not None:
            self.gate.settle(req.ticket, deployment, usage, charge.cost_usd, req.config)
        model = deployment.logical_model
        run = req.run
        run.cache(req.turn.result)
        if usage is not None:
            self.signals.record_usage(model, req.decision.task, usage.completion_tokens)
            spent = Charge(
                usage.prompt_tokens,
                usage.completion_tokens,
                charge.cost_usd,
                charge.baseline,
                charge.baseline_cost_usd,
            )
            run.billed(model, deployment.name, spent)
        code = None if error is None else error.code or error.type
        run.finished(status, model, upstream_s=upstream_s, error_code=code)
        return charge.cost_usd

    def _unanswered(self, req: _Request, exc: BaseException) -> None:
        """Dispatch ended without an answer: every attempt failed, or the client left."""
        run, model = req.run, req.decision.model
        self._release(req.config, req.ticket)
        run.cache(req.turn.result)
        if isinstance(exc, AllAttemptsFailed):
            run.attempted("", "", _calls(exc.attempts), exc.attempts)
        if isinstance(exc, RouterError):
            code = exc.code or exc.type
            run.finished(exc.status, model, upstream_s=run.elapsed(), error_code=code)
        elif isinstance(exc, asyncio.CancelledError):
            run.finished(CLIENT_CLOSED, model, upstream_s=run.elapsed())

    def _release(self, config: Config, ticket: Ticket | None) -> None:
        """Settle a request that used no upstream (a cache hit, a failure, a client gone)."""
        if self.gate is not None:
            self.gate.settle(ticket, None, None, 0.0, config)

    def _fell_back(
        self,
        req: _Request,
        failures: list[AttemptError],
        served: Deployment,
        hedge: HedgeOutcome | None,
    ) -> None:
        calls = _calls(failures) + 1 + (1 if hedge is not None and hedge.loser else 0)
        req.run.attempted(served.name, served.provider, calls, failures)
        # Every hop counts: a -> b -> c is two fallbacks, not one from the last failure.
        hops: list[str] = []
        for name in [f.deployment for f in failures] + [served.name]:
            if not hops or hops[-1] != name:
                hops.append(name)
        for here, there in itertools.pairwise(hops):
            req.run.fell_back(here, there)


def _calls(failures: list[AttemptError]) -> int:
    """Upstream calls behind these failures: a deployment skipped for its open circuit was
    never called."""
    return sum(1 for f in failures if f.kind != "circuit_open")


def _estimate(decision: Decision, deployment: Deployment) -> float:
    """Stream headers leave before usage is known: the decision's expected cost of this
    request on the deployment that answers (prompt and expected output)."""
    for candidate in decision.chain:
        if candidate.deployment.name == deployment.name and candidate.expected_cost_usd:
            return candidate.expected_cost_usd
    return deployment.price.cost(decision.prompt_tokens or 0, 0)


def _route(
    decision: Decision,
    deployment: Deployment,
    cost_usd: float,
    basis: Literal["actual", "estimate"],
    cache: CacheResult,
    limits: Mapping[str, str],
    failures: list[AttemptError],
) -> Route:
    """The answer's route; after a fallback the reason says who answered in the end, so it
    agrees with the deployment header."""
    attempts = tuple((f.deployment, _outcome(f)) for f in failures)
    reason = decision.reason
    first = decision.chain[0].deployment.name if decision.chain else ""
    if deployment.name != first:
        reason = f"{reason}; answered by {deployment.name} after {len(attempts)} failed attempt(s)"
    return Route(
        decision.policy,
        deployment.logical_model,
        deployment.name,
        reason,
        cost_usd,
        basis,
        cache,
        limits,
        (*attempts, (deployment.name, "ok")),
    )


def _outcome(failure: AttemptError) -> str:
    return str(failure.status) if failure.kind == "status" else failure.kind
