"""The committed dashboard is the generated one, and it only queries declared metrics."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from metrics_support import DASHBOARD_JSON, REPO

from router import dashboard
from router.dashboard import DATASOURCE_UID, build_dashboard, iter_queries
from router.metrics import Metrics

METRIC_NAME = re.compile(r"\b(router_[a-zA-Z0-9_:]+)")


def test_committed_json_equals_generated(capsys: pytest.CaptureFixture[str]) -> None:
    assert dashboard.main() == 0
    generated = capsys.readouterr().out
    committed = DASHBOARD_JSON.read_text(encoding="utf-8")
    assert committed == generated, (
        "deploy/grafana/dashboards/router.json is stale: run "
        "`python -m router.dashboard > deploy/grafana/dashboards/router.json`"
    )


def test_every_query_uses_only_declared_metrics() -> None:
    exposed = Metrics.create().sample_names()
    queries = list(iter_queries(build_dashboard()))
    assert len(queries) >= 20
    used: set[str] = set()
    for expr in queries:
        names = set(METRIC_NAME.findall(expr))
        assert names, f"query references no router metric: {expr}"
        unknown = names - exposed
        assert not unknown, f"{sorted(unknown)} not declared in router.metrics: {expr}"
        used |= names
    # The panels the issue asks for are all there.
    for required in (
        "router_requests_total",
        "router_request_duration_seconds_bucket",
        "router_time_to_first_token_seconds_bucket",
        "router_cost_usd_total",
        "router_savings_usd_total",
        "router_routing_decisions_total",
        "router_cache_requests_total",
        "router_circuit_state",
        "router_fallbacks_total",
        "router_overhead_seconds_bucket",
        "router_tokens_total",
        "router_requests_in_flight",
    ):
        assert required in used, f"no panel shows {required}"


def test_panels_use_the_provisioned_datasource_and_fit_the_grid() -> None:
    provisioned = yaml.safe_load(
        (REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert [d["uid"] for d in provisioned["datasources"]] == [DATASOURCE_UID]
    board = build_dashboard()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    occupied: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["description"].endswith("?"), "each panel states its question"
        assert panel["datasource"]["uid"] == DATASOURCE_UID
        assert all(t["datasource"]["uid"] == DATASOURCE_UID for t in panel["targets"])


def test_dashboard_provider_points_where_compose_mounts_the_json() -> None:
    provisioning = REPO / "deploy/grafana/provisioning/dashboards/router.yml"
    provider = yaml.safe_load(provisioning.read_text())
    path = provider["providers"][0]["options"]["path"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in mounts
    assert json.loads(DASHBOARD_JSON.read_text())["uid"] == build_dashboard()["uid"]
