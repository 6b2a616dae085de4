"""End-to-end proxy benchmark, as ratios in one run (timings on a shared machine are noisy).

Starts the OpenAI emulator and ``router serve`` (one worker) as separate processes, router
pinned alone to one core and the emulator plus the load generator (wrk) on the other, then
measures, for non-streaming and streaming requests:

* direct to the emulator, and through router, at concurrency 1 and 16;
* requests/s, p50 and p99, and router's added p50 at concurrency 1.

    uv run python bench/bench_proxy.py [--duration 10] [--policy]

Requires ``wrk`` (Debian package ``wrk``). Loopback only; every run is bounded by --duration.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
KEY = "bench-key"

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
wrk.body = '%(body)s'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # loopback only
                return
        except urllib.error.HTTPError:
            return  # it answered: it is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def process(cmd: list[str], core: int, env: dict[str, str] | None = None) -> Iterator[None]:
    full = ["taskset", "-c", str(core), *cmd] if shutil.which("taskset") else cmd
    fd, log_name = tempfile.mkstemp(prefix="router-bench-", suffix=".log")
    with os.fdopen(fd, "w") as log:
        proc = subprocess.Popen(full, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if os.path.getsize(log_name) > 0:
            print(f"(output of {cmd[0:4]} kept in {log_name})", file=sys.stderr)


def wrk(url: str, body: dict[str, object], conns: int, seconds: int, core: int) -> Result:
    script = LUA % {"key": KEY, "body": json.dumps(body)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "-s", f.name, url]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    os.unlink(f.name)
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)", out.stdout)
    if m is None:
        raise RuntimeError(out.stdout + out.stderr)
    n, dur_us, p50, p99, errors = m.groups()
    return Result(int(n) / (int(dur_us) / 1e6), float(p50) / 1000, float(p99) / 1000, int(errors))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--policy", action="store_true", help="route via the 'auto' policy")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT / "src"))
    from router.demo import Endpoints, demo_config

    emu_port, router_port = free_port(), free_port()
    emu = f"http://127.0.0.1:{emu_port}"
    tmp = Path(tempfile.mkdtemp(prefix="router-bench-"))
    (tmp / "router.yaml").write_text(
        demo_config(Endpoints(f"{emu}/v1", emu, f"{emu}/models", emu), key_env="BENCH_KEY")
    )
    env = {**os.environ, "BENCH_KEY": KEY, "ROUTER_MASTER_KEY": KEY}
    emu_cmd = [
        PY,
        "-m",
        "router.emulators",
        "--provider",
        "openai",
        "--port",
        str(emu_port),
        "--api-key",
        KEY,
        "--any-model",
    ]
    router_cmd = [
        PY,
        "-m",
        "router.cli",
        "serve",
        "--config",
        str(tmp),
        "--port",
        str(router_port),
        "--workers",
        "1",
        "--log-level",
        "warning",
    ]
    model = "auto" if args.policy else "gpt-4o"
    rows: list[tuple[str, str, int, Result]] = []
    with process(emu_cmd, 1), process(router_cmd, 0, env):
        wait_http(f"{emu}/v1/models")
        wait_http(f"http://127.0.0.1:{router_port}/healthz")
        for stream in (False, True):
            body: dict[str, object] = {
                "model": model,
                "messages": [{"role": "user", "content": "benchmark me please"}],
                "stream": stream,
            }
            for conns in (1, 16):
                for name, url in (
                    ("direct", f"{emu}/v1/chat/completions"),
                    ("router", f"http://127.0.0.1:{router_port}/v1/chat/completions"),
                ):
                    direct_body = {**body, "model": "gpt-4o"} if name == "direct" else body
                    wrk(url, direct_body, conns, 2, 1)  # warm-up
                    res = wrk(url, direct_body, conns, args.duration, 1)
                    rows.append(("stream" if stream else "json", name, conns, res))
    print(f"{'mode':6} {'path':6} {'c':>3} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for mode, name, conns, r in rows:
        print(
            f"{mode:6} {name:6} {conns:>3} {r.rps:>9.0f} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f} "
            f"{r.errors:>6}"
        )
    for mode in ("json", "stream"):
        d = next(r for m, n, c, r in rows if m == mode and n == "direct" and c == 1)
        p = next(r for m, n, c, r in rows if m == mode and n == "router" and c == 1)
        print(f"{mode}: router adds {p.p50_ms - d.p50_ms:.3f} ms at p50, concurrency 1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
