"""A real Prometheus scrapes Metrics.render(); every dashboard query must return data."""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from metrics_support import drive_traffic, find_tool, free_port

from router.dashboard import build_dashboard, iter_queries
from router.metrics import Metrics

# Grafana fills these in; pick values that hold several 1 s scrapes.
GRAFANA_MACROS = {"$__rate_interval": "20s", "$__range": "5m"}
DEADLINE_S = 60.0


@pytest.fixture
def exporter() -> Iterator[tuple[Metrics, int]]:
    """A loopback HTTP server whose /metrics is Metrics.render()."""
    metrics = Metrics.create()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self.send_error(404)
                return
            body, content_type = metrics.render()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield metrics, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
        return json.load(response)


@pytest.fixture
def prometheus(tmp_path: Path, exporter: tuple[Metrics, int]) -> Iterator[str]:
    binary = find_tool("prometheus")
    _, target_port = exporter
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: router\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _query(base: str, expr: str) -> dict[str, Any]:
    answer: dict[str, Any] = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    return answer


def _concrete(expr: str) -> str:
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    return expr


def test_every_dashboard_query_returns_data(prometheus: str, exporter: tuple[Metrics, int]) -> None:
    metrics, _ = exporter
    # Record between scrapes until Prometheus holds enough samples for rate() windows.
    deadline = time.monotonic() + DEADLINE_S
    step = 0
    while True:
        drive_traffic(metrics, step)
        step += 1
        answer = _query(prometheus, "count_over_time(router_overload_rejections_total[1m])")
        points = [float(r["value"][1]) for r in answer["data"]["result"]]
        if points and points[0] >= 6:
            break
        assert time.monotonic() < deadline, f"too few scrapes: {points}"
        time.sleep(0.5)

    problems = []
    queries = list(iter_queries(build_dashboard()))
    for expr in queries:
        answer = _query(prometheus, _concrete(expr))
        if answer.get("status") != "success":
            problems.append(f"{expr!r}: {answer}")
            continue
        result = answer["data"]["result"]
        values = [float(r["value"][1]) for r in result]
        if not result:
            problems.append(f"{expr!r}: empty result")
        elif not any(math.isfinite(v) for v in values):
            problems.append(f"{expr!r}: only NaN/Inf {values}")
    assert not problems, "\n".join(problems)
    assert len(queries) >= 20
    # Guards the loop above: bad PromQL must come back as an error, not as "no data".
    with pytest.raises(urllib.error.HTTPError) as bad:
        _query(prometheus, "sum by (model (router_requests_total)")
    assert json.load(bad.value)["errorType"] == "bad_data"
