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

Modules: ``promql`` (selectors and expressions), ``panels`` (what each row shows, and the
question each panel answers), ``grafana`` (the JSON model: variables, grid layout, ``main``).
Imports nothing of router's.
"""

from router.dashboard.grafana import (
    DASHBOARD_UID,
    DATASOURCE_UID,
    VARIABLES,
    build_dashboard,
    iter_queries,
    main,
)
from router.dashboard.promql import POLICY_METRICS

__all__ = [
    "DASHBOARD_UID",
    "DATASOURCE_UID",
    "POLICY_METRICS",
    "VARIABLES",
    "build_dashboard",
    "iter_queries",
    "main",
]
