"""``RequestMetrics``: one request's metrics, recorded in the order the request lives them:
started (on creation), ``decided``, ``cache``, then either ``refused`` (before a decision) or
``finished`` (with ``first_token``, ``fell_back`` and ``billed`` on the way).

Labels are plain strings: this package imports nothing of router's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from router.metrics.labels import status_class
from router.metrics.registry import Metrics


@dataclass(frozen=True, slots=True)
class Charge:
    """What the answer that was served used and cost (and would have on the baseline)."""

    input_tokens: int
    output_tokens: int
    cost_usd: float
    baseline: str | None = None
    baseline_cost_usd: float | None = None


class RequestMetrics:
    __slots__ = ("_cache", "_clock", "_m", "_policy", "_stream", "started")

    def __init__(self, metrics: Metrics, clock: Callable[[], float], stream: bool) -> None:
        self._m = metrics
        self._clock = clock
        self._stream = "true" if stream else "false"
        self._policy = "none"
        self._cache = "bypass"
        self.started = clock()

    def elapsed(self) -> float:
        return self._clock() - self.started

    def decided(self, policy: str, rule: str, model: str) -> None:
        self._policy = policy
        self._m.child(self._m.routing_decisions, policy, rule, model).inc()

    def cache(self, result: str) -> None:
        """The request's ``x-router-cache`` value so far (the ``cache`` label)."""
        self._cache = result

    def refused(self, status: int, error_code: str) -> None:
        """Refused before a decision (a bad override header, no rule or model matched)."""
        self._m.record_refusal(status, error_code)
        self._m.child(self._m.overhead, self._stream).observe(self.elapsed())

    def first_token(self, model: str, deployment: str) -> float:
        """A stream's first chunk is ready for the client; returns the time since start."""
        at = self.elapsed()
        m = self._m
        m.child(m.time_to_first_token, self._policy, model, deployment).observe(at)
        return at

    def fell_back(self, from_deployment: str, to_deployment: str) -> None:
        m = self._m
        m.child(m.fallbacks, self._policy, from_deployment, to_deployment).inc()

    def billed(self, model: str, deployment: str, charge: Charge) -> None:
        self._m.record_tokens(model, deployment, charge.input_tokens, charge.output_tokens)
        self._m.record_cost(
            self._policy,
            model,
            deployment,
            charge.cost_usd,
            charge.baseline,
            charge.baseline_cost_usd,
        )

    def finished(
        self, status: int, model: str, *, upstream_s: float, error_code: str | None = None
    ) -> None:
        """The request is over: ``upstream_s`` is the time spent waiting on upstreams, the rest
        is router's own (overhead)."""
        m = self._m
        total = self.elapsed()
        m.child(m.requests, self._policy, model, status_class(status), self._cache).inc()
        m.child(m.request_duration, self._policy, model, self._stream).observe(total)
        m.child(m.overhead, self._stream).observe(max(total - upstream_s, 0.0))
        if error_code is not None:
            m.child(m.request_errors, self._policy, model, error_code).inc()
