"""The live glue between the pure parts: ``PolicyDecider`` feeds ``decide()`` the request's
features, the current signals and a random roll; ``LiveObserver`` turns each attempt's
outcome into live signals (latency, errors, circuits) and Prometheus metrics.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from router.auth import Principal
from router.catalog import Deployment
from router.classify import classify
from router.decision import Decision
from router.dispatch import AttemptOutcome
from router.metrics import Metrics
from router.policy import decide
from router.runtime import Config
from router.signals import Signals
from router.wire import ParsedRequest


class PolicyDecider:
    """``Decider`` for the pipeline: classify, snapshot signals, roll, decide."""

    def __init__(self, signals: Signals, rng: random.Random | None = None) -> None:
        self._signals = signals
        self._rng = rng or random.Random()

    def __call__(
        self,
        request: ParsedRequest,
        principal: Principal,
        headers: Mapping[str, str],
        config: Config,
    ) -> Decision:
        chat = request.chat
        return decide(
            chat,
            classify(chat),
            principal,
            headers,
            config.policies,
            config.catalog,
            self._signals.snapshot(),
            self._rng.random(),
        )


class LiveObserver:
    """``AttemptObserver`` for dispatch: circuits gate attempts; outcomes feed signals and
    metrics. A request the upstream refused (400/413/422) is not held against it."""

    def __init__(self, signals: Signals, metrics: Metrics) -> None:
        self._signals = signals
        self._m = metrics

    def may_try(self, deployment: Deployment) -> bool:
        return self._signals.may_attempt(deployment.name)

    def attempt_finished(self, outcome: AttemptOutcome) -> None:
        d = outcome.deployment
        error = outcome.error
        if error is None or not error.client_fault:
            self._signals.record_attempt(
                d.name,
                ok=outcome.ok,
                ttft_s=outcome.ttft_s if outcome.stream else None,
                total_s=outcome.duration_s if outcome.ok else None,
            )
        result = "success" if outcome.ok else (error.kind if error else "error")
        self._m.upstream_attempts.labels(d.name, d.provider, result).inc()
        self._m.upstream_attempt_duration.labels(d.name, d.provider, result).observe(
            outcome.duration_s
        )
        if outcome.retry_of is not None:
            self._m.retries.labels(d.name, outcome.retry_of).inc()
