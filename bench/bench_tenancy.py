"""What limits and a budget on the caller's key cost, as a ratio in one run.

One ``router serve`` (one worker, Redis store) serves two keys: ``open`` has no limits or
budget; ``governed`` has rpm, tpm and concurrent limits and a daily budget, all far above what
the run uses, so every request is admitted and pays the full price: one atomic admission in
Redis (batched with the requests in flight on the worker) and one settlement. Both keys record
spend, so the difference is the limits and the budget alone. Runs alternate ``--rounds`` times
at concurrency 16 (and 1) and the medians are compared against the goal: at most 10% fewer
requests/s with limits and a budget.

    uv run python bench/bench_tenancy.py [--duration 8] [--rounds 3]

Router runs alone on core 0; the emulator, redis-server and wrk share core 1. Requires wrk and
redis-server. Loopback only; bounded by --duration.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

from bench_cache import redis
from bench_proxy import (
    PY,
    ROOT,
    Result,
    emulator_cmd,
    free_port,
    median,
    process,
    wait_http,
    wrk,
)

GOAL = 0.10
OPEN_KEY, GOVERNED_KEY = "bench-open-key", "bench-governed-key"
AUTH = """\
auth:
  keys:
    - {name: open, key_env: BENCH_OPEN_KEY, team: bench}
    - name: governed
      key_env: BENCH_GOVERNED_KEY
      team: bench
      limits: {rpm: 100000000, tpm: 100000000000, concurrent: 10000}
      budgets: [{usd: 1000000, period: day}]
"""


def headers(key: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}


def check(url: str, body: dict[str, object]) -> None:
    """Both keys are served, and only the governed one is counted."""
    for key, counted in ((OPEN_KEY, False), (GOVERNED_KEY, True)):
        req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers(key))
        with urllib.request.urlopen(req, timeout=10) as resp:
            limited = "x-ratelimit-limit-requests" in resp.headers
        if limited != counted:
            raise RuntimeError(f"{key}: rate-limit headers {limited}, expected {counted}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for tool in ("wrk", "redis-server"):
        if not shutil.which(tool):
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    sys.path.insert(0, str(ROOT / "src"))
    from router.demo import Endpoints, demo_config

    emu_port, redis_port, port = free_port(), free_port(), free_port()
    emu = f"http://127.0.0.1:{emu_port}"
    tmp = Path(tempfile.mkdtemp(prefix="router-bench-tenancy-"))
    catalog = demo_config(Endpoints(f"{emu}/v1", emu, f"{emu}/models", emu), key_env="BENCH_KEY")
    (tmp / "router.yaml").write_text(catalog)
    (tmp / "auth.yaml").write_text(AUTH)
    env = {
        **os.environ,
        # wrk, the emulator and redis-server share one core: past 0.1 s a starved Redis call
        # would count as a store failure and go uncounted (on_store_error: allow), which
        # would flatter the governed runs. A roomier bound measures what counting costs.
        "ROUTER_STORE_TIMEOUT_S": "1",
        "BENCH_KEY": "bench-key",
        "BENCH_OPEN_KEY": OPEN_KEY,
        "BENCH_GOVERNED_KEY": GOVERNED_KEY,
    }
    serve = [PY, "-m", "router.cli", "serve", "--config", str(tmp), "--port", str(port),
             "--workers", "1", "--log-level", "warning"]  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body: dict[str, object] = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 16,
    }
    runs: dict[tuple[int, str], list[Result]] = {}
    with (
        redis(redis_port) as redis_url,
        process(emulator_cmd(emu_port), 1),
        process(serve, 0, {**env, "REDIS_URL": redis_url}) as router,
    ):
        wait_http(f"{emu}/v1/models")
        wait_http(f"http://127.0.0.1:{port}/healthz")
        check(url, body)
        for conns in (16, 1):
            for key in (OPEN_KEY, GOVERNED_KEY):  # warm-up
                wrk(url, body, conns, 2, 1, headers=headers(key))
            for _ in range(args.rounds):
                for name, key in (("without", OPEN_KEY), ("with", GOVERNED_KEY)):
                    result = wrk(url, body, conns, args.duration, 1, router.pid, headers(key))
                    runs.setdefault((conns, name), []).append(result)
    print(f"{'run':30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10} {'errors':>6}")
    verdict = 0
    for conns in (16, 1):
        rows = {name: median(runs[(conns, name)]) for name in ("without", "with")}
        for name, r in rows.items():
            label = f"c={conns} {name} limits+budget"
            cpu = f"{r.cpu_us:.0f}" if r.cpu_us is not None else "n/a"
            print(f"{label:30} {r.rps:>8.0f} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f} {cpu:>10} "
                  f"{r.errors:>6}")  # fmt: skip
        loss = 1 - rows["with"].rps / rows["without"].rps
        cpu_with, cpu_without = rows["with"].cpu_us, rows["without"].cpu_us
        extra = f", CPU/request {cpu_with / cpu_without:.2f}x" if cpu_with and cpu_without else ""
        print(f"c={conns}: limits + budget cost {loss:.1%} of requests/s{extra}"
              f" (goal at c=16: at most {GOAL:.0%})")  # fmt: skip
        if conns == 16 and loss > GOAL:
            verdict = 1
        if any(r.errors for r in rows.values()):
            verdict = 1
    return verdict


if __name__ == "__main__":
    sys.exit(main())
