"""Operational events as structured log lines: start-up, config reloads (success and refusal),
circuit changes and the cache store's health; none carries a secret."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from router.emulators import Behaviour
from router.logs import fields_of
from support.stack import Emulators, RouterFactory
from support.traffic import append_yaml, chat, set_server


def _events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, object]]:
    return [
        {"level": r.levelname, "logger": r.name, **fields_of(r)}
        for r in caplog.records
        if fields_of(r).get("event") == name
    ]


def _wait_for(probe: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_startup_says_what_is_served(
    start_router: RouterFactory, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    start_router(config_dir)
    [started] = _events(caplog, "startup")
    assert started["logger"] == "router.events"
    assert started["deployments"] == 4  # the test catalog's
    assert started["store"] == "memory"
    assert started["auth"] == "off"
    assert started["tracing"] == "off"


def test_reloads_are_logged_as_successes_and_refusals(
    start_router: RouterFactory, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    start_router(config_dir, watch_interval_s=0.1)
    append_yaml(config_dir, "# a harmless edit\n")
    _wait_for(lambda: _events(caplog, "config_reloaded"), "a reload")
    append_yaml(config_dir, "server:\n  max_in_flight: -1\n")
    _wait_for(lambda: _events(caplog, "config_refused"), "a refusal")
    [refused] = _events(caplog, "config_refused")
    assert refused["level"] == "ERROR"
    assert "router.yaml" in str(refused["error"])  # file:line:column of the problem
    assert str(refused["path"]) == str(config_dir)


def test_circuit_changes_are_logged(
    start_router: RouterFactory,
    config_dir: Path,
    emulators: Emulators,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    set_server(config_dir, circuit_failures=1)
    running = start_router(config_dir)
    emulators.foundry.plan(Behaviour(status=500), times=5)
    chat(running.base_url, "mai-code-1-flash", "fail please")
    opened = [e for e in _events(caplog, "circuit") if e["state"] == "open"]
    assert opened
    assert opened[0]["deployment"] == "mai-code-1-flash@foundry"
    assert opened[0]["level"] == "WARNING"


def test_a_failing_store_is_logged_once_without_its_url(
    start_router: RouterFactory, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    append_yaml(
        config_dir,
        'policies:\n  cached:\n    cache: {mode: "on"}\n'
        "    rules: [{name: any, candidates: [gpt-4o]}]\n",
    )
    dead = "redis://:s3cret-password@127.0.0.1:1/0"  # nothing listens on port 1
    running = start_router(config_dir, environ={**os.environ, "REDIS_URL": dead})
    for _ in range(3):
        assert chat(running.base_url, "cached", "hello").status_code == 200
    down = _events(caplog, "store_health")
    assert len(down) == 1  # a change, not every failure
    assert down[0]["healthy"] is False
    assert down[0]["logger"] == "router.store"
    assert all(
        "s3cret" not in r.getMessage() and "s3cret" not in str(fields_of(r)) for r in caplog.records
    )
