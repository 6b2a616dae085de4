"""Exact across replicas: three ``router serve`` processes on one real redis-server, driven
concurrently with the official OpenAI SDK.

- a limit of N per minute admits exactly N across the three;
- a budget is never exceeded by more than one request's difference between its actual and
  reserved cost;
- a key revoked in config stops working on every replica within one reload;
- Redis killed mid-run: each limit follows its ``on_store_error`` (``allow`` keeps serving,
  ``deny`` answers 503), counted in metrics and shown in ``/readyz``.

Every loop is bounded by a count or a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from router.config.load import load_config
from support.redis_server import RedisServer
from support.stack import Emulators
from support.tenancy import MASTER, client, key_line, write_atomically, write_tenancy_config

REPLICAS = 3
START_DEADLINE_S = 60.0
RPM = 12
BUDGET_USD = 0.004
MAX_TOKENS = 8
PROMPT = "Count the sheep in the field, please."

AUTH = (
    "auth:\n  keys:\n"
    + key_line("burst", "k-burst", f"limits: {{rpm: {RPM}}}")
    + key_line("spender", "k-spend", f"budgets: [{{usd: {BUDGET_USD}, period: day}}]")
    + key_line("temp", "k-temp")
    + key_line("lenient", "k-lenient", "limits: {rpm: 1000, on_store_error: allow}")
    + key_line("strict", "k-strict", "limits: {rpm: 1000, on_store_error: deny}")
)


@dataclass
class Replica:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"


@dataclass
class Fleet:
    replicas: list[Replica]
    redis: RedisServer
    config: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, emulators: Emulators) -> Iterator[Fleet]:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server is not installed")
    base = tmp_path_factory.mktemp("replicas")
    redis = RedisServer(executable, base)
    redis.start()
    config = write_tenancy_config(base / "policies", emulators, AUTH)
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"REDIS_URL": redis.url, "ROUTER_MASTER_KEY": MASTER})
    # A loaded CI machine can stall a replica's loop past the default 0.1 s store timeout,
    # and a timed-out admission is (rightly) uncounted under on_store_error: allow. The
    # exactness tested here is Redis's, not the machine's: give the store room.
    env["ROUTER_STORE_TIMEOUT_S"] = "2"
    replicas: list[Replica] = []
    try:
        for i in range(REPLICAS):  # started together: they import in parallel
            port = _free_port()
            log = base / f"router-{i}.log"
            command = [sys.executable, "-m", "router.cli", "serve", "--config", str(config)]
            command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
            with log.open("w") as out:
                proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            replicas.append(Replica(f"http://127.0.0.1:{port}", proc, log))
        deadline = time.monotonic() + START_DEADLINE_S
        for replica in replicas:
            while not _healthy(replica):
                assert replica.proc.poll() is None, replica.log.read_text()
                assert time.monotonic() < deadline, (
                    "replica did not start:\n" + replica.log.read_text()
                )
                time.sleep(0.1)
        yield Fleet(replicas, redis, config)
    finally:
        for replica in replicas:
            if replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGINT)
        for replica in replicas:
            try:
                replica.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                replica.proc.wait(timeout=5)
        redis.kill()


def _healthy(replica: Replica) -> bool:
    try:
        return httpx.get(f"{replica.url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _ask(replica: Replica, key: str, **extra: object) -> Any:
    with client(replica.v1, key) as sdk:
        return sdk.chat.completions.with_raw_response.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": PROMPT}],
            **extra,  # type: ignore[arg-type]
        )


def _spread(fleet: Fleet, count: int, call: Callable[[Replica], object]) -> list[object]:
    """``count`` calls, round robin over the replicas, nine at a time; each result or the
    exception it raised."""

    def one(i: int) -> object:
        try:
            return call(fleet.replicas[i % REPLICAS])
        except openai.APIError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=9) as pool:
        return list(pool.map(one, range(count)))


def test_a_limit_of_n_per_minute_admits_exactly_n_across_replicas(fleet: Fleet) -> None:
    results = _spread(fleet, 3 * RPM, lambda r: _ask(r, "k-burst"))
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(ok) == RPM, results
    assert len(refused) == 2 * RPM
    for err in refused:
        assert err.code == "rate_limit_exceeded"
        assert err.response.headers["x-ratelimit-limit-requests"] == str(RPM)
        assert err.response.headers["x-ratelimit-remaining-requests"] == "0"
        assert int(err.response.headers["retry-after"]) >= 1
    remaining = sorted(int(r.headers["x-ratelimit-remaining-requests"]) for r in ok)
    assert remaining == list(range(RPM))  # every admission saw every other, on any replica


def test_a_budget_is_never_exceeded_by_more_than_one_requests_difference(fleet: Fleet) -> None:
    config = load_config(fleet.config)
    price = config.catalog.deployments["gpt-4o@openai"].price
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}]}
    explained = httpx.post(
        f"{fleet.replicas[0].v1}/router/explain",
        json=body,
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=10,
    ).json()
    reserved = price.cost(explained["prompt_tokens"], MAX_TOKENS)  # what admission takes
    results = _spread(fleet, 60, lambda r: _ask(r, "k-spend", max_tokens=MAX_TOKENS))
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert ok
    assert refused, "the budget never ran out: raise the request count"
    assert all(e.code == "budget_exceeded" for e in refused)
    actual = [float(r.headers["x-router-cost-usd"]) for r in ok]
    worst = max(max(a - reserved for a in actual), 0.0)
    spent = _settled_spend(fleet, "spender", len(ok))
    print(f"budget ${BUDGET_USD}: {len(ok)} admitted, {len(refused)} refused, spent ${spent:.7f}, "
          f"reserved ${reserved:.7f}/request, worst actual-reserved ${worst:.7f}")  # fmt: skip
    assert spent == pytest.approx(sum(actual), abs=1e-9)
    assert spent <= BUDGET_USD + worst + 1e-9
    # Refusals were real: what is left could not cover one more reservation.
    assert spent > BUDGET_USD - 2 * reserved


def _settled_spend(fleet: Fleet, key: str, requests: int) -> float:
    """The key's spend once every answered request has settled (settling runs just after the
    answer): bounded wait."""
    deadline = time.monotonic() + 10
    while True:
        resp = httpx.get(
            f"{fleet.replicas[1].v1}/router/spend?group_by=key&key={key}",
            headers={"authorization": f"Bearer {MASTER}"},
            timeout=10,
        )
        rows = resp.json()["rows"]
        if rows and rows[0]["requests"] >= requests:
            assert rows[0]["requests"] == requests
            return float(rows[0]["usd"])
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)


def test_a_revoked_key_stops_on_every_replica_within_one_reload(fleet: Fleet) -> None:
    for replica in fleet.replicas:
        assert _ask(replica, "k-temp").http_response.status_code == 200
    auth = (fleet.config / "auth.yaml").read_text()
    write_atomically(fleet.config / "auth.yaml", auth.replace(key_line("temp", "k-temp"), ""))
    started = time.monotonic()
    pending = list(fleet.replicas)
    while pending:  # each polls its files every second: one reload each
        assert time.monotonic() - started < 10, [r.url for r in pending]
        still = []
        for replica in pending:
            try:
                _ask(replica, "k-temp")
                still.append(replica)
            except openai.AuthenticationError:
                pass
        pending = still
        time.sleep(0.05)
    assert time.monotonic() - started < 5
    for replica in fleet.replicas:  # and the others' keys were untouched
        assert _ask(replica, "k-lenient").http_response.status_code == 200


def test_redis_killed_mid_run_follows_on_store_error(fleet: Fleet) -> None:
    for replica in fleet.replicas:
        assert _ask(replica, "k-strict").http_response.status_code == 200
    fleet.redis.kill()
    for replica in fleet.replicas:
        for _ in range(3):
            assert _ask(replica, "k-lenient").http_response.status_code == 200
            with pytest.raises(openai.InternalServerError) as exc:
                _ask(replica, "k-strict")
            assert exc.value.status_code == 503
            assert exc.value.code == "limits_unavailable"
            assert "on_store_error: deny" in exc.value.message
        ready = httpx.get(
            f"{replica.url}/readyz", headers={"authorization": f"Bearer {MASTER}"}, timeout=5
        )
        assert ready.status_code == 200  # degraded, still ready
        limits = ready.json()["limits"]
        assert limits["store_healthy"] is False
        assert limits["store_errors"]["allow"] >= 3
        assert limits["store_errors"]["deny"] >= 3
        assert limits["on_store_error"]["deny"] == ["key 'strict' rpm limit of 1000"]
        metrics = httpx.get(f"{replica.url}/metrics", timeout=5).text
        assert 'router_limit_store_errors_total{on_error="deny"}' in metrics
