"""Hedging benchmark: what hedged requests buy against a slow tail, and what they cost.

Two emulated deployments of one model (OpenAI and Azure OpenAI emulators), each answering in
``--latency`` seconds but ``--slow-factor`` times slower for a ``--slow-fraction`` of requests.
The same requests go through router three times in one run: hedging off, hedging after a
fixed delay, and hedging after the deployment's recent p95. For each it prints p50/p95/p99 of
the client's latency and the extra upstream calls hedging made.

    uv run python bench/bench_hedging.py [--requests 400] [--concurrency 8] [--stream]

In process, loopback only; every phase is bounded by --requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
import uvloop

from router.app import create_app
from router.demo import DEMO_KEY_ENV, Endpoints, write_demo_config
from router.emulators import (
    DEFAULT_API_KEY,
    AzureOpenAIEmulator,
    Behaviour,
    EmulatorThread,
    OpenAIEmulator,
)

POLICIES = """\
policies:
  plain:
    rules: [{name: all, objective: priority, candidates: [gpt-4o]}]
  fixed:
    hedge: {delay_s: %(delay)s}
    rules: [{name: all, objective: priority, candidates: [gpt-4o]}]
  p95:
    hedge: {delay_s: %(delay)s, use_p95: true}
    rules: [{name: all, objective: priority, candidates: [gpt-4o]}]
"""


@dataclass(frozen=True)
class Phase:
    policy: str
    latencies: list[float]
    upstream_calls: int
    errors: int

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _one(client: httpx.AsyncClient, model: str, stream: bool) -> float | None:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    t0 = time.perf_counter()
    if not stream:
        resp = await client.post("/v1/chat/completions", json=body)
        return time.perf_counter() - t0 if resp.status_code == 200 else None
    async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        if resp.status_code != 200:
            return None
        async for line in resp.aiter_lines():
            if '"content":"' in line and '"content":""' not in line:
                return time.perf_counter() - t0  # time to first token
    return None


async def _phase(
    base: str, policy: str, n: int, concurrency: int, stream: bool, emus: list[OpenAIEmulator]
) -> Phase:
    before = sum(len(e.requests) for e in emus)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            queue.get_nowait()
            took = await _one(client, policy, stream)
            if took is None:
                errors += 1
            else:
                latencies.append(took)

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    calls = sum(len(e.requests) for e in emus) - before
    return Phase(policy, latencies, calls, errors)


async def _serve(server: uvicorn.Server, sock: socket.socket) -> asyncio.Future[None]:
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    for _ in range(500):  # bounded: up to 5 s
        if server.started:
            break
        await asyncio.sleep(0.01)
    return serving


async def _stop(server: uvicorn.Server, serving: asyncio.Future[None]) -> None:
    server.should_exit = True
    await serving


def main(args: argparse.Namespace) -> None:
    os.environ.setdefault(DEMO_KEY_ENV, DEFAULT_API_KEY)
    tail = Behaviour(
        latency_s=0.0 if args.stream else args.latency,
        ttft_s=args.latency if args.stream else 0.0,
        slow_fraction=args.slow_fraction,
        slow_factor=args.slow_factor,
    )
    # Emulators and router share one background loop, a uvloop one as under ``router serve``
    # (uvicorn on the default asyncio loop measured ~44 ms per response here); the load
    # generator runs on the main thread's own loop.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    thread = EmulatorThread(OpenAIEmulator(seed=1), AzureOpenAIEmulator(seed=2))
    emus: list[OpenAIEmulator] = list(thread.start())
    for emu in emus:
        emu.default = tail
    dead = "http://127.0.0.1:9"  # the unused providers of the demo catalog: never called
    try:
        with tempfile.TemporaryDirectory(prefix="bench-hedging-") as tmp:
            directory = Path(tmp)
            write_demo_config(
                directory, Endpoints(emus[0].url, emus[1].url, f"{dead}/models", dead)
            )
            (directory / "hedging.yaml").write_text(POLICIES % {"delay": args.delay})
            app = create_app(directory, watch_interval_s=None)
            config = uvicorn.Config(app, port=0, log_level="warning", lifespan="on")
            config.load()
            server = uvicorn.Server(config)
            sock = config.bind_socket()
            serving = thread.call(_serve(server, sock))
            base = f"http://127.0.0.1:{sock.getsockname()[1]}"
            try:
                asyncio.run(_phase(base, "plain", 20, args.concurrency, args.stream, emus))
                phases = [
                    asyncio.run(_phase(base, p, args.requests, args.concurrency, args.stream, emus))
                    for p in ("plain", "fixed", "p95")
                ]
            finally:
                thread.call(_stop(server, serving), timeout=15)
    finally:
        thread.stop()
    what = "time to first token" if args.stream else "latency"
    print(
        f"{args.requests} requests per phase, concurrency {args.concurrency}, {what}; "
        f"each deployment {args.latency * 1000:.0f} ms, x{args.slow_factor:g} for "
        f"{args.slow_fraction:.0%}; fixed hedge delay {args.delay * 1000:.0f} ms"
    )
    print(
        f"{'hedging':<8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8} "
        f"{'upstream calls':>15} {'extra':>7} {'errors':>6}"
    )
    for ph in phases:
        extra = ph.upstream_calls - args.requests
        print(
            f"{ph.policy:<8} {ph.pct(0.50):8.1f} {ph.pct(0.95):8.1f} {ph.pct(0.99):8.1f} "
            f"{statistics.fmean(ph.latencies) * 1000:8.1f} {ph.upstream_calls:15d} "
            f"{extra / args.requests:7.1%} {ph.errors:6d}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05, help="normal answer, seconds")
    parser.add_argument("--slow-fraction", type=float, default=0.05)
    parser.add_argument("--slow-factor", type=float, default=10.0)
    parser.add_argument("--delay", type=float, default=0.1, help="fixed hedge delay, seconds")
    parser.add_argument("--stream", action="store_true", help="measure time to first token")
    main(parser.parse_args())
