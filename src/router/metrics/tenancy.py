"""Tenancy's observer (``router.tenancy.admission.TenancyObserver``): limits, budgets, quotas and
spend, recorded on the metrics declared in ``registry``. Label values are names from config."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from router.metrics.registry import Metrics


class TenancyMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics
        # Every admission and settlement records these: the labelled children are looked up
        # once (prometheus_client's labels() showed in profiles); label sets come from config.
        self._spend: dict[tuple[str, str], Counter] = {}
        self._budget: dict[tuple[str, str, str], Gauge] = {}

    def refused(self, scope: str, name: str, limit: str) -> None:
        self._m.limit_refusals.labels(scope, name, limit).inc()

    def store_error(self, on_error: str) -> None:
        self._m.limit_store_errors.labels(on_error).inc()

    def redis_error(self, operation: str) -> None:
        self._m.on_store_error(operation)

    def deployment_skipped(self, deployment: str, limit: str) -> None:
        self._m.quota_skips.labels(deployment, limit).inc()

    def spent(self, team: str, key: str, usd: float) -> None:
        child = self._spend.get((team, key))
        if child is None:
            child = self._spend[(team, key)] = self._m.spend_usd.labels(team or "none", key)
        child.inc(max(usd, 0.0))

    def budget_used(self, scope: str, name: str, period: str, used_usd: float) -> None:
        child = self._budget.get((scope, name, period))
        if child is None:
            child = self._budget[(scope, name, period)] = self._m.budget_used_usd.labels(
                scope, name, period
            )
        child.set(used_usd)

    def budgets_configured(self, budgets: list[tuple[str, str, str, float]]) -> None:
        """Every budget in config (scope, name, period, usd): set at load and on reload."""
        for scope, name, period, usd in budgets:
            self._m.budget_limit_usd.labels(scope, name, period).set(usd)
