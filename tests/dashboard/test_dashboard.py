"""The committed dashboard is the generated one, and it only queries declared metrics."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from router import dashboard
from router.dashboard import DATASOURCE_UID, POLICY_METRICS, build_dashboard, iter_queries
from router.metrics import Metrics
from support.metrics import DASHBOARD_JSON, REPO

METRIC_NAME = re.compile(r"\b(router_[a-zA-Z0-9_:]+)")
# A metric name and the label matchers right after it.
SELECTOR = re.compile(r"\b(router_[a-zA-Z0-9_:]+)(\{[^}]*\})?")


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
        "router_cache_lookups_total",
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
        assert panel["datasource"]["uid"] == "${datasource}"
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


def test_variables_pick_a_datasource_one_job_and_any_instances_and_policies() -> None:
    variables = {v["name"]: v for v in build_dashboard()["templating"]["list"]}
    assert list(variables) == ["datasource", "job", "instance", "policy"]
    source = variables["datasource"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    assert source["current"]["value"] == DATASOURCE_UID  # the compose stack's, by default
    job = variables["job"]
    # Single-valued with no "All": the demo job and production can never be summed together.
    assert not job["multi"]
    assert not job["includeAll"]
    for name in ("instance", "policy"):
        assert variables[name]["multi"]
        assert variables[name]["includeAll"]
        assert variables[name]["allValue"] == ".*"
        assert '"$job"' in variables[name]["definition"]


def test_every_selector_is_scoped_to_the_variables() -> None:
    for expr in iter_queries(build_dashboard()):
        for metric, matchers in SELECTOR.findall(expr):
            assert 'job="$job"' in matchers, f"{metric} in {expr!r} is not scoped to one job"
            assert 'instance=~"$instance"' in matchers, expr
            family = metric.removesuffix("_total").removesuffix("_bucket")
            if family in POLICY_METRICS:
                assert 'policy=~"$policy"' in matchers, expr


def test_policy_metrics_are_exactly_those_with_a_policy_label() -> None:
    metrics = Metrics.create()
    declared = {
        getattr(metrics, field)._name
        for field in metrics.__dataclass_fields__
        if "policy" in getattr(getattr(metrics, field), "_labelnames", ())
    }
    assert declared == POLICY_METRICS


def test_the_reloads_panel_counts_per_interval_not_per_range() -> None:
    # $__range in a time series repeats the whole range's total at every point.
    for panel in build_dashboard()["panels"]:
        if panel["type"] == "timeseries":
            for target in panel["targets"]:
                assert "$__range" not in target["expr"], panel["title"]
    titles = {p["title"] for p in build_dashboard()["panels"]}
    assert {"Config reloads", "Config on disk served", "Last config load"} <= titles


def test_dashboard_provider_points_where_compose_mounts_the_json() -> None:
    provisioning = REPO / "deploy/grafana/provisioning/dashboards/router.yml"
    provider = yaml.safe_load(provisioning.read_text())
    path = provider["providers"][0]["options"]["path"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in mounts
    assert json.loads(DASHBOARD_JSON.read_text())["uid"] == build_dashboard()["uid"]
