"""Admission happens before the body is read, and one key cannot take every slot."""

from __future__ import annotations

import concurrent.futures
import socket
import time
from pathlib import Path

import httpx
import pytest

from router.emulators import Behaviour
from support.reliability import HELLO, Metrics, eventually, set_server
from support.stack import Emulators, RouterFactory

KEYS = """\
auth:
  keys:
    - {name: alpha, key_env: TEST_KEY_ALPHA, team: a}
    - {name: beta, key_env: TEST_KEY_BETA, team: b}
"""


def test_a_full_worker_answers_503_without_waiting_for_the_body(
    start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    set_server(config_dir, max_in_flight=1)
    running = start_router(config_dir)
    emulators.openai.default = Behaviour(latency_s=3.0)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        busy = pool.submit(httpx.post, f"{running.v1}/chat/completions", json=HELLO, timeout=10)
        # the slow request holds the only slot
        assert eventually(lambda: Metrics(running).value("router_requests_in_flight") == 1, 5)
        with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
            # Headers promise a body that never comes: only admission before reading can answer.
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nhost: r\r\n"
                b"content-type: application/json\r\ncontent-length: 1000000\r\n\r\n"
            )
            t0 = time.monotonic()
            head = sock.recv(4096)
            waited = time.monotonic() - t0
        assert head.startswith(b"HTTP/1.1 503"), head[:200]
        assert b"retry-after: 1" in head.lower()
        assert waited < 2.0  # answered while the 3 s request still holds the slot
        assert busy.result().status_code == 200
    emulators.openai.default = Behaviour()


def test_one_key_cannot_take_every_slot(
    start_router: RouterFactory,
    config_dir: Path,
    emulators: Emulators,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_KEY_ALPHA", "alpha-secret-key")
    monkeypatch.setenv("TEST_KEY_BETA", "beta-secret-key")
    (config_dir / "keys.yaml").write_text(KEYS)
    set_server(config_dir, max_in_flight=4, key_share=0.5)
    running = start_router(config_dir)
    emulators.openai.default = Behaviour(latency_s=3.0)

    def call(key: str) -> httpx.Response:
        return httpx.post(
            f"{running.v1}/chat/completions",
            json=HELLO,
            headers={"authorization": f"Bearer {key}"},
            timeout=10,
        )

    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            greedy = [pool.submit(call, "alpha-secret-key") for _ in range(2)]
            # alpha now holds its share: 2 of 4 slots
            assert eventually(lambda: Metrics(running).value("router_requests_in_flight") == 2, 5)
            t0 = time.monotonic()
            third = call("alpha-secret-key")
            refused_in = time.monotonic() - t0
            other = pool.submit(call, "beta-secret-key")
            assert third.status_code == 429, third.text
            assert third.json()["error"]["code"] == "concurrency_limit_exceeded"
            assert third.headers["retry-after"] == "1"
            assert refused_in < 2.0  # not queued behind the 3 s requests
            assert other.result().status_code == 200  # another tenant still gets in
            assert [f.result().status_code for f in greedy] == [200, 200]
        assert call("alpha-secret-key").status_code == 200  # slots come back
    finally:
        emulators.openai.default = Behaviour()
