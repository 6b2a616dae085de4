"""Helpers for the end-to-end policy tests: config directories that point at the session's
emulators, a clock tests can move forward, and small HTTP helpers for a running router."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from router.demo import demo_config
from support.stack import Emulators, RunningRouter

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "policies"
ROUTER_HEADERS = (
    "x-router-policy",
    "x-router-model",
    "x-router-deployment",
    "x-router-reason",
    "x-router-cost-usd",
    "x-request-id",
)


def write_config(
    directory: Path,
    emulators: Emulators,
    policies: str,
    *,
    server: Mapping[str, object] | None = None,
    extra: str = "",
) -> Path:
    """``router.yaml``: the demo catalog on the emulators (plus ``server`` settings and any
    ``extra`` top-level YAML); ``policies.yaml``: the given policies section."""
    directory.mkdir(parents=True, exist_ok=True)
    catalog = demo_config(emulators.endpoints)
    settings = {"baseline_model": "gpt-4o", **(server or {})}
    lines = "".join(f"  {k}: {v}\n" for k, v in settings.items())
    catalog = catalog.replace("server:\n  baseline_model: gpt-4o\n", "server:\n" + lines)
    assert "server:\n" + lines in catalog  # the demo config's shape changed: adapt this
    (directory / "router.yaml").write_text(catalog + extra, encoding="utf-8")
    write_atomically(directory / "policies.yaml", policies)
    return directory


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a poller never reads half a file."""
    tmp = path.with_name(f".{path.name}.tmp")  # not *.yaml: the loader ignores it
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class OffsetClock:
    """``time.perf_counter`` plus an offset the test moves forward: ages signal windows and
    circuit cool-downs without sleeping. Only moved between requests."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.perf_counter() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def chat(
    router: RunningRouter,
    model: str = "auto",
    content: str = "Suggest a name for a cat.",
    *,
    headers: Mapping[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}], **fields}
    return httpx.post(
        f"{router.v1}/chat/completions",
        content=orjson.dumps(body),
        headers={"content-type": "application/json", **(headers or {})},
        timeout=30,
    )


def explain(
    router: RunningRouter,
    model: str = "auto",
    content: str = "Suggest a name for a cat.",
    *,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    return httpx.post(
        f"{router.v1}/router/explain",
        content=orjson.dumps(body),
        headers={"content-type": "application/json", **(headers or {})},
        timeout=30,
    )


def routed(resp: httpx.Response) -> str:
    """The deployment that answered, after checking the response is a complete, explained 200."""
    assert resp.status_code == 200, resp.text
    assert_explained(resp)
    return resp.headers["x-router-deployment"]


def assert_explained(resp: httpx.Response) -> None:
    missing = [h for h in ROUTER_HEADERS if not resp.headers.get(h)]
    assert not missing, f"missing headers {missing}: {dict(resp.headers)}"
    reason = resp.headers["x-router-reason"]
    assert reason.isascii(), repr(reason)
    assert reason.isprintable(), repr(reason)
    assert float(resp.headers["x-router-cost-usd"]) >= 0


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if m is None or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return 0.0


def scrape(router: RunningRouter) -> str:
    resp = httpx.get(f"{router.base_url}/metrics", timeout=10)
    assert resp.status_code == 200
    return resp.text


def wait_for(check: Callable[[], Any], timeout: float = 5.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {got!r})")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a ``python -m router.cli`` child: no provider or client keys."""
    dropped = ("_API_KEY", "ROUTER_", "PROMETHEUS_MULTIPROC_DIR", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not any(d in k for d in dropped)}
    env.update(extra)
    return env


def run_cli(
    *args: str, stdin: str | None = None, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=cli_env(**env),
        check=False,
    )


@contextmanager
def serving(config: Path, **env: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``router serve --config CONFIG`` on a free port; yields the process and its base URL.
    Stopped (terminate, then kill) on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(config),
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=cli_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"router serve exited with {proc.returncode}:\n{out}")
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout=30, every=0.1)
        yield proc, base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()


# A policy set over the demo catalog (quality general: mai 0.7, gpt-4o 0.88, claude 0.87;
# code: mai 0.82, gpt-4o 0.85, claude 0.88), one of each way to pick a policy.
POLICIES = """\
policies:
  coding:
    default: true
    overrides: [objective, task, max_cost]
    retry: {max_retries: 0}
    rules:
      - name: code
        when: {task: code}
        objective: priority
        candidates: [mai-code-1-flash, gpt-4o, claude-sonnet]
        fallbacks: [gpt-4o]
      - name: general
        objective: cost
        candidates: [mai-code-1-flash, gpt-4o, claude-sonnet]
        constraints: {min_quality: 0.75}
  research:
    select: {team: research}
    rules:
      - name: best
        objective: priority
        candidates: [claude-sonnet, gpt-4o]
  experiment:
    select: {headers: {x-experiment: sonnet-ab}}
    rules:
      - name: ab
        candidates: [gpt-4o, claude-sonnet]
        split: {gpt-4o: 50, claude-sonnet: 50}
        sticky: true
  cheap:
    aliases: [budget]
    rules:
      - name: cheapest
        objective: cost
        candidates: [mai-code-1-flash, gpt-4o]
"""
