"""``router serve`` as a real process on a free loopback port, for tests of what only the
real server does (its connection guard, start-up reports, signals)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        """The worker's resident memory (single worker: the process itself)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def output(self) -> str:
        """Everything the process has written so far (a file: a pipe could fill and stall it)."""
        return self.log.read_text("utf-8", "replace")


@contextlib.contextmanager
def router_serve(
    config: Path, env: Mapping[str, str] | None = None, *, log_level: str = "info"
) -> Iterator[Served]:
    """Start ``router serve --config config``; stopped (SIGTERM, then kill) on exit. The
    output is kept in ``Served.output()`` once the block ends."""
    port = free_port()
    log = config.parent / f"router-serve-{port}.log"
    sink = log.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "router.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--log-level",
            log_level,
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=sink,
        stderr=subprocess.STDOUT,
    )
    served = Served(proc, port, log)
    try:
        for _ in range(400):  # up to ~40 s for imports on a slow, busy machine
            try:
                if httpx.get(f"{served.base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise AssertionError(f"router serve exited: {served.output()}")
            time.sleep(0.1)
        else:
            raise AssertionError("router serve did not come up")
        yield served
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        sink.close()
