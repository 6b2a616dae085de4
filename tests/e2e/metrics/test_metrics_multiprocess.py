"""Several worker processes write to one PROMETHEUS_MULTIPROC_DIR; the parent renders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import router
from router.metrics import Metrics

# One worker: count `n` requests, hold one request in flight, publish a breaker state,
# then (if asked) retire the way a uvicorn worker does at shutdown.
WORKER = """
import os, sys
from router.metrics import Metrics
n, state, retire = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "retire"
m = Metrics.create(sys.argv[4])
for i in range(n):
    m.requests.labels(policy="p", model="m", status_class="2xx", cache="miss").inc()
    m.request_duration.labels(policy="p", model="m", stream="false").observe(0.2)
m.requests_in_flight.inc()
m.set_circuit_state("d1", state)
if retire:
    m.mark_process_dead()
print(os.getpid())
"""

# (requests, breaker state, retire at exit)
WORKERS = [(5, "open", True), (7, "closed", False), (11, "half_open", False)]


def _src_path() -> str:
    # The subprocesses must import this same checkout of router.
    return str(Path(next(iter(router.__path__))).parent)


def _run_worker(code: str, args: list[str], env_dir: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_src_path(), env.get("PYTHONPATH")]))
    if env_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = env_dir
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def _samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_workers_values_add_up_and_dead_workers_leave_live_gauges(tmp_path: Path) -> None:
    directory = str(tmp_path)
    pids = [
        _run_worker(WORKER, [str(n), state, "retire" if retire else "keep", directory], directory)
        for n, state, retire in WORKERS
    ]
    assert len(set(pids)) == len(WORKERS)

    body, content_type = Metrics.render_directory(directory)
    assert content_type.startswith("text/plain")
    samples = _samples(body)
    req = (("cache", "miss"), ("model", "m"), ("policy", "p"), ("status_class", "2xx"))
    total = sum(n for n, _, _ in WORKERS)
    # Counters of every worker, dead or alive, are summed.
    assert samples[("router_requests_total", req)] == total
    hist = (("model", "m"), ("policy", "p"), ("stream", "false"))
    assert samples[("router_request_duration_seconds_count", hist)] == total
    assert samples[("router_request_duration_seconds_sum", hist)] == pytest.approx(0.2 * total)
    # The retired worker's in-flight request and "open" breaker no longer count.
    assert samples[("router_requests_in_flight", ())] == len(WORKERS) - 1
    assert samples[("router_circuit_state", (("deployment", "d1"),))] == 1  # half-open


def test_worker_that_imported_prometheus_client_before_the_env_was_set(tmp_path: Path) -> None:
    # A forked worker inherits the parent's already-imported prometheus_client; create()
    # must still switch it to the shared files.
    code = "import prometheus_client\n" + WORKER
    _run_worker(code, ["3", "closed", "keep", str(tmp_path)], env_dir=None)
    samples = _samples(Metrics.render_directory(str(tmp_path))[0])
    req = (("cache", "miss"), ("model", "m"), ("policy", "p"), ("status_class", "2xx"))
    assert samples[("router_requests_total", req)] == 3
    assert any(name.endswith(".db") for name in os.listdir(tmp_path))
