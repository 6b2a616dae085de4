"""``router serve --workers 2``: both workers serve, and every scrape adds their counts up.

The router runs as a real subprocess (``python -m router.cli serve``) in front of the
in-process emulators. ``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` itself; the test only
points ``TMPDIR`` at its own directory so it can find that directory afterwards and read
each worker's file on its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from router.emulators import Behaviour
from router.metrics import Metrics
from support.stack import Emulators
from support.traffic import Scrape, chat

WORKERS = 2
BATCH = 8
MIN_REQUESTS = 24
MAX_REQUESTS = 240
SCRAPES = 8
START_DEADLINE_S = 45.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, url: str, tmp: Path, log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.tmp = tmp
        self.log = log
        self._proc = proc

    def multiprocess_dir(self) -> Path:
        found = sorted(self.tmp.glob("router-metrics-*"))
        assert len(found) == 1, (found, self.log.read_text())
        return found[0]

    def stop(self) -> int:
        """Stop the way an operator does (Ctrl-C); the supervisor stops its workers."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        return self._proc.returncode


@pytest.fixture
def served(tmp_path: Path, config_dir: Path, emulators: Emulators) -> Iterator[Served]:
    port = _free_port()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["TMPDIR"] = str(tmp)
    log_path = tmp_path / "router.log"
    command = [sys.executable, "-m", "router.cli", "serve", "--config", str(config_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)]
    command += ["--log-level", "warning"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_DEADLINE_S
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "router did not start:\n" + log_path.read_text()
                time.sleep(0.1)
            running = Served(url, tmp, log_path, proc)
            yield running
        finally:
            Served(url, tmp, log_path, proc).stop()


def _per_worker_requests(directory: Path) -> dict[str, float]:
    """router_requests_total as each worker's own file holds it (pid -> count)."""
    counts: dict[str, float] = {}
    for db in sorted(directory.glob("counter_*.db")):
        pid = db.stem.removeprefix("counter_")
        total = 0.0
        merged = MultiProcessCollector.merge([str(db)], accumulate=True)  # type: ignore[no-untyped-call]
        for family in merged:
            total += sum(s.value for s in family.samples if s.name == "router_requests_total")
        counts[pid] = total
    return counts


def test_counters_add_up_across_workers_on_every_scrape(
    served: Served, emulators: Emulators
) -> None:
    # Batches of concurrent requests, each on a fresh connection, until the kernel has
    # handed some to every worker (it need not balance them); a little upstream latency
    # keeps several connections open at once.
    emulators.reset()
    emulators.openai.plan(Behaviour(latency_s=0.05), times=MAX_REQUESTS)
    directory = served.multiprocess_dir()
    sent = 0
    with ThreadPoolExecutor(max_workers=BATCH) as pool:
        while True:
            batch = range(sent, sent + BATCH)
            replies = list(pool.map(lambda i: chat(served.url, "gpt-4o", f"hi {i}"), batch))
            assert [r.status_code for r in replies] == [200] * BATCH
            sent += BATCH
            per_worker = _per_worker_requests(directory)
            serving = [pid for pid, n in per_worker.items() if n > 0]
            if sent >= MIN_REQUESTS and len(serving) == WORKERS:
                break
            assert sent < MAX_REQUESTS, f"not every worker served: {per_worker}"
    assert len(emulators.openai.requests) == sent
    assert sum(per_worker.values()) == sent

    for _ in range(SCRAPES):  # fresh connections: each scrape may reach either worker
        scrape = Scrape.get(served.url)
        assert scrape.total("router_requests_total") == sent
        assert scrape.total("router_requests_total", status_class="2xx") == sent
        assert scrape.total("router_request_duration_seconds_count") == sent
        assert scrape.total("router_upstream_attempts_total", outcome="success") == sent
        assert scrape.total("router_routing_decisions_total") == sent
        assert scrape.total("router_tokens_total", direction="input") == sent * 2
        assert scrape.value("router_requests_in_flight") == 0

    # Workers that shut down take their live gauges with them; counters stay.
    assert list(directory.glob("gauge_live*.db"))
    assert served.stop() == 0
    assert not list(directory.glob("gauge_live*.db")), sorted(p.name for p in directory.iterdir())
    left = Scrape.parse(Metrics.render_directory(str(directory))[0].decode())
    assert left.total("router_requests_total") == sent
