"""The dashboard as Grafana's JSON model: the template variables, the panels laid out on
Grafana's 24-column grid in rows, and ``main`` (``python -m router.dashboard``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Final

from router.dashboard.panels import JSON, LAYOUT, Panel

# The datasource provisioned by the compose stack (deploy/grafana/provisioning/datasources):
# the variable's default there; anywhere else, Grafana offers every Prometheus datasource.
DATASOURCE_UID: Final = "router-prometheus"
DASHBOARD_UID: Final = "router-overview"
_DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
# The template variables' query: any series every router exports.
_PRESENCE: Final = "router_requests_in_flight"


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
    for row_title, row_panels in LAYOUT:
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
