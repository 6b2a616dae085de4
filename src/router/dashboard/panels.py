"""What the dashboard shows: its panels, row by row, each with the question it answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from router.dashboard.promql import in_range, increase, quantile, rate, ratio, series

JSON = dict[str, Any]


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: Sequence[Query]
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 8
    stack: bool = False
    bars: bool = False  # discrete events read better as bars than as lines
    extra: JSON = field(default_factory=dict)


def _legend(by: str, prefix: str = "") -> str:
    labels = " ".join("{{" + label.strip() + "}}" for label in by.split(","))
    return f"{prefix} {labels}".strip()


def _per_second(metric: str, by: str, prefix: str = "") -> Query:
    """Per-second rate of a counter, one series per combination of ``by`` labels."""
    return Query(rate(metric, by), _legend(by, prefix))


def _latency(
    title: str, description: str, histogram: str, by: str, top: float = 0.95, width: int = 8
) -> Panel:
    quantiles = (0.5, top)
    queries = [
        Query(quantile(q, histogram, by), _legend(by, f"p{round(q * 100)}")) for q in quantiles
    ]
    return Panel(title, description, queries, unit="s", width=width)


def _traffic(title: str, description: str, counter: str, by: str) -> Panel:
    """Events per second stacked by ``by``: the whole stack is the total."""
    return Panel(title, description, [_per_second(counter, by)], unit="reqps", stack=True)


def _share(title: str, description: str, query: Query, extra: JSON | None = None) -> Panel:
    """A ratio, shown as a percentage."""
    return Panel(title, description, [query], unit="percentunit", extra=extra or {})


def _value_names(*names: tuple[str, str, str]) -> list[JSON]:
    """Grafana value mappings: each ``(value, text, color)``, in display order."""
    options = {
        value: {"text": text, "color": color, "index": i}
        for i, (value, text, color) in enumerate(names)
    }
    return [{"type": "value", "options": options}]


_CIRCUIT_MAPPINGS: Final = _value_names(
    ("0", "closed", "green"), ("1", "half-open", "yellow"), ("2", "open", "red")
)

_ROUTING_SHARE: Final = (
    f"{rate('router_routing_decisions_total', 'policy, model')}\n"
    f"/ on (policy) group_left\n{rate('router_routing_decisions_total', 'policy')}"
)
_CACHE_HIT_RATIO: Final = ratio(
    'result="hit"', 'result=~"hit|miss"', "router_cache_lookups_total", "policy"
)
_ERROR_RATIO: Final = ratio('status_class=~"4xx|5xx"', "", "router_requests_total", "model")

# A budget's use: the latest reading of what is used over what config allows, per budget.
_BUDGET_USE: Final = (
    f"max by (scope, name, period) ({series('router_budget_used_usd')})\n"
    f"/ on (scope, name, period)\n"
    f"max by (scope, name, period) ({series('router_budget_limit_usd')})"
)

_RELOAD_MAPPINGS: Final = _value_names(("1", "served", "green"), ("0", "refused", "red"))


# (row title, panels) in display order; each description is the question it answers.
LAYOUT: Final[Sequence[tuple[str, Sequence[Panel]]]] = (
    ("Traffic and errors", (
        _traffic("Requests by model and status",
                 "How much traffic does each logical model get, and how much of it fails?",
                 "router_requests_total", "model, status_class"),
        _share("Error ratio by model",
               "What share of each model's requests end in a 4xx or 5xx?",
               Query(_ERROR_RATIO, "{{model}}")),
        _traffic("Errors by type", "Which kinds of error do clients see, per model?",
                 "router_request_errors_total", "model, error_type"),
        Panel("In-flight requests", "How busy is the router right now (all workers)?",
              [Query(f"sum({series('router_requests_in_flight')})", "in flight")], width=6),
        Panel("Load shedding", "Are requests being rejected because the router is overloaded?",
              [Query(rate("router_overload_rejections_total"), "rejected")],
              unit="reqps", width=6),
        Panel("Stream interruptions", "How often do streams break after the first byte, and why?",
              [_per_second("router_stream_interruptions_total", "deployment, reason")],
              unit="reqps", width=12),
    )),
    ("Latency", (
        _latency("Request latency by model",
                 "How long do clients wait for a whole answer (p50, p95)?",
                 "router_request_duration_seconds", "model"),
        _latency("Upstream latency by deployment",
                 "How fast is each deployment per call (p50, p95)?",
                 "router_upstream_attempt_duration_seconds", "deployment"),
        _latency("Time to first token by deployment",
                 "How soon does each deployment start streaming (p50, p95)?",
                 "router_time_to_first_token_seconds", "deployment"),
        _latency("Router overhead",
                 "What does the router itself add, beyond waiting on upstreams (p50, p99)?",
                 "router_overhead_seconds", "stream", top=0.99, width=12),
        Panel("Tokens by model", "How many input and output tokens flow through each model?",
              [_per_second("router_tokens_total", "model, direction")], stack=True, width=12),
    )),
    ("Spend and savings", (
        Panel("Spend by model", "What are we spending per hour, and on which model?",
              [Query(f"3600 * {rate('router_cost_usd_total', 'model')}", "{{model}}")],
              unit="currencyUSD", stack=True),
        Panel("Savings by policy", "How much per hour do routing and the cache save?",
              [Query(f"3600 * {rate('router_savings_usd_total', 'policy')}",
                     "routing {{policy}}"),
               Query(f"3600 * {rate('router_cache_avoided_cost_usd_total', 'policy')}",
                     "cache {{policy}}")],
              unit="currencyUSD"),
        Panel("Spend and savings in range",
              "What did the selected time range cost, and save against the baseline?",
              [Query(in_range("router_cost_usd_total"), "spend"),
               Query(in_range("router_savings_usd_total"), "saved"),
               Query(in_range("router_baseline_cost_usd_total"), "baseline cost")],
              unit="currencyUSD", kind="stat"),
    )),
    ("Tenancy", (
        Panel("Spend by team", "What is each team spending per hour (names from config)?",
              [Query(f"3600 * {rate('router_spend_usd_total', 'team')}", "{{team}}")],
              unit="currencyUSD", stack=True),
        _share("Budget use", "How much of each key's and team's budget is used this period?",
               Query(_BUDGET_USE, "{{scope}} {{name}} {{period}}"), extra={"max": 1, "min": 0}),
        Panel("Limits", "Who is refused by a limit or budget; which deployments are at quota; "
              "does the limits store fail?",
              [_per_second("router_limit_refusals_total", "scope, name, limit", "refused"),
               _per_second("router_deployment_quota_skips_total", "deployment, limit",
                           "at quota"),
               _per_second("router_limit_store_errors_total", "on_error", "store error")],
              unit="reqps"),
    )),
    ("Routing and cache", (
        _share("Routing share by policy and model",
               "Within each policy, what share of decisions goes to each model?",
               Query(_ROUTING_SHARE, "{{policy}} → {{model}}")),
        _traffic("Rules fired", "Which policy rules match, and how often?",
                 "router_routing_decisions_total", "policy, rule"),
        _share("Cache hit ratio", "What share of cacheable lookups are answered from the cache?",
               Query(_CACHE_HIT_RATIO, "{{policy}}")),
    )),
    ("Resilience", (
        Panel("Circuit state", "Is any worker's breaker for a deployment half-open or open?",
              [Query(f"max by (deployment) ({series('router_circuit_state')})", "{{deployment}}")],
              kind="state-timeline", width=12, extra={"mappings": _CIRCUIT_MAPPINGS}),
        Panel("Fallbacks", "When do we fall back from one deployment to another?",
              [Query(increase("router_fallbacks_total", "from_deployment, to_deployment"),
                     "{{from_deployment}} → {{to_deployment}}")],
              bars=True, width=12),
        _traffic("Upstream attempts by outcome",
                 "Which deployments succeed, fail, time out or get throttled?",
                 "router_upstream_attempts_total", "deployment, outcome"),
        Panel("Retries, hedges and breaker flaps",
              "How much extra upstream work do retries and hedges cost; do breakers flap?",
              [_per_second("router_retries_total", "deployment, reason", "retry"),
               _per_second("router_hedges_total", "outcome", "hedge"),
               _per_second("router_circuit_transitions_total", "deployment, to_state",
                           "breaker")],
              unit="ops"),
        Panel("Redis errors", "Is Redis (cache, shared state) healthy?",
              [_per_second("router_redis_errors_total", "operation", "redis"),
               _per_second("router_cache_writes_total", "result", "cache write")],
              unit="ops"),
        Panel("Config reloads", "How often are policies reloaded, and are any refused?",
              [Query(increase("router_policy_reloads_total", "result"), "{{result}}")],
              bars=True, width=12),
        Panel("Config on disk served", "Is every router serving the config on disk?",
              [Query(f"min({series('router_config_last_reload_success')})", "last reload")],
              kind="stat", width=6, extra={"mappings": _RELOAD_MAPPINGS}),
        Panel("Last config load", "When did a router last load its config?",
              [Query(f"1000 * max({series('router_config_last_reload_timestamp_seconds')})",
                     "last load")],
              unit="dateTimeFromNow", kind="stat", width=6),
    )),
)  # fmt: skip
