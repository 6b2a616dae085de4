"""Instructions per request of ``router serve``, counted by valgrind's callgrind: unlike
requests/s or CPU time, the count hardly moves when other work shares the machine, so two
trees can be compared one after the other.

Starts the OpenAI emulator and ``router serve`` (one worker, under callgrind with its
instrumentation off until the requests are warm) on the bench's demo config, sends
``--requests`` requests over ``--concurrency`` keep-alive connections, and divides the
instructions callgrind counted over exactly those requests:

    uv run python bench/callgrind_proxy.py [--stream] [--model auto] [--checkout DIR]

``--checkout DIR`` measures another checkout (with its own ``.venv``; its ``demo_config`` is
used), as ``bench_proxy.py --baseline`` does. Requires ``valgrind``. Loopback only.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench_proxy import KEY, POLICIES, baseline_config, free_port, wait_http


def drive(port: int, body: bytes, conns: int, total: int) -> int:
    """``total`` requests over ``conns`` connections; returns how many failed."""
    failed: list[int] = []
    headers = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        for _ in range(n):
            conn.request("POST", "/v1/chat/completions", body, headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                failed.append(resp.status)
        conn.close()

    threads = [threading.Thread(target=client, args=(total // conns,)) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(failed)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--model", default="gpt-4o", help="gpt-4o (by model) or auto (policy)")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    checkout = args.checkout.resolve()
    python = str(checkout / ".venv" / "bin" / "python")
    emu_port, router_port = free_port(), free_port()
    emu = f"http://127.0.0.1:{emu_port}"
    tmp = Path(tempfile.mkdtemp(prefix="router-callgrind-"))
    (tmp / "router.yaml").write_text(
        baseline_config(checkout, (f"{emu}/v1", emu, f"{emu}/models", emu))
    )
    (tmp / "policies.yaml").write_text(POLICIES)
    env = {**os.environ, "BENCH_KEY": KEY, "ROUTER_MASTER_KEY": KEY,
           "PYTHONPATH": str(checkout / "src")}  # fmt: skip
    out = tmp / "callgrind.out"
    emulator = subprocess.Popen(
        [python, "-m", "router.emulators", "--provider", "openai", "--port", str(emu_port),
         "--api-key", KEY, "--any-model"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    router = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         python, "-m", "router.cli", "serve", "--config", str(tmp), "--port", str(router_port),
         "--workers", "1", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    body = json.dumps(
        {"model": args.model, "stream": args.stream,
         "messages": [{"role": "user", "content": "benchmark me please"}]}
    ).encode()  # fmt: skip
    conns = max(args.concurrency, 1)
    try:
        wait_http(f"{emu}/v1/models")
        wait_http(f"http://127.0.0.1:{router_port}/healthz", timeout=300)

        def control(*flags: str) -> None:
            cmd = ["callgrind_control", *flags, str(router.pid)]
            subprocess.run(cmd, check=True, capture_output=True)

        drive(router_port, body, conns, max(10 * conns, 100))  # warm, uncounted
        control("-i", "on")  # instrument from here; a few requests to settle, then count
        drive(router_port, body, conns, 4 * conns)
        control("-z")
        failed = drive(router_port, body, conns, args.requests)
        control("-d")
        dump = sorted(glob.glob(f"{out}.*"))[-1]
        total = next(
            int(line.split()[1]) for line in Path(dump).read_text().splitlines()
            if line.startswith(("summary:", "totals:"))
        )  # fmt: skip
    finally:
        router.terminate()
        router.wait(60)
        emulator.terminate()
        emulator.wait(10)
    counted = (args.requests // conns) * conns
    mode = "stream" if args.stream else "json"
    print(
        f"{checkout.name}: {mode} {args.model} c={conns}: {total / counted / 1e6:.3f} M "
        f"instructions per request over {counted} requests ({failed} failed)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
