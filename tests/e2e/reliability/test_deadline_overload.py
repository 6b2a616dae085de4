"""The whole-request deadline (``x-router-timeout``, capped by the policy's ``deadline_s``) and
the per-worker in-flight limit (``server.max_in_flight``: beyond it, a quick 503)."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from pathlib import Path

import httpx

from router.emulators import Behaviour
from support.reliability import HELLO, Metrics, add_policy, post, set_server
from support.stack import Emulators, RouterFactory, RunningRouter


def test_client_deadline_ends_the_request_with_504(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(latency_s=5), times=1)
    t0 = time.monotonic()
    resp = post(router, HELLO, headers={"x-router-timeout": "0.5"})
    assert time.monotonic() - t0 < 1.5
    assert resp.status_code == 504
    body = resp.json()["error"]
    assert body["code"] == "deadline_exceeded"
    assert "request deadline exceeded" in body["message"]
    assert emulators.azure.requests == []  # no time was left for a fallback
    # The client's own deadline: an attempt cut short, not a timeout of the deployment.
    assert Metrics(router).value("router_upstream_attempts_total", outcome="deadline") == 1
    assert Metrics(router).value("router_upstream_attempts_total", outcome="timeout") == 0


def test_policy_deadline_caps_a_longer_client_deadline(
    start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    add_policy(
        config_dir,
        """\
policies:
  brief:
    deadline_s: 0.5
    rules:
      - name: all
        objective: priority
        candidates: [gpt-4o]
""",
    )
    running = start_router(config_dir)
    emulators.openai.plan(Behaviour(latency_s=5), times=1)
    t0 = time.monotonic()
    resp = post(running, {**HELLO, "model": "brief"}, headers={"x-router-timeout": "60"})
    assert time.monotonic() - t0 < 1.5
    assert resp.status_code == 504


def test_bad_deadline_header_is_400(router: RunningRouter) -> None:
    resp = post(router, HELLO, headers={"x-router-timeout": "soon"})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "x-router-timeout"


def test_overload_is_a_quick_503_with_retry_after_and_in_flight_stays_bounded(
    start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    limit, clients = 2, 8
    set_server(config_dir, max_in_flight=limit)
    running = start_router(config_dir)
    emulators.openai.default = Behaviour(latency_s=1.0)
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():  # bounded by the stop event set below
            peak = max(peak, Metrics(running).value("router_requests_in_flight"))
            time.sleep(0.02)

    # Clients made up front: building one (its TLS context) costs tens of milliseconds of
    # CPU, which eight threads at once on a busy machine turn into a second of client time.
    sessions = [httpx.Client(timeout=10) for _ in range(clients)]

    def one(i: int) -> tuple[int, float, str | None]:
        t0 = time.monotonic()
        resp = sessions[i].post(f"{running.v1}/chat/completions", json=HELLO)
        return resp.status_code, time.monotonic() - t0, resp.headers.get("retry-after")

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(one, range(clients)))
    finally:
        stop.set()
        sampler.join(5)
        emulators.openai.default = Behaviour()
        for session in sessions:
            session.close()
    ok = [r for r in results if r[0] == 200]
    shed = [r for r in results if r[0] == 503]
    assert len(ok) == limit
    assert len(shed) == clients - limit
    assert all(r[2] == "1" for r in shed)  # Retry-After
    # Shed at once, not after waiting for a slot: well before the admitted requests (which
    # wait 1 s upstream) finish. Relative, since a loaded machine slows every client alike.
    assert max(r[1] for r in shed) < min(r[1] for r in ok) - 0.5, results
    assert peak <= limit
    m = Metrics(running)
    assert m.value("router_overload_rejections_total") == clients - limit
    assert m.value("router_requests_in_flight") == 0
