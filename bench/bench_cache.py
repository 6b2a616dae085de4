"""Cache-hit benchmark, as ratios in one run: router answering from its cache (Redis, and the
embedded memory store) against the fastest uncached path (router -> emulator) and against
calling the emulator directly.

    uv run python bench/bench_cache.py [--duration 8]

Router runs alone on core 0; the emulator, redis-server and wrk share core 1. Every request in
a hit run is identical, so after the first one each is a hit (checked from the headers first).
Requires wrk and redis-server. Loopback only; bounded by --duration.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench_proxy import KEY, PY, ROOT, Result, emulator_cmd, free_port, process, wait_http, wrk

CACHED_POLICY = """
policies:
  cached:
    cache: {mode: "on", ttl_s: 3600}
    rules:
      - name: all
        candidates: [gpt-4o]
"""


@contextlib.contextmanager
def redis(port: int) -> Iterator[str]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        process(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", tmp],
            1,
        ),
    ):
        yield f"redis://127.0.0.1:{port}/0"


def cache_header(url: str, body: bytes) -> str:
    req = urllib.request.Request(
        url,
        data=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {KEY}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(resp.headers.get("x-router-cache"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    args = parser.parse_args()
    for tool in ("wrk", "redis-server"):
        if not shutil.which(tool):
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    sys.path.insert(0, str(ROOT / "src"))
    from router.demo import Endpoints, demo_config

    emu_port, redis_port = free_port(), free_port()
    with_redis, with_memory = free_port(), free_port()
    emu = f"http://127.0.0.1:{emu_port}"
    tmp = Path(tempfile.mkdtemp(prefix="router-bench-cache-"))
    catalog = demo_config(Endpoints(f"{emu}/v1", emu, f"{emu}/models", emu), key_env="BENCH_KEY")
    (tmp / "router.yaml").write_text(catalog)
    (tmp / "cache.yaml").write_text(CACHED_POLICY)
    base_env = {**os.environ, "BENCH_KEY": KEY, "ROUTER_MASTER_KEY": KEY}
    base_env.pop("REDIS_URL", None)
    emu_cmd = emulator_cmd(emu_port)

    def serve(port: int) -> list[str]:
        return [
            PY,
            "-m",
            "router.cli",
            "serve",
            "--config",
            str(tmp),
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
        ]

    message = {"role": "user", "content": "the same question every time"}
    rows: list[tuple[str, Result]] = []
    with (
        redis(redis_port) as redis_url,
        process(emu_cmd, 1),
        process(serve(with_redis), 0, {**base_env, "REDIS_URL": redis_url}),
        process(serve(with_memory), 0, base_env),
    ):
        wait_http(f"{emu}/v1/models")
        for port in (with_redis, with_memory):
            wait_http(f"http://127.0.0.1:{port}/healthz")
        for stream in (False, True):
            mode = "stream" if stream else "json"
            cached = {"model": "cached", "messages": [message], "stream": stream}
            plain = {"model": "gpt-4o", "messages": [message], "stream": stream}
            runs = [
                ("direct emulator", f"{emu}/v1/chat/completions", plain),
                ("router, uncached", f"http://127.0.0.1:{with_redis}/v1/chat/completions", plain),
                ("router, Redis hit", f"http://127.0.0.1:{with_redis}/v1/chat/completions", cached),
                (
                    "router, memory hit",
                    f"http://127.0.0.1:{with_memory}/v1/chat/completions",
                    cached,
                ),
            ]
            for name, url, body in runs:
                if body is cached:
                    raw = json.dumps(body).encode()
                    cache_header(url, raw)  # prime
                    seen = cache_header(url, raw)
                    if seen != "hit":
                        raise RuntimeError(f"{name}: expected a hit, saw {seen}")
                wrk(url, body, 1, 2, 1)  # warm-up
                rows.append((f"{mode:6} {name}", wrk(url, body, 1, args.duration, 1)))
    print(f"{'run (concurrency 1)':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for name, r in rows:
        print(f"{name:28} {r.rps:>8.0f} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f} {r.errors:>6}")
    for mode in ("json", "stream"):
        by = {n.split(" ", 1)[1].strip(): r for n, r in rows if n.startswith(mode)}
        hit, uncached = by["router, Redis hit"], by["router, uncached"]
        print(
            f"{mode}: Redis hit p50 {hit.p50_ms:.3f} ms vs uncached {uncached.p50_ms:.3f} ms "
            f"({hit.p50_ms / uncached.p50_ms:.2f}x); over direct emulator "
            f"{hit.p50_ms - by['direct emulator'].p50_ms:+.3f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
