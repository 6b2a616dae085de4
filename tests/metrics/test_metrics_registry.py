"""Naming and labelling conventions, read back from what the registry exposes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

import router.metrics
from router.metrics import CIRCUIT_STATES, Metrics, status_class
from support.metrics import drive_traffic

# The only label names allowed: each has a small, bounded set of values.
ALLOWED_LABELS = {
    "policy", "model", "status_class", "cache", "error_type", "stream", "deployment",
    "provider", "outcome", "direction", "baseline", "rule", "reason", "from_deployment",
    "to_deployment", "to_state", "result", "operation", "sink",
    # Tenancy: names from config (a key's configured name, never the key), and small enums.
    "team", "key", "scope", "name", "limit", "period", "on_error",
}  # fmt: skip
FORBIDDEN_HINTS = ("user", "api_key", "token_id", "ip", "email", "prompt", "request_id", "tenant")


def _families(m: Metrics) -> dict[str, object]:
    body, _ = m.render()
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def _metric_fields(m: Metrics) -> dict[str, Counter | Gauge | Histogram]:
    return {
        f.name: getattr(m, f.name)
        for f in dataclasses.fields(m)
        if isinstance(getattr(m, f.name), Counter | Gauge | Histogram)
    }


def test_every_metric_is_named_by_convention_and_exposed() -> None:
    m = Metrics.create()
    drive_traffic(m)
    body, content_type = m.render()
    assert content_type.startswith("text/plain")
    families = list(text_string_to_metric_families(body.decode()))
    router_families = [f for f in families if f.name.startswith("router_")]
    declared = {metric._name for metric in _metric_fields(m).values()}
    assert declared <= {f.name for f in router_families}
    for family in families:
        assert family.name.startswith("router_"), family.name
        assert family.samples, f"{family.name} has no samples: drive_traffic misses it"
        for sample in family.samples:
            if family.type == "counter" and not sample.name.endswith("_created"):
                assert sample.name.endswith("_total"), sample.name
            if family.type == "histogram":
                assert family.name.endswith("_seconds"), f"{family.name}: durations in seconds"
            if family.type == "gauge":
                assert not sample.name.endswith("_total"), sample.name
            for label in sample.labels:
                if label == "le":
                    continue
                assert label in ALLOWED_LABELS, f"{sample.name} has unbounded label {label!r}"
                assert not any(hint in label for hint in FORBIDDEN_HINTS), label


def test_money_counters_say_their_unit() -> None:
    m = Metrics.create()
    money = [name for name in m.sample_names() if "cost" in name or "savings" in name]
    assert money, "no cost metrics declared"
    assert all("_usd_" in name for name in money), money


def test_each_create_has_its_own_registry_and_leaves_the_global_one_alone() -> None:
    first, second = Metrics.create(), Metrics.create()
    assert first.registry is not second.registry
    first.overload_rejections.inc()
    assert first.registry.get_sample_value("router_overload_rejections_total") == 1.0
    assert second.registry.get_sample_value("router_overload_rejections_total") == 0.0
    assert REGISTRY.get_sample_value("router_overload_rejections_total") is None


def test_every_attribute_is_registered_and_documented() -> None:
    m = Metrics.create()
    exposed = m.sample_names()
    doc = router.metrics.__doc__ or ""
    fields = _metric_fields(m)
    assert len(fields) == 35
    for attr, metric in fields.items():
        name = metric._name  # the family name prometheus_client registered
        suffix = "_total" if isinstance(metric, Counter) else ""
        shown = name + suffix if isinstance(metric, Counter | Gauge) else name + "_count"
        assert shown in exposed, f"{attr} ({name}) is not on the registry"
        assert f"``{name}{suffix}" in doc, f"{name} missing from the module docstring table"


@pytest.mark.parametrize(
    ("code", "expected"), [(200, "2xx"), (204, "2xx"), (429, "4xx"), (503, "5xx"), (42, "other")]
)
def test_status_class(code: int, expected: str) -> None:
    assert status_class(code) == expected


def test_record_cost_never_lets_savings_go_negative() -> None:
    m = Metrics.create()
    m.record_cost("p", "big", "big@openai", 0.5, baseline="mid", baseline_cost_usd=0.2)
    m.record_cost("p", "big", "big@openai", 0.1, baseline="mid", baseline_cost_usd=0.4)
    m.record_cost("p", "big", "big@openai", 0.1)  # no baseline configured
    get = m.registry.get_sample_value
    labels = {"policy": "p", "model": "big", "baseline": "mid"}
    assert get(
        "router_cost_usd_total", {"policy": "p", "model": "big", "deployment": "big@openai"}
    ) == pytest.approx(0.7)
    assert get("router_baseline_cost_usd_total", labels) == pytest.approx(0.6)
    assert get("router_savings_usd_total", labels) == pytest.approx(0.3)


def test_record_tokens_counts_both_directions() -> None:
    m = Metrics.create()
    m.record_tokens("small", "small@azure", input_tokens=100, output_tokens=7)
    get = m.registry.get_sample_value
    base = {"model": "small", "deployment": "small@azure"}
    assert get("router_tokens_total", {**base, "direction": "input"}) == 100
    assert get("router_tokens_total", {**base, "direction": "output"}) == 7


def test_circuit_state_is_encoded_worst_highest_and_transitions_counted() -> None:
    assert CIRCUIT_STATES["closed"] < CIRCUIT_STATES["half_open"] < CIRCUIT_STATES["open"]
    m = Metrics.create()
    m.set_circuit_state("d", "open")
    m.set_circuit_state("d", "half_open")
    m.set_circuit_state("d", "half_open", transition=False)  # a refresh, not a change
    get = m.registry.get_sample_value
    assert get("router_circuit_state", {"deployment": "d"}) == 1
    assert get("router_circuit_transitions_total", {"deployment": "d", "to_state": "open"}) == 1
    assert (
        get("router_circuit_transitions_total", {"deployment": "d", "to_state": "half_open"}) == 1
    )


def test_multiprocess_dir_must_exist_and_agree_with_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both checks run before anything process-wide changes, so this is safe in-process.
    with pytest.raises(ValueError, match="not a directory"):
        Metrics.create(str(tmp_path / "missing"))
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(other))
    with pytest.raises(ValueError, match="disagrees"):
        Metrics.create(str(tmp_path))


def test_no_created_series_are_exported() -> None:
    m = Metrics.create()
    m.requests.labels("p", "m", "2xx", "miss").inc()
    m.request_duration.labels("p", "m", "false").observe(0.1)
    body = m.render()[0].decode()
    assert "router_requests_total{" in body
    assert "_created" not in body


def test_config_load_gauges_say_success_and_when() -> None:
    m = Metrics.create()
    get = m.registry.get_sample_value
    m.config_loaded(True, 1_700_000_000.0)
    assert get("router_config_last_reload_success") == 1
    m.config_loaded(False, 1_700_000_060.0)
    assert get("router_config_last_reload_success") == 0
    assert get("router_config_last_reload_timestamp_seconds") == 1_700_000_060.0


def test_single_process_mark_process_dead_is_a_no_op() -> None:
    m = Metrics.create()
    m.requests_in_flight.set(2)
    m.mark_process_dead()
    assert m.registry.get_sample_value("router_requests_in_flight") == 2
