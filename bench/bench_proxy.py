"""End-to-end proxy benchmark, as ratios in one run (timings on a shared machine are noisy).

Starts the OpenAI emulator and ``router serve`` (one worker) as separate processes, router
pinned alone to one core and the emulator plus the load generator (wrk) on the other, then
measures, for non-streaming and streaming requests:

* direct to the emulator, and through router, at concurrency 1 and 16;
* requests/s, p50 and p99, and router's added p50 at concurrency 1.

Through router, a request names either a model (``gpt-4o``: routed direct, no policy) or the
``auto`` alias of a policy (``bench``, below: classify, rule match, constraints, cost ranking
over four deployments, live signals), so the price of policy routing shows:

    uv run python bench/bench_proxy.py [--duration 10]            # direct vs model
    uv run python bench/bench_proxy.py --policy                    # direct vs policy
    uv run python bench/bench_proxy.py --compare [--rounds 3]      # direct, model AND policy,
                                                                   # with the policy/model ratio

``--compare`` alternates the model and policy runs ``--rounds`` times and reports the median
of each, so a slow spell on a shared machine does not land on one side only.

``--baseline DIR`` benches another checkout in the same run (an earlier commit, checked out
with its own ``.venv``: ``git worktree add --detach DIR REV && (cd DIR && uv sync --frozen)``):
its ``router serve`` runs beside this one, on the same core, against the same emulator, with
its own ``demo_config``; each router path gets a ``base-`` twin, measured in alternation
with it round by round, and the table ends with this checkout's figures over the baseline's:

    uv run python bench/bench_proxy.py --baseline ../old --rounds 3    # model: this vs DIR
    uv run python bench/bench_proxy.py --compare --baseline ../old     # model and policy

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
%(headers)s
wrk.body = '%(body)s'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""


# The policy behind "auto": general chat, cost-ranked above a quality floor (the demo's
# mai-code-1-flash scores 0.7 for general and is left out; gpt-4o is cheaper than Claude), so
# it answers from gpt-4o@openai, the one deployment the benchmark's emulator serves.
POLICIES = """\
policies:
  bench:
    default: true
    rules:
      - name: code
        when: {task: code}
        objective: priority
        candidates: [mai-code-1-flash, gpt-4o]
      - name: general
        objective: cost
        candidates: [mai-code-1-flash, gpt-4o, claude-sonnet]
        constraints: {min_quality: 0.8}
        fallbacks: [gpt-4o]
"""
SERVED_BY = "gpt-4o@openai"
GOAL = 0.10  # the budget: policy routing at most 10% below direct in requests/s


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float | None = None  # router process CPU time per request (user + system)


def emulator_cmd(port: int) -> list[str]:
    """The OpenAI emulator as its own process, accepting any model name."""
    return [PY, "-m", "router.emulators", "--provider", "openai", "--port", str(port),
            "--api-key", KEY, "--any-model"]  # fmt: skip


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
def process(
    cmd: list[str], core: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    full = ["taskset", "-c", str(core), *cmd] if shutil.which("taskset") else cmd
    fd, log_name = tempfile.mkstemp(prefix="router-bench-", suffix=".log")
    with os.fdopen(fd, "w") as log:
        proc = subprocess.Popen(full, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if os.path.getsize(log_name) > 0:
            print(f"(output of {cmd[0:4]} kept in {log_name})", file=sys.stderr)


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None where unknown.

    Unlike requests/s, a process's own CPU time per request hardly moves when other work
    shares the machine, so it is the steadier figure for comparing two router paths."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str,
    body: dict[str, object],
    conns: int,
    seconds: int,
    core: int,
    pid: int | None = None,
    headers: dict[str, str] | None = None,
) -> Result:
    """``headers`` default to a JSON body and router's bearer key."""
    sent = headers or {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    lines = "\n".join(f'wrk.headers["{name}"] = "{value}"' for name, value in sent.items())
    script = LUA % {"headers": lines, "body": json.dumps(body)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "-s", f.name, url]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    cpu1 = cpu_seconds(pid)
    os.unlink(f.name)
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)", out.stdout)
    if m is None:
        raise RuntimeError(out.stdout + out.stderr)
    n, dur_us, p50, p99, errors = m.groups()
    cpu = None if cpu0 is None or cpu1 is None or not int(n) else (cpu1 - cpu0) / int(n) * 1e6
    rps = int(n) / (int(dur_us) / 1e6)
    return Result(rps, float(p50) / 1000, float(p99) / 1000, int(errors), cpu)


def check_route(url: str, model: str) -> None:
    """One request before measuring: it must succeed and be served where the bench expects."""
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": "benchmark me please"}]}
    ).encode()
    request = urllib.request.Request(  # loopback only
        url,
        body,
        {"content-type": "application/json", "authorization": f"Bearer {KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        served = resp.headers.get("x-router-deployment")
        policy = resp.headers.get("x-router-policy")
    if served != SERVED_BY:
        raise RuntimeError(f"model {model!r} was served by {served!r}, not {SERVED_BY!r}")
    print(f"check: model {model!r} -> policy {policy}, deployment {served}", file=sys.stderr)


def median(results: list[Result]) -> Result:
    """The run with the median requests/s (its own p50/p99 alongside), the median CPU per
    request; errors summed. With an even count, the less flattering middle of each: the
    lower requests/s and the higher CPU."""
    ordered = sorted(results, key=lambda r: r.rps)
    mid = ordered[(len(ordered) - 1) // 2]
    cpus = sorted(r.cpu_us for r in results if r.cpu_us is not None)
    cpu = cpus[len(cpus) // 2] if cpus else None
    return Result(mid.rps, mid.p50_ms, mid.p99_ms, sum(r.errors for r in results), cpu)


def baseline_config(checkout: Path, endpoints: tuple[str, str, str, str]) -> str:
    """The baseline checkout's own demo config (its schema may differ from this one's)."""
    code = (
        "import sys; from router.demo import Endpoints, demo_config; "
        "print(demo_config(Endpoints(*sys.argv[1:5]), key_env='BENCH_KEY'), end='')"
    )
    python = str(checkout / ".venv" / "bin" / "python")
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    done = subprocess.run(
        [python, "-c", code, *endpoints], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--policy", action="store_true", help="route via the 'auto' policy")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="measure model (direct routing) and policy ('auto') in one run, with their ratio",
    )
    parser.add_argument("--rounds", type=int, default=1, help="alternations with --compare")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated wrk -c values")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (with its own .venv) to bench beside this one, alternating",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        help="router's log level; 'info' writes an access line per request (the default of "
        "router serve), 'warning' measures without them",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT / "src"))
    from router.demo import Endpoints, demo_config

    emu_port, router_port, base_port = free_port(), free_port(), free_port()
    emu = f"http://127.0.0.1:{emu_port}"
    endpoints = (f"{emu}/v1", emu, f"{emu}/models", emu)
    env = {**os.environ, "BENCH_KEY": KEY, "ROUTER_MASTER_KEY": KEY}
    emu_cmd = emulator_cmd(emu_port)

    def serve(python: str, config: str, port: int) -> tuple[list[str], str]:
        tmp = Path(tempfile.mkdtemp(prefix="router-bench-"))
        (tmp / "router.yaml").write_text(config)
        (tmp / "policies.yaml").write_text(POLICIES)
        cmd = [python, "-m", "router.cli", "serve", "--config", str(tmp), "--port", str(port),
               "--workers", "1", "--log-level", args.log_level]  # fmt: skip
        return cmd, f"http://127.0.0.1:{port}"

    router_cmd, router_base = serve(
        PY, demo_config(Endpoints(*endpoints), key_env="BENCH_KEY"), router_port
    )
    router_url = f"{router_base}/v1/chat/completions"
    # path name -> (url, model); "direct" is the emulator itself
    paths: dict[str, tuple[str, str]] = {"direct": (f"{emu}/v1/chat/completions", "gpt-4o")}
    if args.compare or not args.policy:
        paths["model"] = (router_url, "gpt-4o")
    if args.compare or args.policy:
        paths["policy"] = (router_url, "auto")
    routers = [router_base]
    base: contextlib.AbstractContextManager[subprocess.Popen[bytes] | None]
    base = contextlib.nullcontext()
    if args.baseline is not None:
        checkout = args.baseline.resolve()
        base_cmd, base_url = serve(
            str(checkout / ".venv" / "bin" / "python"),
            baseline_config(checkout, endpoints),
            base_port,
        )
        base_env = {**env, "PYTHONPATH": str(checkout / "src")}
        base = process(base_cmd, 0, base_env)
        routers.append(base_url)
        for name in [n for n in paths if n != "direct"]:
            paths[f"base-{name}"] = (f"{base_url}/v1/chat/completions", paths[name][1])
    rounds = max(args.rounds, 1) if args.compare or args.baseline else 1
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    rows: dict[tuple[str, int, str], list[Result]] = {}
    with process(emu_cmd, 1), process(router_cmd, 0, env) as router_proc, base as base_proc:
        pids = {router_base: router_proc.pid}
        if base_proc is not None:
            pids[routers[1]] = base_proc.pid
        wait_http(f"{emu}/v1/models")
        for url in routers:
            wait_http(f"{url}/healthz")
        for name, (url, model) in paths.items():
            if name != "direct":
                check_route(url, model)
        for stream in (False, True):
            mode = "stream" if stream else "json"
            for conns in levels:
                for n in range(rounds):
                    for name, (url, model) in paths.items():
                        if name == "direct" and n > 0:
                            continue  # the baseline once; the router paths alternate
                        body: dict[str, object] = {
                            "model": model,
                            "messages": [{"role": "user", "content": "benchmark me please"}],
                            "stream": stream,
                        }
                        pid = pids.get(url.removesuffix("/v1/chat/completions"))
                        wrk(url, body, conns, 2, 1)  # warm-up
                        res = wrk(url, body, conns, args.duration, 1, pid)
                        rows.setdefault((mode, conns, name), []).append(res)
    table = {key: median(results) for key, results in rows.items()}
    print(
        f"{'mode':6} {'path':11} {'c':>3} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'cpu us/req':>10}"
    )
    for (mode, conns, name), r in table.items():
        cpu = f"{r.cpu_us:>10.0f}" if r.cpu_us is not None else f"{'-':>10}"
        print(
            f"{mode:6} {name:11} {conns:>3} {r.rps:>9.0f} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f} "
            f"{r.errors:>6} {cpu}"
        )
    low = min(levels)
    for mode in ("json", "stream"):
        d = table[(mode, low, "direct")]
        for name in paths:
            if name != "direct":
                p = table[(mode, low, name)]
                print(
                    f"{mode}: router ({name}) adds {p.p50_ms - d.p50_ms:.3f} ms at p50, "
                    f"concurrency {low}"
                )
    ok = True
    if "model" in paths and "policy" in paths:
        # With router alone on its core, its throughput ceiling is 1 / CPU per request: the
        # verdict uses that ratio (steady on a shared machine); measured req/s is shown too.
        print(f"policy routing vs model routing (goal: at most {GOAL:.0%} fewer req/s):")
        for mode in ("json", "stream"):
            for conns in levels:
                m, p = table[(mode, conns, "model")], table[(mode, conns, "policy")]
                measured = p.rps / m.rps if m.rps else float("nan")
                if m.cpu_us and p.cpu_us:
                    capacity = m.cpu_us / p.cpu_us
                    cpu = f"cpu {p.cpu_us:.0f} vs {m.cpu_us:.0f} us/req"
                else:
                    capacity, cpu = measured, "cpu n/a"
                within = capacity >= 1 - GOAL
                ok = ok and within
                print(
                    f"  {mode:6} c={conns:<3} capacity ratio {capacity:6.3f} ({cpu}); "
                    f"measured req/s ratio {measured:6.3f} ({p.rps:.0f} vs {m.rps:.0f}); "
                    f"p50 {p.p50_ms - m.p50_ms:+.3f} ms  {'ok' if within else 'OVER BUDGET'}"
                )
    if args.baseline is not None:
        print(f"this checkout over the baseline ({args.baseline}), medians of {rounds} rounds:")
        for mode in ("json", "stream"):
            for conns in levels:
                for name in [n for n in paths if n in ("model", "policy")]:
                    t, b = table[(mode, conns, name)], table[(mode, conns, f"base-{name}")]
                    cpu = (
                        f"cpu {t.cpu_us:.0f} vs {b.cpu_us:.0f} us/req ({t.cpu_us / b.cpu_us:.3f})"
                        if t.cpu_us and b.cpu_us
                        else "cpu n/a"
                    )
                    print(
                        f"  {mode:6} {name:6} c={conns:<3} req/s {t.rps:.0f} vs {b.rps:.0f} "
                        f"({t.rps / b.rps if b.rps else float('nan'):.3f}); {cpu}"
                    )
    errors = sum(r.errors for r in table.values())
    if errors:
        print(f"{errors} request(s) failed: the figures above are not valid", file=sys.stderr)
    return 0 if ok and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
