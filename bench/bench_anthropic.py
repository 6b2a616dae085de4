"""The Anthropic paths through router against LiteLLM Proxy's equivalents, in one run.

Paths (wire in -> wire out), each measured on router and on LiteLLM Proxy:

* ``openai->openai``: ``/v1/chat/completions`` to GPT-4o (the OpenAI-compatible reference);
* ``openai->claude``: ``/v1/chat/completions`` to Claude;
* ``anthropic->claude``: ``/v1/messages`` to Claude;
* ``anthropic->openai``: ``/v1/messages`` to GPT-4o (translated both ways).

Router (``router serve``, one worker) and LiteLLM Proxy (one worker) share core 0 but never
run a load at the same time; the Anthropic and OpenAI emulators and the load generator (wrk)
run on core 1. For each path, mode (JSON, streaming) and concurrency (1, 16) the two
products alternate ``--rounds`` times and the median is reported, with each server's CPU time
per request (the steadier figure on a shared machine). Then the resident memory of router
with a Claude-only catalog against an OpenAI-only one, each after the same warm-up.

LiteLLM Proxy is never a project dependency: install it in a separate virtualenv and pass
its ``litellm`` binary:

    uv venv /tmp/litellm-proxy && VIRTUAL_ENV=/tmp/litellm-proxy uv pip install 'litellm[proxy]'
    uv run python bench/bench_anthropic.py --litellm /tmp/litellm-proxy/bin/litellm

Goals (issue 11), checked at the end: at least 10x LiteLLM Proxy in requests/s at c=16 on
every Anthropic path; router CPU per request on each Anthropic path within 1.5x of the
OpenAI-compatible path; RSS of the Claude-only config within 1.5x of the OpenAI-only one.
Requires ``wrk``. Loopback only (LiteLLM runs with its local price map, no telemetry).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

from bench_proxy import (
    KEY,
    PY,
    ROOT,
    Result,
    cpu_seconds,
    free_port,
    median,
    process,
    wait_http,
    wrk,
)

ROUTER_CORE, LOAD_CORE = 0, 1
PROMPT = "benchmark me please"
LITELLM_KEY = "sk-bench-master"  # LiteLLM Proxy wants its master key to start with "sk-"
SPEED_GOAL, CPU_GOAL, RSS_GOAL = 10.0, 1.5, 1.5
REFERENCE = "openai->openai"


@dataclass(frozen=True)
class Route:
    name: str
    route: str  # "/v1/chat/completions" or "/v1/messages"
    model: str  # the model name both products know
    served_by: str  # router's deployment that must answer

    @property
    def anthropic_in(self) -> bool:
        return self.route == "/v1/messages"

    def body(self, stream: bool) -> dict[str, object]:
        return {
            "model": self.model,
            "max_tokens": 100,
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": stream,
        }


PATHS = (
    Route(REFERENCE, "/v1/chat/completions", "gpt-4o", "gpt-4o@openai"),
    Route("openai->claude", "/v1/chat/completions", "claude-sonnet", "claude-sonnet@anthropic"),
    Route("anthropic->claude", "/v1/messages", "claude-sonnet", "claude-sonnet@anthropic"),
    Route("anthropic->openai", "/v1/messages", "gpt-4o", "gpt-4o@openai"),
)


def router_catalog(anthropic_url: str, openai_url: str, which: str) -> str:
    """A catalog with GPT-4o, Claude, or both (``which``: openai | claude | both)."""
    gpt = f"""\
  gpt-4o:
    pricing: {{input_per_mtok: 2.5, output_per_mtok: 10.0}}
    deployments:
      - {{name: gpt-4o@openai, provider: openai, model: gpt-4o, base_url: "{openai_url}/v1",
          api_key_env: BENCH_KEY}}
"""
    claude = f"""\
  claude-sonnet:
    pricing: {{input_per_mtok: 3.0, output_per_mtok: 15.0}}
    deployments:
      - {{name: claude-sonnet@anthropic, provider: anthropic, model: claude-sonnet-4-5,
          base_url: "{anthropic_url}", api_key_env: BENCH_KEY}}
"""
    parts = {"openai": gpt, "claude": claude, "both": gpt + claude}[which]
    return "models:\n" + parts


def litellm_config(anthropic_url: str, openai_url: str) -> str:
    return f"""\
model_list:
  - model_name: gpt-4o
    litellm_params: {{model: openai/gpt-4o, api_base: "{openai_url}/v1", api_key: "{KEY}"}}
  - model_name: claude-sonnet
    litellm_params:
      {{model: anthropic/claude-sonnet-4-5, api_base: "{anthropic_url}", api_key: "{KEY}"}}
general_settings:
  master_key: {LITELLM_KEY}
litellm_settings:
  drop_params: true
  telemetry: false
  turn_off_message_logging: true
"""


def headers(key: str, path: Route) -> dict[str, str]:
    sent = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    if path.anthropic_in:  # what the anthropic SDK and Claude Code send
        sent.update({"x-api-key": key, "anthropic-version": "2023-06-01"})
    return sent


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants (a server may fork its worker)."""
    total = cpu_seconds(pid) or 0.0
    for child in _children(pid):
        total += tree_cpu_seconds(child)
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its descendants, MiB."""
    total = 0
    for proc in (pid, *_children(pid)):
        for line in Path(f"/proc/{proc}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def check(url: str, path: Route, key: str, served_by: str | None) -> None:
    """One request per path before measuring: it must answer 200 (and, on router, from the
    deployment the path is about)."""
    request = urllib.request.Request(  # loopback only
        url + path.route, json.dumps(path.body(False)).encode(), headers(key, path)
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        deployment = resp.headers.get("x-router-deployment")
        payload = json.loads(resp.read())
    if served_by is not None and deployment != served_by:
        raise RuntimeError(f"{path.name}: served by {deployment!r}, not {served_by!r}")
    kind = payload.get("type") or payload.get("object")
    expected = "message" if path.anthropic_in else "chat.completion"
    if kind != expected:
        raise RuntimeError(f"{path.name}: answered {kind!r}, not {expected!r}: {payload}")


def measure(
    url: str, path: Route, key: str, stream: bool, conns: int, seconds: int, pid: int
) -> Result:
    body, sent = path.body(stream), headers(key, path)
    wrk(url + path.route, body, conns, 2, LOAD_CORE, headers=sent)  # warm-up
    cpu0 = tree_cpu_seconds(pid)
    result = wrk(url + path.route, body, conns, seconds, LOAD_CORE, headers=sent)
    requests = result.rps * seconds
    cpu = (tree_cpu_seconds(pid) - cpu0) / requests * 1e6 if requests else None
    return replace(result, cpu_us=cpu)


def router_cmd(config: Path, port: int) -> list[str]:
    return [PY, "-m", "router.cli", "serve", "--config", str(config), "--port", str(port),
            "--workers", "1", "--log-level", "warning"]  # fmt: skip


def emulator(provider: str, port: int) -> list[str]:
    return [PY, "-m", "router.emulators", "--provider", provider, "--port", str(port),
            "--api-key", KEY, "--any-model"]  # fmt: skip


def memory(
    anthropic_url: str, openai_url: str, env: dict[str, str], seconds: int
) -> dict[str, float]:
    """RSS of router after the same warm-up (every path its catalog serves, JSON and stream,
    c=16), for a Claude-only and an OpenAI-only catalog."""
    rss: dict[str, float] = {}
    for which in ("claude", "openai"):
        tmp = Path(tempfile.mkdtemp(prefix=f"router-bench-{which}-"))
        (tmp / "router.yaml").write_text(router_catalog(anthropic_url, openai_url, which))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        target = "claude-sonnet" if which == "claude" else "gpt-4o"
        with process(router_cmd(tmp, port), ROUTER_CORE, env) as proc:
            wait_http(f"{url}/healthz")
            for path in PATHS:
                if path.model == target:
                    for stream in (False, True):
                        wrk(url + path.route, path.body(stream), 16, seconds, LOAD_CORE,
                            headers=headers(KEY, path))  # fmt: skip
            rss[which] = rss_mib(proc.pid)
    return rss


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--litellm", required=True, help="path to LiteLLM Proxy's `litellm`")
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=1, help="router/LiteLLM alternations")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated wrk -c values")
    parser.add_argument("--paths", default=",".join(p.name for p in PATHS))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT / "src"))
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    paths = [p for p in PATHS if p.name in args.paths.split(",")]
    a_port, o_port, r_port, l_port = free_port(), free_port(), free_port(), free_port()
    anthropic_url, openai_url = f"http://127.0.0.1:{a_port}", f"http://127.0.0.1:{o_port}"
    tmp = Path(tempfile.mkdtemp(prefix="router-bench-anthropic-"))
    (tmp / "router.yaml").write_text(router_catalog(anthropic_url, openai_url, "both"))
    lite_config = tmp.with_name(tmp.name + "-litellm.yaml")  # router reads all of tmp/
    lite_config.write_text(litellm_config(anthropic_url, openai_url))
    env = {**os.environ, "BENCH_KEY": KEY, "ROUTER_MASTER_KEY": KEY}
    litellm_env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no price-map fetch: loopback only
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOG": "ERROR",
        # Anthropic in -> OpenAI out over chat completions, as router does (LiteLLM's default
        # for OpenAI models is the Responses API, which is not the path being compared).
        "LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES": "True",
    }
    litellm_cmd = [args.litellm, "--config", str(lite_config), "--port", str(l_port),
                   "--num_workers", "1"]  # fmt: skip
    servers = {
        "router": (f"http://127.0.0.1:{r_port}", KEY),
        "litellm": (f"http://127.0.0.1:{l_port}", LITELLM_KEY),
    }
    rows: dict[tuple[str, str, int, str], list[Result]] = {}
    with (
        process(emulator("anthropic", a_port), LOAD_CORE),
        process(emulator("openai", o_port), LOAD_CORE),
        process(router_cmd(tmp, r_port), ROUTER_CORE, env) as router_proc,
        process(litellm_cmd, ROUTER_CORE, litellm_env) as litellm_proc,
    ):
        pids = {"router": router_proc.pid, "litellm": litellm_proc.pid}
        wait_http(f"{openai_url}/v1/models")
        wait_http(f"{anthropic_url}/v1/messages")
        wait_http(f"{servers['router'][0]}/healthz")
        wait_http(f"{servers['litellm'][0]}/health/liveliness", timeout=180)
        for path in paths:
            check(servers["router"][0], path, KEY, path.served_by)
            check(servers["litellm"][0], path, LITELLM_KEY, None)
        print("check: every path answers on router and LiteLLM Proxy", file=sys.stderr)
        for stream in (False, True):
            mode = "stream" if stream else "json"
            for conns in levels:
                for path in paths:
                    for _ in range(max(args.rounds, 1)):
                        for name, (url, key) in servers.items():
                            res = measure(url, path, key, stream, conns, args.duration, pids[name])
                            rows.setdefault((path.name, mode, conns, name), []).append(res)
                            print(f"  {path.name:18} {mode:6} c={conns:<3} {name:8} "
                                  f"{res.rps:8.0f} req/s", file=sys.stderr)  # fmt: skip
    rss = memory(anthropic_url, openai_url, env, 3) if REFERENCE in args.paths else {}
    return report({key: median(results) for key, results in rows.items()}, paths, levels, rss)


def report(
    table: dict[tuple[str, str, int, str], Result],
    paths: list[Route],
    levels: list[int],
    rss: dict[str, float],
) -> int:
    print(f"{'path':18} {'mode':6} {'c':>3} | {'router req/s':>12} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'cpu us':>7} | {'litellm req/s':>13} {'p50 ms':>7} {'p99 ms':>7} {'cpu us':>7} "
          f"| {'x':>6} {'errors':>6}")  # fmt: skip
    errors = 0
    for path in paths:
        for mode in ("json", "stream"):
            for conns in levels:
                r = table[(path.name, mode, conns, "router")]
                lite = table[(path.name, mode, conns, "litellm")]
                errors += r.errors + lite.errors
                print(f"{path.name:18} {mode:6} {conns:>3} | {r.rps:>12.0f} {r.p50_ms:>7.2f} "
                      f"{r.p99_ms:>7.2f} {r.cpu_us or 0:>7.0f} | {lite.rps:>13.0f} "
                      f"{lite.p50_ms:>7.2f} {lite.p99_ms:>7.2f} {lite.cpu_us or 0:>7.0f} "
                      f"| {r.rps / lite.rps if lite.rps else float('inf'):>6.1f} "
                      f"{r.errors:>3}/{lite.errors:<3}")  # fmt: skip
    ok = True
    top = max(levels)
    print(f"goals at c={top}:")
    for path in paths:
        if path.name == REFERENCE:
            continue
        for mode in ("json", "stream"):
            r = table[(path.name, mode, top, "router")]
            lite = table[(path.name, mode, top, "litellm")]
            speed = r.rps / lite.rps if lite.rps else float("inf")
            line = f"  {path.name:18} {mode:6} {speed:5.1f}x LiteLLM req/s (goal {SPEED_GOAL:.0f}x)"
            if r.cpu_us and lite.cpu_us:
                # Each alone on its core, throughput is 1 / CPU per request: the steadier
                # ratio when other work shares the machine. The verdict stays on req/s.
                line += f", {lite.cpu_us / r.cpu_us:.1f}x by CPU per request"
            met = speed >= SPEED_GOAL
            ref = table.get((REFERENCE, mode, top, "router"))
            if ref is not None and ref.cpu_us and r.cpu_us:
                cpu = r.cpu_us / ref.cpu_us
                met = met and cpu <= CPU_GOAL
                line += f"; cpu {r.cpu_us:.0f} vs {ref.cpu_us:.0f} us/req = {cpu:.2f}x the "
                line += f"OpenAI-compatible path (goal {CPU_GOAL}x)"
            ok = ok and met
            print(line + ("  ok" if met else "  MISSED"))
    if rss:
        ratio = rss["claude"] / rss["openai"]
        met = ratio <= RSS_GOAL
        ok = ok and met
        print(f"  RSS Claude-only {rss['claude']:.0f} MiB vs OpenAI-only {rss['openai']:.0f} MiB "
              f"= {ratio:.2f}x (goal {RSS_GOAL}x)  {'ok' if met else 'MISSED'}")  # fmt: skip
    if errors:
        print(f"{errors} request(s) failed: the figures above are not valid", file=sys.stderr)
    return 0 if ok and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
