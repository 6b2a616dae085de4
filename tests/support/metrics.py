"""Helpers for the metrics tests: repo paths, a traffic driver, tool lookup, free ports.

A plain module (not conftest) so test files can import it by name."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from router.metrics import Metrics, TenancyMetrics

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_JSON = REPO / "deploy" / "grafana" / "dashboards" / "router.json"


def find_tool(name: str) -> str:
    """Path of an external tool; skip when absent, except in CI where it must exist."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI but is not on PATH")
        pytest.skip(f"{name} is not installed")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def drive_traffic(m: Metrics, step: int = 0) -> None:
    """Record one round of plausible values touching every metric and the label values
    the dashboard filters on. ``step`` varies durations so quantiles move."""
    jitter = (step % 5) * 0.01
    for model, deployment, provider in (
        ("gpt-4o-mini", "gpt-4o-mini@openai", "openai"),
        ("claude-haiku", "claude-haiku@anthropic", "anthropic"),
    ):
        for code, cache in ((200, "miss"), (200, "hit"), (503, "miss"), (429, "bypass")):
            m.requests.labels(
                policy="cheap", model=model, status_class=f"{code // 100}xx", cache=cache
            ).inc()
        m.request_errors.labels(policy="cheap", model=model, error_type="upstream_5xx").inc()
        for stream in ("true", "false"):
            m.request_duration.labels(policy="cheap", model=model, stream=stream).observe(
                0.4 + jitter
            )
            m.overhead.labels(stream=stream).observe(0.0003 + jitter / 100)
        m.time_to_first_token.labels(policy="cheap", model=model, deployment=deployment).observe(
            0.15 + jitter
        )
        for outcome in ("success", "timeout"):
            m.upstream_attempts.labels(
                deployment=deployment, provider=provider, outcome=outcome
            ).inc()
            m.upstream_attempt_duration.labels(
                deployment=deployment, provider=provider, outcome=outcome
            ).observe(0.35 + jitter)
        m.record_tokens(model, deployment, input_tokens=120, output_tokens=40)
        m.record_cost(
            "cheap", model, deployment, 0.0004, baseline="gpt-4o", baseline_cost_usd=0.003
        )
        m.routing_decisions.labels(policy="cheap", rule="short-prompts", model=model).inc()
        m.retries.labels(deployment=deployment, reason="timeout").inc()
        m.stream_interruptions.labels(deployment=deployment, reason="upstream_reset").inc()
        m.set_circuit_state(deployment, "open" if step % 2 else "closed")
    m.fallbacks.labels(
        policy="cheap", from_deployment="gpt-4o-mini@openai", to_deployment="claude-haiku@anthropic"
    ).inc()
    m.hedges.labels(policy="cheap", outcome="won").inc()
    for result in ("hit", "miss", "bypass"):
        m.cache_lookups.labels(policy="cheap", result=result).inc()
    m.cache_writes.labels(policy="cheap", result="stored").inc()
    m.cache_avoided_cost_usd.labels(policy="cheap", model="gpt-4o-mini").inc(0.0004)
    m.redis_errors.labels(operation="get").inc()
    m.policy_reloads.labels(result="success").inc()
    m.requests_in_flight.set(3 + step % 2)
    m.overload_rejections.inc()
    tenancy = TenancyMetrics(m)
    tenancy.spent("platform", "ci-bot", 0.002)
    tenancy.spent("research", "notebook", 0.001)
    tenancy.refused("key", "ci-bot", "rpm")
    tenancy.refused("team", "platform", "budget_day")
    tenancy.store_error("allow")
    tenancy.deployment_skipped("gpt-4o-mini@openai", "tpm")
    tenancy.budgets_configured([("team", "platform", "day", 5.0)])
    tenancy.budget_used("team", "platform", "day", 1.0 + step * 0.5)
    m.record_log_written("jsonl", 5)
    m.record_log_dropped("queue_full")
