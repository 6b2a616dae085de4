"""Router-level events outside one request's pipeline: hot reloads and load shedding."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from router.emulators import Behaviour
from support.stack import Emulators, RouterFactory
from support.traffic import Scrape, append_yaml, chat, set_server


def _wait_for(probe: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_reloads_count_successes_and_failures(
    start_router: RouterFactory, config_dir: Path
) -> None:
    running = start_router(config_dir, watch_interval_s=0.1)
    url = running.base_url

    def reloads(result: str) -> float | None:
        return Scrape.get(url).value("router_policy_reloads_total", result=result)

    def gauge(name: str) -> float | None:
        return Scrape.get(url).value(name)

    assert reloads("success") is None
    # Start-up counts as a successful load, stamped with the time it happened.
    assert gauge("router_config_last_reload_success") == 1
    started = gauge("router_config_last_reload_timestamp_seconds")
    assert started is not None
    assert abs(started - time.time()) < 60
    append_yaml(config_dir, "# a harmless edit\n")
    _wait_for(lambda: reloads("success") == 1, "a successful reload")
    assert gauge("router_config_last_reload_success") == 1
    append_yaml(config_dir, "server:\n  max_in_flight: -1\n")  # invalid: refused
    _wait_for(lambda: reloads("failure") == 1, "a refused reload")
    assert reloads("success") == 1
    assert gauge("router_config_last_reload_success") == 0
    assert (gauge("router_config_last_reload_timestamp_seconds") or 0) >= started
    # Still serving on the previous config.
    assert chat(url, "gpt-4o", "still there?").status_code == 200
    assert httpx.get(f"{url}/readyz").json()["config"]["last_reload_error"]


def test_every_deployment_has_a_circuit_state_from_the_start(
    start_router: RouterFactory, config_dir: Path
) -> None:
    from router.config.check import load_checked

    deployments = load_checked(config_dir).catalog.deployments
    scrape = Scrape.get(start_router(config_dir).base_url)  # no request sent yet
    states = {
        dict(labels)["deployment"]: value
        for (name, labels), value in scrape.samples.items()
        if name == "router_circuit_state"
    }
    assert states == dict.fromkeys(deployments, 0.0)  # all closed
    assert scrape.total("router_circuit_transitions_total") == 0  # none counted as a change


def test_shed_requests_are_counted_apart(
    start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    set_server(config_dir, max_in_flight=1)
    running = start_router(config_dir)
    url = running.base_url
    emulators.openai.plan(Behaviour(latency_s=1.0), times=1)
    answers: list[httpx.Response] = []
    slow = threading.Thread(target=lambda: answers.append(chat(url, "gpt-4o", "slow")))
    before = Scrape.get(url)
    slow.start()
    try:
        _wait_for(lambda: Scrape.get(url).value("router_requests_in_flight") == 1, "in flight")
        shed = chat(url, "gpt-4o", "one too many")
    finally:
        slow.join(timeout=30)
    assert shed.status_code == 503
    assert shed.json()["error"]["code"] == "overloaded"
    assert shed.headers["retry-after"] == "1"
    assert [a.status_code for a in answers] == [200]
    after = Scrape.get(url)
    assert before.value("router_overload_rejections_total") == 0
    assert after.value("router_overload_rejections_total") == 1
    # Only the admitted request reached the pipeline and upstream.
    assert after.total("router_requests_total") == 1
    assert after.total("router_routing_decisions_total") == 1
    assert len(emulators.openai.requests) == 1
    assert after.value("router_requests_in_flight") == 0
