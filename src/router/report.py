"""``RequestReport``: the pipeline's one per-request facade. Each step the request lives is told
once, and goes to the places that record it:

- the metrics (``router.metrics.RequestMetrics``),
- the access-log facts (``RequestFacts``, which the API layer left in the request's scope and
  the access log writes when the last byte has gone),
- the request's span, when tracing is on: attributes on the span the tracing middleware
  opened, and child spans for the decision and the cache lookup (the attempts' spans come from
  ``router.tracing.upstream``);
- the request log's trail (``router.requestlog.trail``), when a ``request_log`` is configured:
  one record per request when it ends.

With tracing off there is no span and no tracer: the request path pays for the facts (a few
attribute writes) and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from router.metrics import Charge, Metrics, RequestMetrics
from router.shapes import Clock
from router.tracing import names as a  # plain strings; OpenTelemetry loads only when tracing

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from router.errors import AttemptError
    from router.policy.decision import Decision
    from router.requestlog.trail import RequestTrail
    from router.tracing import Tracing
    from router.wire import ParsedRequest


_UNTRACED = nullcontext()


@dataclass(slots=True)
class RequestFacts:
    """What routing did for one request, as the access log reports it."""

    requested: str | None = None  # the model the client asked for
    policy: str | None = None
    rule: str | None = None
    task: str | None = None
    model: str | None = None  # the logical model that answered (or was to)
    deployment: str | None = None
    attempts: int = 0
    cache: str | None = None
    stream: bool = False
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    ttft_s: float | None = None
    error: str | None = None

    def log_fields(self) -> dict[str, object]:
        return {
            "requested": self.requested,
            "policy": self.policy,
            "rule": self.rule,
            "task": self.task,
            "model": self.model,
            "deployment": self.deployment,
            "attempts": self.attempts,
            "cache": self.cache,
            "stream": self.stream,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 12),
            "ttft_s": None if self.ttft_s is None else round(self.ttft_s, 6),
            "error": self.error,
        }


class RequestReport:
    __slots__ = ("_facts", "_metrics", "_span", "_tracing", "_trail")

    def __init__(
        self,
        metrics: Metrics,
        clock: Clock,
        stream: bool,
        facts: RequestFacts | None = None,
        tracing: Tracing | None = None,
        trail: RequestTrail | None = None,
    ) -> None:
        self._trail = trail
        self._metrics = RequestMetrics(metrics, clock, stream)
        self._facts = facts if facts is not None else RequestFacts()
        self._facts.stream = stream
        self._tracing = tracing
        self._span: Span | None = None
        if tracing is not None:
            from opentelemetry import trace

            span = trace.get_current_span()
            self._span = span if span.is_recording() else None

    def elapsed(self) -> float:
        return self._metrics.elapsed()

    def requested(self, request: ParsedRequest) -> None:
        """The request as the client sent it (its ``gen_ai.request.*`` on the span)."""
        chat = request.chat
        self._facts.requested = chat.model
        if self._span is None:
            return
        self._span.update_name(f"{a.CHAT} {chat.model}")
        attributes: dict[str, Any] = {
            a.GEN_AI_OPERATION: a.CHAT,
            a.GEN_AI_REQUEST_MODEL: chat.model,
            a.GEN_AI_REQUEST_STREAM: request.stream,
        }
        limit = chat.max_completion_tokens or chat.max_tokens
        for name, value in (
            (a.GEN_AI_REQUEST_MAX_TOKENS, limit),
            (a.GEN_AI_REQUEST_TEMPERATURE, chat.temperature),
            (a.GEN_AI_REQUEST_TOP_P, chat.top_p),
        ):
            if value is not None:
                attributes[name] = value
        self._span.set_attributes(attributes)

    def step(self, name: str) -> AbstractContextManager[object]:
        """A child span for one step of the request (``router.decide``, ``router.cache``);
        untraced, a shared do-nothing context (no generator, no allocation)."""
        if self._span is None or self._tracing is None:
            return _UNTRACED
        return self._tracing.tracer.start_as_current_span(name)

    def decided(self, decision: Decision) -> None:
        facts = self._facts
        facts.policy, facts.rule, facts.task = decision.policy, decision.rule, decision.task
        facts.model = decision.model
        self._metrics.decided(decision.policy, decision.rule, decision.model)
        if self._trail is not None:
            self._trail.decision = decision
        if self._span is not None:
            from opentelemetry import trace

            attributes = {
                a.ROUTER_POLICY: decision.policy,
                a.ROUTER_RULE: decision.rule,
                a.ROUTER_TASK: decision.task,
                a.ROUTER_REASON: decision.reason,
                a.ROUTER_CHAIN: [c.deployment.name for c in decision.chain],
            }
            self._span.set_attributes(attributes)
            trace.get_current_span().set_attributes(attributes)  # the decide step's span

    def cache(self, result: str) -> None:
        """The request's ``x-router-cache`` value so far (the ``cache`` label)."""
        self._facts.cache = result
        self._metrics.cache(result)
        if self._trail is not None:
            self._trail.cache = result
        if self._span is not None:
            from opentelemetry import trace

            self._span.set_attribute(a.ROUTER_CACHE, result)
            step = trace.get_current_span()
            if step is not self._span:
                step.set_attribute(a.ROUTER_CACHE, result)

    def refused(self, status: int, error_code: str) -> None:
        self._facts.error = error_code
        self._metrics.refused(status, error_code)
        self._status(status, error_code)
        if self._trail is not None:
            self._trail.finish(status, self._metrics.elapsed(), error=error_code)

    def attempted(
        self,
        deployment: str,
        provider: str,
        attempts: int,
        failures: Sequence[AttemptError] = (),
    ) -> None:
        """Who answered (or, with no answer, nobody) and after how many upstream calls;
        ``failures``: the attempts that failed, in order."""
        self._facts.deployment = deployment or None
        self._facts.attempts = attempts
        if self._trail is not None:
            self._trail.deployment = deployment or None
            self._trail.failures = failures
        if self._span is not None:
            self._span.set_attribute(a.ROUTER_ATTEMPTS, attempts)
            if deployment:
                self._span.set_attribute(a.ROUTER_DEPLOYMENT, deployment)
                self._span.set_attribute(a.GEN_AI_SYSTEM, a.provider_value(provider))
                self._span.set_attribute(a.GEN_AI_PROVIDER, a.provider_value(provider))

    def first_token(self, model: str, deployment: str) -> float:
        at = self._metrics.first_token(model, deployment)
        self._facts.ttft_s = at
        if self._trail is not None:
            self._trail.ttft_s = at
        if self._span is not None:
            self._span.set_attribute(a.GEN_AI_TTFC, at)
        return at

    @property
    def keeps_answer(self) -> bool:
        """Whether the answer's text is wanted (the request log hashes or keeps it)."""
        return self._trail is not None

    def answered(
        self, body: dict[str, Any] | None = None, chunks: list[dict[str, Any]] | None = None
    ) -> None:
        """The answer as it went out: a completion's body, or a stream's chunks."""
        if self._trail is not None:
            self._trail.answered(body, chunks)

    def fell_back(self, from_deployment: str, to_deployment: str) -> None:
        self._metrics.fell_back(from_deployment, to_deployment)

    def billed(self, model: str, deployment: str, charge: Charge) -> None:
        facts = self._facts
        facts.input_tokens, facts.output_tokens = charge.input_tokens, charge.output_tokens
        facts.cost_usd = charge.cost_usd
        if self._trail is not None:
            self._trail.tokens = (charge.input_tokens, charge.output_tokens)
            self._trail.cost_usd = charge.cost_usd
        self._metrics.billed(model, deployment, charge)
        if self._span is not None:
            self._span.set_attributes(
                {
                    a.GEN_AI_INPUT_TOKENS: charge.input_tokens,
                    a.GEN_AI_OUTPUT_TOKENS: charge.output_tokens,
                    a.ROUTER_COST: round(charge.cost_usd, 12),  # as the log has it
                }
            )

    def finished(
        self, status: int, model: str, *, upstream_s: float, error_code: str | None = None
    ) -> None:
        self._facts.model = model
        self._facts.error = error_code
        self._metrics.finished(status, model, upstream_s=upstream_s, error_code=error_code)
        if self._trail is not None:
            self._trail.finish(
                status,
                self._metrics.elapsed(),
                model=model,
                upstream_s=upstream_s,
                error=error_code,
            )
        if self._span is not None:
            self._span.set_attribute(a.GEN_AI_RESPONSE_MODEL, model)
            self._span.set_attribute(a.ROUTER_MODEL, model)
        self._status(status, error_code)

    def _status(self, status: int, error_code: str | None) -> None:
        if self._span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        if error_code is not None:
            self._span.set_attribute(a.ERROR_TYPE, error_code)
        if status >= 500 or error_code is not None:
            self._span.set_status(Status(StatusCode.ERROR, error_code or str(status)))
