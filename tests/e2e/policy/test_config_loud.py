"""Misconfiguration is loud: a deployment this environment cannot call (its key variable unset
or empty, a placeholder host) is reported at start and on reload and left out of routing with
its reason; a reload whose own policy tests fail is refused like any broken config."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support.routing import (
    chat,
    cli_env,
    explain,
    free_port,
    metric,
    routed,
    scrape,
    wait_for,
    write_atomically,
    write_config,
)
from support.stack import Emulators, RouterFactory

POLICIES = """\
policies:
  pick:
    default: true
    retry: {max_retries: 0}
    rules:
      - name: first
        objective: priority
        candidates: [gpt-4o@openai, gpt-4o@azure]
"""
PASSING_TEST = """\
tests:
  - name: openai first
    request: {model: auto, messages: [{role: user, content: hi}]}
    expect: {deployment: gpt-4o@openai}
"""
FAILING_TEST = PASSING_TEST.replace("gpt-4o@openai}", "gpt-4o@azure}")
WATCH_S = 0.2


def _without_key(directory: Path, deployment_url: str, variable: str) -> None:
    """Point the deployment at ``deployment_url`` to a key variable that is not set."""
    path = directory / "router.yaml"
    text = path.read_text()
    at = text.index(f"base_url: {deployment_url}\n")
    head, tail = text[:at], text[at:]
    tail = tail.replace("api_key_env: ROUTER_DEMO_PROVIDER_KEY", f"api_key_env: {variable}", 1)
    path.write_text(head + tail)


def test_a_deployment_without_its_key_is_left_out_with_its_reason(
    tmp_path: Path,
    emulators: Emulators,
    start_router: RouterFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = write_config(tmp_path / "c", emulators, POLICIES)
    _without_key(cfg, emulators.openai.url, "TRUST_TEST_UNSET_KEY")
    caplog.set_level(logging.WARNING)
    router = start_router(cfg)
    assert (
        "deployment gpt-4o@openai is excluded from routing: its key variable "
        "TRUST_TEST_UNSET_KEY is unset"
    ) in caplog.text
    resp = chat(router)
    assert resp.status_code == 200
    assert routed(resp) == "gpt-4o@azure"
    assert emulators.openai.requests == []  # never called without credentials
    decision = explain(router).json()
    assert decision["excluded"] == [
        {
            "deployment": "gpt-4o@openai",
            "reason": "its key variable TRUST_TEST_UNSET_KEY is unset",
            "kind": "config",
        }
    ]
    ready = httpx.get(f"{router.base_url}/readyz", timeout=5).json()
    assert ready["deployments"]["unusable"] == {
        "gpt-4o@openai": "its key variable TRUST_TEST_UNSET_KEY is unset"
    }
    # Asked for by name, it is not tried either: the other deployment of the model answers.
    direct = chat(router, "gpt-4o")
    assert routed(direct) == "gpt-4o@azure"


def test_a_reload_reports_what_the_new_config_lacks(
    tmp_path: Path,
    emulators: Emulators,
    start_router: RouterFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = write_config(tmp_path / "c", emulators, POLICIES)
    router = start_router(cfg, watch_interval_s=WATCH_S)
    caplog.set_level(logging.WARNING)
    _without_key(cfg, emulators.azure.url, "TRUST_TEST_OTHER_UNSET_KEY")
    wait_for(lambda: "TRUST_TEST_OTHER_UNSET_KEY is unset" in caplog.text, timeout=5)
    wait_for(
        lambda: (
            explain(router).json()["excluded"]
            == [
                {
                    "deployment": "gpt-4o@azure",
                    "reason": "its key variable TRUST_TEST_OTHER_UNSET_KEY is unset",
                    "kind": "config",
                }
            ]
        ),
        timeout=5,
    )


def test_a_reload_whose_policy_tests_fail_is_refused(
    tmp_path: Path,
    emulators: Emulators,
    start_router: RouterFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = write_config(tmp_path / "c", emulators, POLICIES)
    write_atomically(cfg / "tests.yaml", PASSING_TEST)
    router = start_router(cfg, watch_interval_s=WATCH_S)
    caplog.set_level(logging.INFO)
    write_atomically(cfg / "policies.yaml", POLICIES.replace("openai, gpt-4o@azure", "azure"))
    wait_for(lambda: metric(scrape(router), "router_policy_reloads_total", result="failure") == 1)
    assert routed(chat(router)) == "gpt-4o@openai"  # the previous policies keep serving
    ready = httpx.get(f"{router.base_url}/readyz", timeout=5).json()
    assert (
        "openai first: expected deployment 'gpt-4o@openai'" in ready["config"]["last_reload_error"]
    )
    # A change that keeps its tests green goes in, and the reload is logged.
    write_atomically(cfg / "tests.yaml", FAILING_TEST)
    wait_for(lambda: routed(chat(router)) == "gpt-4o@azure")
    assert metric(scrape(router), "router_policy_reloads_total", result="success") == 1
    assert "config reloaded from" in caplog.text


def test_router_serve_refuses_to_start_when_its_policy_tests_fail(
    tmp_path: Path, emulators: Emulators
) -> None:
    cfg = write_config(tmp_path / "c", emulators, POLICIES)
    write_atomically(cfg / "tests.yaml", FAILING_TEST)
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(cfg), "--port",
         str(free_port())],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "tests.yaml:" in done.stderr
    assert "openai first: expected deployment 'gpt-4o@azure'" in done.stderr
