"""Hot reload end to end: a changed policy file takes effect without a restart (file watcher,
and SIGHUP to ``router serve``); a broken one is refused, counted and reported on /readyz
while the previous policies keep serving, with no 5xx at any point."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from router.demo import DEMO_KEY_ENV
from router.emulators import DEFAULT_API_KEY, Behaviour
from support.routing import (
    chat,
    cli_env,
    free_port,
    metric,
    routed,
    scrape,
    serving,
    wait_for,
    write_atomically,
    write_config,
)
from support.stack import Emulators, RouterFactory, RunningRouter

OPENAI_FIRST = """\
policies:
  pick:
    default: true
    retry: {max_retries: 0}
    rules:
      - name: first
        objective: priority
        candidates: [gpt-4o@openai, gpt-4o@azure]
"""
AZURE_FIRST = OPENAI_FIRST.replace("[gpt-4o@openai, gpt-4o@azure]", "[gpt-4o@azure, gpt-4o@openai]")
BROKEN = {
    "syntax": (OPENAI_FIRST.replace("rules:", "rules: [", 1), "YAML syntax"),
    "unknown key": (OPENAI_FIRST.replace("objective:", "objectve:"), "unknown key 'objectve'"),
    "unknown model": (OPENAI_FIRST.replace("gpt-4o@azure", "gpt-5o@azure"), "gpt-5o@azure"),
    "unreachable rule": (
        OPENAI_FIRST + "      - name: never\n        candidates: [claude-sonnet]\n",
        "never",
    ),
}
WATCH_S = 0.2


def _reloads(router: RunningRouter, result: str) -> float:
    return metric(scrape(router), "router_policy_reloads_total", result=result)


def _readyz(base: str) -> dict[str, object]:
    resp = httpx.get(f"{base}/readyz", timeout=5)
    assert resp.status_code == 200, resp.text
    config = resp.json()["config"]
    assert isinstance(config, dict)
    return config


def test_an_edited_policy_file_takes_effect(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    cfg = write_config(tmp_path / "c", emulators, OPENAI_FIRST)
    router = start_router(cfg, watch_interval_s=WATCH_S)
    assert routed(chat(router)) == "gpt-4o@openai"
    assert _reloads(router, "success") == 0

    write_atomically(cfg / "policies.yaml", AZURE_FIRST)
    wait_for(lambda: routed(chat(router)) == "gpt-4o@azure", timeout=5)
    assert _reloads(router, "success") == 1
    assert _reloads(router, "failure") == 0
    assert _readyz(router.base_url)["last_reload_error"] is None

    # A new file in the directory is part of the config, too.
    write_atomically(cfg / "more.yaml", OPENAI_FIRST.replace("pick:", "other:").replace(
        "default: true", "aliases: [second]"))  # fmt: skip
    wait_for(lambda: chat(router, "second").status_code == 200, timeout=5)
    assert _reloads(router, "success") == 2


class _Traffic:
    """Requests in a loop on a thread, recording (status, deployment), until stopped."""

    def __init__(self, router: RunningRouter) -> None:
        self.seen: list[tuple[int, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(router,), daemon=True)

    def _run(self, router: RunningRouter) -> None:
        with httpx.Client(timeout=30) as client:
            for _ in range(10_000):  # bounded; stopped long before
                if self._stop.is_set():
                    return
                r = client.post(
                    f"{router.v1}/chat/completions",
                    json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
                )
                self.seen.append((r.status_code, r.headers.get("x-router-deployment")))

    def __enter__(self) -> _Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive()


def test_a_broken_edit_is_refused_and_the_old_policies_keep_serving(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    cfg = write_config(tmp_path / "c", emulators, OPENAI_FIRST)
    router = start_router(cfg, watch_interval_s=WATCH_S)
    with _Traffic(router) as traffic:
        wait_for(lambda: len(traffic.seen) >= 3)
        for n, (name, (text, says)) in enumerate(BROKEN.items(), start=1):
            write_atomically(cfg / "policies.yaml", text)
            wait_for(lambda n=n: _reloads(router, "failure") == n, timeout=5)  # type: ignore[misc]
            error = _readyz(router.base_url)["last_reload_error"]
            assert isinstance(error, str), name
            assert "policies.yaml:" in error, (name, error)
            assert says in error, (name, error)
            assert routed(chat(router)) == "gpt-4o@openai", name
        assert _reloads(router, "success") == 0
        during = len(traffic.seen)

        # Fixed: the new policies apply and the error is cleared.
        write_atomically(cfg / "policies.yaml", AZURE_FIRST)
        wait_for(lambda: routed(chat(router)) == "gpt-4o@azure", timeout=5)
        assert _readyz(router.base_url)["last_reload_error"] is None
        wait_for(lambda: len(traffic.seen) > during + 3)
    assert _reloads(router, "success") == 1
    assert traffic.seen
    assert all(status == 200 for status, _ in traffic.seen), traffic.seen
    assert {dep for _, dep in traffic.seen[:during]} == {"gpt-4o@openai"}
    assert traffic.seen[-1][1] == "gpt-4o@azure"


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads_router_serve(tmp_path: Path, emulators: Emulators) -> None:
    cfg = write_config(tmp_path / "c", emulators, OPENAI_FIRST)
    policy_file = cfg / "policies.yaml"
    with serving(cfg, **{DEMO_KEY_ENV: DEFAULT_API_KEY}) as (proc, base):

        def first() -> str:
            body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
            resp = httpx.post(f"{base}/v1/router/explain", json=body, timeout=10)
            assert resp.status_code == 200, resp.text
            return str(resp.json()["chain"][0]["deployment"])

        assert first() == "gpt-4o@openai"
        hi = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
        resp = httpx.post(f"{base}/v1/chat/completions", json=hi, timeout=30)
        assert routed(resp) == "gpt-4o@openai"

        # Same size, and the old mtime put back: the file watcher cannot see this edit, so
        # only the signal can apply it.
        before = policy_file.stat()
        assert len(AZURE_FIRST) == len(OPENAI_FIRST)
        policy_file.write_text(AZURE_FIRST, encoding="utf-8")
        os.utime(policy_file, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert first() == "gpt-4o@openai"

        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: first() == "gpt-4o@azure", timeout=10)
        text = httpx.get(f"{base}/metrics", timeout=5).text
        assert metric(text, "router_policy_reloads_total", result="success") == 1
        assert proc.poll() is None  # SIGHUP reloads; it does not stop the server


SERVE_WITHOUT_WATCHER = """\
import sys
from pathlib import Path

import uvicorn

from router.app import create_app

app = create_app(Path(sys.argv[1]), watch_interval_s=None)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads_with_the_file_watcher_off(tmp_path: Path, emulators: Emulators) -> None:
    """``watch_interval_s=None`` turns off polling, not the signal: a SIGHUP must still
    reload (and must not kill the process, which is SIGHUP's default action)."""
    cfg = write_config(tmp_path / "c", emulators, OPENAI_FIRST)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_WITHOUT_WATCHER, str(cfg), str(port)],
        env=cli_env(**{DEMO_KEY_ENV: DEFAULT_API_KEY}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), timeout=30, every=0.1)
        write_atomically(cfg / "policies.yaml", AZURE_FIRST)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: _first(base) == "gpt-4o@azure" or proc.poll() is not None, timeout=10)
        assert proc.poll() is None, f"SIGHUP killed the server (exit {proc.returncode})"
        text = httpx.get(f"{base}/metrics", timeout=5).text
        assert metric(text, "router_policy_reloads_total", result="success") == 1
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _first(base: str) -> str | None:
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    try:
        resp = httpx.post(f"{base}/v1/router/explain", json=body, timeout=10)
    except httpx.TransportError:
        return None  # gone (the caller checks why)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["chain"][0]["deployment"])


def test_a_reloaded_circuit_threshold_applies(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    cfg = write_config(tmp_path / "c", emulators, OPENAI_FIRST, server={"circuit_failures": 5})
    router = start_router(cfg, watch_interval_s=WATCH_S)
    write_config(cfg, emulators, OPENAI_FIRST.replace("pick:", "pick2:"),
                 server={"circuit_failures": 1})  # fmt: skip
    wait_for(lambda: chat(router, "pick2").status_code == 200, timeout=5)
    emulators.openai.default = Behaviour(status=500)
    assert routed(chat(router, "pick2")) == "gpt-4o@azure"  # one failure, absorbed
    text = scrape(router)
    assert metric(text, "router_circuit_state", deployment="gpt-4o@openai") == 2
