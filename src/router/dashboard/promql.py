"""The dashboard's PromQL: every selector carries the dashboard's variables (``job``,
``instance``, and ``policy`` where the metric has that label), and rates use Grafana's
``$__rate_interval``."""

from __future__ import annotations

from typing import Final

RATE_INTERVAL: Final = "$__rate_interval"
# Metrics with a ``policy`` label: the policy variable filters these (a test keeps this list
# equal to router.metrics).
POLICY_METRICS: Final = frozenset(
    {
        "router_requests",
        "router_request_errors",
        "router_request_duration_seconds",
        "router_time_to_first_token_seconds",
        "router_cost_usd",
        "router_baseline_cost_usd",
        "router_savings_usd",
        "router_routing_decisions",
        "router_fallbacks",
        "router_hedges",
        "router_cache_lookups",
        "router_cache_writes",
        "router_cache_avoided_cost_usd",
    }
)


def series(metric: str, matchers: str = "") -> str:
    """``metric{job="$job", instance=~"$instance"[, policy=~"$policy"][, matchers]}``."""
    family = metric.removesuffix("_total").removesuffix("_bucket")
    labels = ['job="$job"', 'instance=~"$instance"']
    if family in POLICY_METRICS:
        labels.append('policy=~"$policy"')
    if matchers:
        labels.append(matchers)
    return f"{metric}{{{', '.join(labels)}}}"


def rate(metric: str, by: str = "", matchers: str = "") -> str:
    """``sum by (by) (rate(metric{...}[$__rate_interval]))``; ``by`` may be empty."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({series(metric, matchers)}[{RATE_INTERVAL}]))"


def quantile(q: float, histogram: str, by: str) -> str:
    buckets = series(histogram + "_bucket")
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({buckets}[{RATE_INTERVAL}])))"


def ratio(num_filter: str, den_filter: str, metric: str, by: str) -> str:
    return f"{rate(metric, by, num_filter)}\n/\n{rate(metric, by, den_filter)}"


def increase(metric: str, by: str, window: str = RATE_INTERVAL) -> str:
    """Events per window, for discrete things best shown as bars."""
    return f"sum by ({by}) (increase({series(metric)}[{window}]))"


def in_range(metric: str) -> str:
    """A total over the dashboard's time range: for stat panels only (one number)."""
    return f"sum(increase({series(metric)}[$__range]))"
