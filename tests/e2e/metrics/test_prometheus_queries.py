"""A real Prometheus scrapes real routers; every dashboard query must return data.

Two routers run in front of the emulators and serve the traffic each panel is about: plain
and streamed answers, a fallback, upstream and client errors, breakers that open and close
again, a hedge, cache hits, a stream cut short, load shedding, a policy hot reload, (on
the second router, whose Redis is down) Redis errors and limit checks it cannot count, and (on
a third, with client keys) spend by team, budget use, a limit's refusals and a deployment at
its quota. Prometheus scrapes both every second;
then each expression of the dashboard, with Grafana's macros filled in, goes through
Prometheus's HTTP query API.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.dashboard import build_dashboard, iter_queries
from router.demo import write_demo_config
from router.emulators import Behaviour
from support.metrics import find_tool, free_port
from support.stack import Emulators, RouterFactory, RunningRouter
from support.traffic import Scrape, append_yaml, chat, set_server

# Grafana fills these in; pick values that hold several 1 s scrapes. The variables take what
# Grafana substitutes for the test's Prometheus: its one job, and "All" (".*") otherwise.
GRAFANA_MACROS = {
    "$__rate_interval": "20s",
    "$__range": "5m",
    "$job": "router",
    "$instance": ".*",
    "$policy": ".*",
}
DEADLINE_S = 60.0
MIN_SCRAPES = 6
COOL_DOWN_S = 0.5

POLICIES = """\
policies:
  cached:
    cache: {mode: "on", ttl_s: 600}
    rules:
      - name: cheapest
        objective: cost
        candidates: [mai-code-1-flash, gpt-4o]
  hedged:
    hedge: {delay_s: 0.05}
    rules:
      - name: race
        objective: priority
        candidates: [gpt-4o, mai-code-1-flash]
"""


TENANT_KEYS = {"metered": "k-metered", "free": "k-free"}
TENANCY = """\
auth:
  keys:
    - {name: metered, team: platform, key_env: TENANT_METERED, limits: {rpm: 1}}
    - {name: free, team: platform, key_env: TENANT_FREE}
  teams:
    platform:
      budgets: [{usd: 100, period: day}]
"""


def _with_quota(directory: Path, deployment: str, limits: str) -> None:
    """Give one deployment of the demo catalog a provider quota."""
    path = directory / "router.yaml"
    text = path.read_text()
    line = f"      - name: {deployment}\n"
    assert line in text
    path.write_text(text.replace(line, f"{line}        limits: {limits}\n"))


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
        return json.load(response)


@contextlib.contextmanager
def _prometheus(tmp_path: Path, targets: list[str]) -> Iterator[str]:
    """A Prometheus scraping ``targets`` (host:port) every second; yields its base URL."""
    binary = find_tool("prometheus")
    config = tmp_path / "prometheus.yml"
    listed = ", ".join(f"'{t}'" for t in targets)
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: router\n    static_configs:\n"
        f"      - targets: [{listed}]\n"
    )
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + DEADLINE_S
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "prometheus did not become ready"
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _query(base: str, expr: str) -> dict[str, Any]:
    answer: dict[str, Any] = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    return answer


def _concrete(expr: str, **chosen: str) -> str:
    for macro, value in {**GRAFANA_MACROS, **{f"${k}": v for k, v in chosen.items()}}.items():
        expr = expr.replace(macro, value)
    return expr


def _label_values(base: str, definition: str, **chosen: str) -> set[str]:
    """Grafana's ``label_values(selector, label)`` as plain PromQL."""
    found = re.fullmatch(r"label_values\((.*), (\w+)\)", definition)
    assert found, definition
    selector, label = found.groups()
    answer = _query(base, f"group by ({label}) ({_concrete(selector, **chosen)})")
    return {r["metric"][label] for r in answer["data"]["result"]}


def _scrapes(base: str) -> list[float]:
    """Samples Prometheus holds per target over the last minute."""
    answer = _query(base, "count_over_time(router_requests_in_flight[1m])")
    return [float(r["value"][1]) for r in answer["data"]["result"]]


def _wait(probe: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Traffic:
    """One round of everything the dashboard shows, as clients and upstreams cause it."""

    def __init__(
        self,
        main: RunningRouter,
        redis_down: RunningRouter,
        tenant: RunningRouter,
        emulators: Emulators,
    ):
        self.main = main
        self.redis_down = redis_down
        self.tenant = tenant
        self.emulators = emulators
        self.rounds = 0
        self.statuses: dict[str, set[int]] = {}

    def _saw(self, what: str, resp: httpx.Response) -> None:
        self.statuses.setdefault(what, set()).add(resp.status_code)

    def round(self) -> None:
        emu, url = self.emulators, self.main.base_url
        emu.reset()  # a plan a skipped deployment did not use must not leak into this round
        # Plain answers; after the last round's failures these are the half-open probes that
        # close the breakers again.
        self._saw("plain", chat(url, "gpt-4o", "hello"))
        self._saw("plain", chat(url, "mai-code-1-flash", "hello"))
        # A hedge: gpt-4o@openai is slow to answer, the hedge on gpt-4o@azure wins.
        emu.openai.plan(Behaviour(latency_s=1.0), times=1)
        self._saw("hedge", chat(url, "hedged", "race me"))
        # Cache: the same question every round (a miss and a store, then hits).
        self._saw("cached", chat(url, "cached", "what is the capital of France"))
        # A stream, and a stream the upstream cuts after two chunks.
        self._saw("stream", chat(url, "gpt-4o", "tell me a story", stream=True))
        emu.foundry.plan(Behaviour(drop_after_chunks=2), times=1)
        self._saw("cut", chat(url, "mai-code-1-flash", "another story", stream=True))
        # A client error: a model nobody serves.
        self._saw("client", chat(url, "no-such-model", "hello"))
        # An upstream error: mai-code-1-flash fails its attempt and retry (its breaker opens).
        emu.foundry.plan(Behaviour(status=500), times=2)
        self._saw("upstream", chat(url, "mai-code-1-flash", "fail please"))
        # A fallback: gpt-4o@openai fails twice (its breaker opens), gpt-4o@azure answers.
        emu.openai.plan(Behaviour(status=500), times=2)
        self._saw("fallback", chat(url, "gpt-4o", "fall back please"))
        # The second router: its cache lookups fail on Redis, and so does the quota check of
        # mai-code-1-flash@foundry (on_store_error: allow serves it uncounted).
        self._saw("redis", chat(self.redis_down.base_url, "cached", "what is 2 + 2"))
        # The third: a key past its rpm limit is refused; its team's other key finds
        # gpt-4o@openai at its quota (1 a minute), so gpt-4o@azure serves. Both spend.
        tenant = self.tenant.base_url
        for name in ("metered", "metered", "free"):
            auth = {"authorization": f"Bearer {TENANT_KEYS[name]}"}
            self._saw(name, chat(tenant, "gpt-4o", "spend a little", headers=auth))
        # Let the breakers cool down: the next round half-opens and closes them again.
        time.sleep(COOL_DOWN_S)
        self.rounds += 1

    def shed_load(self) -> None:
        """The second router admits one request at a time: a second one is refused."""
        url = self.redis_down.base_url
        self.emulators.openai.plan(Behaviour(latency_s=1.0), times=1)
        slow = threading.Thread(target=lambda: self._saw("slow", chat(url, "gpt-4o", "slow")))
        slow.start()
        try:
            _wait(lambda: Scrape.get(url).value("router_requests_in_flight") == 1, "in flight")
            self._saw("shed", chat(url, "gpt-4o", "one too many"))
        finally:
            slow.join(timeout=30)

    def reload(self, config_dir: Path) -> None:
        """Hot reload: an edited config file is picked up by the poller."""
        append_yaml(config_dir, "# edited by the test\n")
        _wait(
            lambda: (
                Scrape.get(self.main.base_url).value(
                    "router_policy_reloads_total", result="success"
                )
                == 1
            ),
            "a policy reload",
        )


@contextlib.contextmanager
def _reset_after(emulators: Emulators) -> Iterator[None]:
    """Leave no planned behaviour behind for the tests that share these emulators."""
    try:
        yield
    finally:
        emulators.reset()


def test_every_dashboard_query_returns_data_from_router_traffic(
    tmp_path: Path, start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    set_server(config_dir, circuit_failures=2, circuit_cool_down_s=COOL_DOWN_S)
    append_yaml(config_dir, POLICIES)
    main = start_router(config_dir, watch_interval_s=0.2)
    down_dir = tmp_path / "redis-down"
    write_demo_config(down_dir, emulators.endpoints)
    set_server(down_dir, max_in_flight=1)
    append_yaml(down_dir, POLICIES)
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    _with_quota(down_dir, "mai-code-1-flash@foundry", "{rpm: 1000}")
    redis_down = start_router(down_dir, environ={**os.environ, "REDIS_URL": dead_redis})
    tenant_dir = tmp_path / "tenant"
    write_demo_config(tenant_dir, emulators.endpoints)
    _with_quota(tenant_dir, "gpt-4o@openai", "{rpm: 1}")
    append_yaml(tenant_dir, TENANCY)
    keys = {"TENANT_METERED": TENANT_KEYS["metered"], "TENANT_FREE": TENANT_KEYS["free"]}
    tenant = start_router(tenant_dir, environ={**os.environ, **keys})

    traffic = Traffic(main, redis_down, tenant, emulators)
    targets = [f"127.0.0.1:{r.port}" for r in (main, redis_down, tenant)]
    with _prometheus(tmp_path, targets) as prometheus, _reset_after(emulators):
        traffic.reload(config_dir)
        traffic.shed_load()
        # Rounds until Prometheus holds enough scrapes of both routers for rate() windows;
        # the last round is then fresh in every window.
        deadline = time.monotonic() + DEADLINE_S
        while True:
            traffic.round()
            points = _scrapes(prometheus)
            if len(points) == len(targets) and min(points) >= MIN_SCRAPES:
                break
            assert time.monotonic() < deadline, f"too few scrapes: {points}"

        # The traffic was what it claims to be.
        assert traffic.statuses["plain"] == {200}
        assert traffic.statuses["hedge"] == {200}
        assert traffic.statuses["cached"] == {200}
        assert traffic.statuses["stream"] == {200}
        assert traffic.statuses["cut"] == {200}  # the status went out before the cut
        assert traffic.statuses["client"] == {404}
        assert traffic.statuses["upstream"] <= {502, 503}
        assert traffic.statuses["fallback"] == {200}
        assert traffic.statuses["redis"] == {200}
        assert traffic.statuses["slow"] == {200}
        assert traffic.statuses["shed"] == {503}
        assert traffic.statuses["metered"] == {200, 429}
        assert traffic.statuses["free"] == {200}

        problems = []
        queries = list(iter_queries(build_dashboard()))
        for expr in queries:
            answer = _query(prometheus, _concrete(expr))
            if answer.get("status") != "success":
                problems.append(f"{expr!r}: {answer}")
                continue
            result = answer["data"]["result"]
            values = [float(r["value"][1]) for r in result]
            if not result:
                problems.append(f"{expr!r}: empty result")
            elif not any(math.isfinite(v) for v in values):
                problems.append(f"{expr!r}: only NaN/Inf {values}")
        assert not problems, "\n".join(problems)
        assert len(queries) >= 20

        # The variables list what is there, and narrowing them still gives valid queries
        # with data: one instance, one policy.
        variables = {v["name"]: v for v in build_dashboard()["templating"]["list"]}
        assert _label_values(prometheus, variables["job"]["definition"]) == {"router"}
        instances = _label_values(prometheus, variables["instance"]["definition"])
        assert instances == set(targets)
        assert {"cached", "hedged", "direct"} <= _label_values(
            prometheus, variables["policy"]["definition"]
        )
        one = {"instance": f"127.0.0.1:{main.port}", "policy": "cached"}
        narrowed = [_query(prometheus, _concrete(expr, **one)) for expr in queries]
        assert all(a.get("status") == "success" for a in narrowed)
        assert sum(bool(a["data"]["result"]) for a in narrowed) >= len(queries) // 2
        # Another job (the demo stack's) selects nothing of this one's.
        other = _query(prometheus, _concrete(queries[0], job="router-demo"))
        assert other["data"]["result"] == []

        # The events behind the rarer panels did happen, on the router that caused them.
        for expr in (
            'router_hedges_total{outcome="won"}',
            'router_cache_lookups_total{policy="cached", result="hit"}',
            "router_cache_avoided_cost_usd_total",
            "router_stream_interruptions_total",
            "router_overload_rejections_total",
            'router_circuit_transitions_total{to_state="half_open"}',
            'router_circuit_transitions_total{to_state="closed"}',
            "router_fallbacks_total",
            "router_redis_errors_total",
            'router_policy_reloads_total{result="success"}',
            "router_cache_writes_total",
        ):
            result = _query(prometheus, f"sum by (instance) ({expr}) > 0")["data"]["result"]
            assert result, f"no {expr} on any router"

        # Guards the loop above: bad PromQL must come back as an error, not as "no data".
        with pytest.raises(urllib.error.HTTPError) as bad:
            _query(prometheus, "sum by (model (router_requests_total)")
        assert json.load(bad.value)["errorType"] == "bad_data"
