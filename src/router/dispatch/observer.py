"""``LiveObserver``: the per-attempt observer dispatch reports to. Circuits gate attempts;
each outcome feeds the live signals (latency, errors, circuits) and the attempt metrics.
"""

from __future__ import annotations

from router.config.catalog import Deployment
from router.dispatch.attempts import AttemptOutcome
from router.dispatch.hedge import HedgeOutcome
from router.metrics import Metrics
from router.signals import Signals


class LiveObserver:
    """``AttemptObserver`` for dispatch: circuits gate attempts; outcomes feed signals and
    metrics. Faults of the client (a refused or untranslatable request, its own deadline)
    are not held against the deployment; a refusal even closes its circuit."""

    def __init__(self, signals: Signals, metrics: Metrics) -> None:
        self._signals = signals
        self._m = metrics

    def may_try(self, deployment: Deployment) -> bool:
        return self._signals.may_attempt(deployment.name)

    def attempt_finished(self, outcome: AttemptOutcome) -> None:
        d = outcome.deployment
        error = outcome.error
        if outcome.cancelled or (error is not None and not error.charged):
            # A cancelled attempt (hedge loser, client gone), the client's own deadline or a
            # request it got wrong says nothing about the deployment's health or latency...
            if error is not None and error.answered:
                self._signals.record_answered(d.name)  # ...but a refusal proves it is up
            else:
                self._signals.release_probe(d.name)
        else:
            self._signals.record_attempt(
                d.name,
                ok=outcome.ok,
                ttft_s=outcome.ttft_s if outcome.stream else None,
                total_s=outcome.duration_s if outcome.ok else None,
            )
        if outcome.cancelled:
            result = "cancelled"
        else:
            result = "success" if outcome.ok else (error.kind if error else "error")
        self._m.record_attempt(d.name, d.provider, result, outcome.duration_s, outcome.retry_of)
        if outcome.interrupted and error is not None:
            self._m.record_stream_interruption(d.name, error.kind)

    def hedge_finished(self, outcome: HedgeOutcome) -> None:
        self._m.record_hedge(outcome.policy, outcome.result)
        loser, usage = outcome.loser, outcome.loser_usage
        if loser is not None and usage is not None:
            # The loser's answer was paid for too: count its tokens and spend.
            self._m.record_tokens(
                loser.logical_model, loser.name, usage.prompt_tokens, usage.completion_tokens
            )
            cost = loser.price.cost(usage.prompt_tokens, usage.completion_tokens)
            self._m.record_cost(outcome.policy, loser.logical_model, loser.name, cost)

    def recent_p95(self, deployment: Deployment, stream: bool) -> float | None:
        return self._signals.snapshot().stats(deployment.name).p95_latency(stream)
