"""The router's Grafana dashboard, built from code.

``python -m router.dashboard > deploy/grafana/dashboards/router.json`` regenerates the
committed file; a test fails when the two differ, and another evaluates every query
against a real Prometheus, so the dashboard cannot drift from :mod:`router.metrics`.

Variables make it fit any Prometheus: ``datasource`` (any Prometheus datasource), ``job``
(one scrape job at a time, single-valued, so the demo stack and production are never summed
together), ``instance`` and ``policy`` (multi-valued, "All" by default). Every selector
carries ``job="$job", instance=~"$instance"``, and ``policy=~"$policy"`` where the metric has
a policy label. Queries also use Grafana's ``$__rate_interval`` (and ``$__range`` for totals
in stat panels), so each expression is plain PromQL once those are substituted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "DASHBOARD_UID",
    "DATASOURCE_UID",
    "POLICY_METRICS",
    "VARIABLES",
    "build_dashboard",
    "iter_queries",
    "main",
]

# The datasource provisioned by the compose stack (deploy/grafana/provisioning/datasources):
# the variable's default there; anywhere else, Grafana offers every Prometheus datasource.
DATASOURCE_UID: Final = "router-prometheus"
DASHBOARD_UID: Final = "router-overview"
_DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
_RI: Final = "$__rate_interval"
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
# The template variables' query: any series every router exports.
_PRESENCE: Final = "router_requests_in_flight"

JSON = dict[str, Any]


def _s(metric: str, matchers: str = "") -> str:
    """``metric{job="$job", instance=~"$instance"[, policy=~"$policy"][, matchers]}``."""
    family = metric.removesuffix("_total").removesuffix("_bucket")
    labels = ['job="$job"', 'instance=~"$instance"']
    if family in POLICY_METRICS:
        labels.append('policy=~"$policy"')
    if matchers:
        labels.append(matchers)
    return f"{metric}{{{', '.join(labels)}}}"


def _rate(metric: str, by: str = "", matchers: str = "") -> str:
    """``sum by (by) (rate(metric{...}[$__rate_interval]))``; ``by`` may be empty."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({_s(metric, matchers)}[{_RI}]))"


def _quantile(q: float, histogram: str, by: str) -> str:
    buckets = _s(histogram + "_bucket")
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({buckets}[{_RI}])))"


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


def _ratio(num_filter: str, den_filter: str, metric: str, by: str) -> str:
    return f"{_rate(metric, by, num_filter)}\n/\n{_rate(metric, by, den_filter)}"


def _legend(by: str, prefix: str = "") -> str:
    labels = " ".join("{{" + label.strip() + "}}" for label in by.split(","))
    return f"{prefix} {labels}".strip()


def _per_second(metric: str, by: str, prefix: str = "") -> Query:
    """Per-second rate of a counter, one series per combination of ``by`` labels."""
    return Query(_rate(metric, by), _legend(by, prefix))


def _latency(
    title: str, description: str, histogram: str, by: str, top: float = 0.95, width: int = 8
) -> Panel:
    quantiles = (0.5, top)
    queries = [
        Query(_quantile(q, histogram, by), _legend(by, f"p{round(q * 100)}")) for q in quantiles
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
    f"{_rate('router_routing_decisions_total', 'policy, model')}\n"
    f"/ on (policy) group_left\n{_rate('router_routing_decisions_total', 'policy')}"
)
_CACHE_HIT_RATIO: Final = _ratio(
    'result="hit"', 'result=~"hit|miss"', "router_cache_lookups_total", "policy"
)
_ERROR_RATIO: Final = _ratio('status_class=~"4xx|5xx"', "", "router_requests_total", "model")


def _increase(metric: str, by: str, window: str = _RI) -> str:
    """Events per window, for discrete things best shown as bars."""
    return f"sum by ({by}) (increase({_s(metric)}[{window}]))"


def _in_range(metric: str) -> str:
    """A total over the dashboard's time range: for stat panels only (one number)."""
    return f"sum(increase({_s(metric)}[$__range]))"


# A budget's use: the latest reading of what is used over what config allows, per budget.
_BUDGET_USE: Final = (
    f"max by (scope, name, period) ({_s('router_budget_used_usd')})\n"
    f"/ on (scope, name, period)\n"
    f"max by (scope, name, period) ({_s('router_budget_limit_usd')})"
)

_RELOAD_MAPPINGS: Final = _value_names(("1", "served", "green"), ("0", "refused", "red"))


# (row title, panels) in display order; each description is the question it answers.
_LAYOUT: Final[Sequence[tuple[str, Sequence[Panel]]]] = (
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
              [Query(f"sum({_s('router_requests_in_flight')})", "in flight")], width=6),
        Panel("Load shedding", "Are requests being rejected because the router is overloaded?",
              [Query(_rate("router_overload_rejections_total"), "rejected")],
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
              [Query(f"3600 * {_rate('router_cost_usd_total', 'model')}", "{{model}}")],
              unit="currencyUSD", stack=True),
        Panel("Savings by policy", "How much per hour do routing and the cache save?",
              [Query(f"3600 * {_rate('router_savings_usd_total', 'policy')}",
                     "routing {{policy}}"),
               Query(f"3600 * {_rate('router_cache_avoided_cost_usd_total', 'policy')}",
                     "cache {{policy}}")],
              unit="currencyUSD"),
        Panel("Spend and savings in range",
              "What did the selected time range cost, and save against the baseline?",
              [Query(_in_range("router_cost_usd_total"), "spend"),
               Query(_in_range("router_savings_usd_total"), "saved"),
               Query(_in_range("router_baseline_cost_usd_total"), "baseline cost")],
              unit="currencyUSD", kind="stat"),
    )),
    ("Tenancy", (
        Panel("Spend by team", "What is each team spending per hour (names from config)?",
              [Query(f"3600 * {_rate('router_spend_usd_total', 'team')}", "{{team}}")],
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
              [Query(f"max by (deployment) ({_s('router_circuit_state')})", "{{deployment}}")],
              kind="state-timeline", width=12, extra={"mappings": _CIRCUIT_MAPPINGS}),
        Panel("Fallbacks", "When do we fall back from one deployment to another?",
              [Query(_increase("router_fallbacks_total", "from_deployment, to_deployment"),
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
              [Query(_increase("router_policy_reloads_total", "result"), "{{result}}")],
              bars=True, width=12),
        Panel("Config on disk served", "Is every router serving the config on disk?",
              [Query(f"min({_s('router_config_last_reload_success')})", "last reload")],
              kind="stat", width=6, extra={"mappings": _RELOAD_MAPPINGS}),
        Panel("Last config load", "When did a router last load its config?",
              [Query(f"1000 * max({_s('router_config_last_reload_timestamp_seconds')})",
                     "last load")],
              unit="dateTimeFromNow", kind="stat", width=6),
    )),
)  # fmt: skip


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> JSON:
    kind = panel.kind
    custom: JSON = {}
    if kind == "timeseries":
        custom = {
            "drawStyle": "bars" if panel.bars else "line",
            "fillOpacity": 30 if panel.stack or panel.bars else 10,
            "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
            "showPoints": "never",
        }
    defaults: JSON = {"unit": panel.unit, "custom": custom}
    defaults.update(panel.extra)
    return {
        "id": panel_id,
        "type": kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": dict(_DATASOURCE),
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": 8},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
        if kind == "timeseries"
        else {},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": dict(_DATASOURCE),
                "expr": q.expr,
                "legendFormat": q.legend,
                "range": True,
            }
            for i, q in enumerate(panel.queries)
        ],
    }


def _panels() -> Iterator[JSON]:
    panel_id, y = 1, 0
    for row_title, row_panels in _LAYOUT:
        yield {
            "id": panel_id,
            "type": "row",
            "title": row_title,
            "collapsed": False,
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
            "panels": [],
        }
        panel_id, y, x = panel_id + 1, y + 1, 0
        for panel in row_panels:
            if x + panel.width > 24:  # wrap to a new line of panels
                x, y = 0, y + 8
            yield _panel_json(panel, panel_id, x, y)
            panel_id, x = panel_id + 1, x + panel.width
        y += 8


def build_dashboard() -> JSON:
    """The complete dashboard model, as Grafana's provisioning expects it."""
    return {
        "uid": DASHBOARD_UID,
        "title": "Router",
        "description": "LLM gateway: traffic, latency, spend, routing, cache and resilience.",
        "tags": ["router", "llm"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "10s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": list(VARIABLES)},
        "annotations": {"list": []},
        "links": [],
        "panels": list(_panels()),
    }


def _query_variable(name: str, label: str, query: str, *, multi: bool) -> JSON:
    variable: JSON = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": dict(_DATASOURCE),
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,  # on time range change: new instances and policies show up
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "hide": 0,
    }
    if multi:
        variable["allValue"] = ".*"
        variable["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return variable


VARIABLES: Final[tuple[JSON, ...]] = (
    {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {"text": "Prometheus", "value": DATASOURCE_UID},
        "hide": 0,
        "includeAll": False,
        "multi": False,
    },
    # One job only: the demo stack (job router-demo) and production (job router) are
    # different jobs, and no panel may add them up.
    _query_variable("job", "Job", f"label_values({_PRESENCE}, job)", multi=False),
    _query_variable(
        "instance", "Instance", f'label_values({_PRESENCE}{{job="$job"}}, instance)', multi=True
    ),
    _query_variable(
        "policy",
        "Policy",
        'label_values(router_routing_decisions_total{job="$job", instance=~"$instance"}, policy)',
        multi=True,
    ),
)


def iter_queries(dashboard: JSON) -> Iterator[str]:
    """Every PromQL expression in a dashboard model (for tests and tooling)."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield str(target["expr"])


def main() -> int:
    """Write the dashboard JSON to stdout."""
    json.dump(build_dashboard(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
