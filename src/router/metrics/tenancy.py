"""Tenancy's observer (``router.tenancy.admission.TenancyObserver``): limits, budgets, quotas and
spend, recorded on the metrics declared in ``registry``. Label values are names from config."""

from __future__ import annotations

from router.metrics.registry import Metrics


class TenancyMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def refused(self, scope: str, name: str, limit: str) -> None:
        self._m.limit_refusals.labels(scope, name, limit).inc()

    def store_error(self, on_error: str) -> None:
        self._m.limit_store_errors.labels(on_error).inc()

    def redis_error(self, operation: str) -> None:
        self._m.on_store_error(operation)

    def deployment_skipped(self, deployment: str, limit: str) -> None:
        self._m.quota_skips.labels(deployment, limit).inc()

    def spent(self, team: str, key: str, usd: float) -> None:
        self._m.spend_usd.labels(team or "none", key).inc(max(usd, 0.0))

    def budget_used(self, scope: str, name: str, period: str, used_usd: float) -> None:
        self._m.budget_used_usd.labels(scope, name, period).set(used_usd)

    def budgets_configured(self, budgets: list[tuple[str, str, str, float]]) -> None:
        """Every budget in config (scope, name, period, usd): set at load and on reload."""
        for scope, name, period, usd in budgets:
            self._m.budget_limit_usd.labels(scope, name, period).set(usd)
