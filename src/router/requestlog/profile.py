"""What a request log says about the deployments it saw: a latency profile per deployment
(and per model, pooled) and the live signals ``decide()`` read, summarised over the log.

Latency of an answer of N tokens is fitted as ``a + b * N`` (least squares over the log's
single-attempt successful answers: ``a`` is about the time to first token, ``1/b`` the output
speed); with fewer than three answers or one length only it is their mean. A deployment the
log never saw borrows its model's pooled fit, then the catalog's ``latency:`` profile.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import fmean, quantiles

from router.config.catalog import Catalog
from router.requestlog.record import RequestRecord
from router.signals import DeploymentStats, SignalSnapshot

_MIN_FIT = 3


@dataclass(frozen=True, slots=True)
class Fit:
    intercept_s: float
    per_token_s: float
    samples: int

    def at(self, tokens: int) -> float:
        return self.intercept_s + self.per_token_s * tokens


def fit(points: list[tuple[int, float]]) -> Fit:
    n = len(points)
    mean_y = fmean(y for _, y in points)
    if n < _MIN_FIT:
        return Fit(mean_y, 0.0, n)
    mean_x = fmean(x for x, _ in points)
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        return Fit(mean_y, 0.0, n)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    if slope < 0:  # longer answers are not faster: the data is noise around a mean
        return Fit(mean_y, 0.0, n)
    intercept = mean_y - slope * mean_x
    if intercept < 0:  # through the origin instead
        slope = sum(x * y for x, y in points) / sum(x * x for x, _ in points)
        intercept = 0.0
    return Fit(intercept, slope, n)


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return quantiles(values, n=20, method="inclusive")[-1]


class LogProfile:
    """Fed every record of a log (``observe``), then asked for estimates."""

    def __init__(self) -> None:
        self._points: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
        self._model_of: dict[str, str] = {}
        self._totals: defaultdict[str, list[float]] = defaultdict(list)
        self._ttfts: defaultdict[str, list[float]] = defaultdict(list)
        self._attempts: defaultdict[str, list[bool]] = defaultdict(list)
        self._output: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
        self._fits: dict[str, Fit] = {}

    def observe(self, record: RequestRecord) -> None:
        for attempt in record.attempts:
            self._attempts[attempt.deployment].append(attempt.ok)
        dep, model = record.deployment, record.model  # no deployment: served by the cache
        if record.status != 200 or dep is None or model is None or record.upstream_s is None:
            return
        self._model_of[dep] = model
        if record.ttft_s is not None:
            self._ttfts[dep].append(record.ttft_s)
        if len(record.attempts) > 1 or record.completion_tokens is None:
            return  # a fallback's time includes the failures before it
        self._totals[dep].append(record.upstream_s)
        self._points[dep].append((record.completion_tokens, record.upstream_s))
        if record.task is not None:
            self._output[(model, record.task)].append(record.completion_tokens)
        self._fits.clear()

    def deployment_fit(self, deployment: str) -> Fit | None:
        if deployment not in self._fits and self._points.get(deployment):
            self._fits[deployment] = fit(self._points[deployment])
        return self._fits.get(deployment)

    def model_fit(self, model: str) -> Fit | None:
        key = f"model:{model}"
        if key not in self._fits:
            pooled = [p for d, m in self._model_of.items() if m == model for p in self._points[d]]
            if not pooled:
                return None
            self._fits[key] = fit(pooled)
        return self._fits[key]

    def latency(self, deployment: str, model: str, tokens: int, catalog: Catalog) -> float | None:
        """Expected seconds for an answer of ``tokens`` on ``deployment``; None if unknown."""
        found = self.deployment_fit(deployment) or self.model_fit(model)
        if found is not None:
            return found.at(tokens)
        entry = catalog.models.get(model)
        prof = entry.latency if entry is not None else None
        return prof.ttft_s + tokens / prof.output_tokens_per_s if prof else None

    def deployments(self) -> list[str]:
        return sorted(self._points)

    def snapshot(self) -> SignalSnapshot:
        """The signals as if measured over the whole log: p95 latencies, error rates, answer
        lengths per model and task; every circuit closed."""
        stats = {}
        for dep in set(self._attempts) | set(self._totals):
            tries = self._attempts.get(dep, [])
            totals, ttfts = self._totals.get(dep, []), self._ttfts.get(dep, [])
            stats[dep] = DeploymentStats(
                attempts=len(tries),
                error_rate=(tries.count(False) / len(tries)) if tries else 0.0,
                ttft_p95_s=_p95(ttfts),
                total_p95_s=_p95(totals),
            )
        output = {key: fmean(v) for key, v in self._output.items() if v}
        return SignalSnapshot(stats, output)
