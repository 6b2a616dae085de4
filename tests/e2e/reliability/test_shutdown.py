"""Graceful shutdown: ``router serve`` as a real process; SIGTERM while streams are in flight
stops accepting new connections, lets the streams finish with ``[DONE]``, then exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from router.emulators import Behaviour
from support.reliability import JSON, STREAM, closed_port
from support.stack import Emulators

pytestmark = pytest.mark.slow

STREAMS = 3


@pytest.fixture
def served(config_dir: Path, emulators: Emulators) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = closed_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "router.cli",
            "serve",
            "--config",
            str(config_dir),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to ~30 s for imports on a slow machine
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        else:
            pytest.fail("router serve did not come up")
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        emulators.openai.default = Behaviour()


def test_sigterm_lets_streams_finish_then_exits(
    served: tuple[subprocess.Popen[bytes], str], emulators: Emulators
) -> None:
    proc, base = served
    emulators.openai.default = Behaviour(chunk_interval_s=0.2, reply_words=12)  # ~2.4 s each
    started = threading.Barrier(STREAMS + 1, timeout=20)
    results: list[str] = []

    def one() -> None:
        with httpx.stream(
            "POST",
            f"{base}/v1/chat/completions",
            content=orjson.dumps(STREAM),
            headers=JSON,
            timeout=30,
        ) as resp:
            lines = resp.iter_lines()
            first = next(line for line in lines if line)  # first event is in
            started.wait()
            rest = [line for line in lines if line]
        results.append("\n".join([first, *rest]))

    threads = [threading.Thread(target=one) for _ in range(STREAMS)]
    for t in threads:
        t.start()
    started.wait()
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    with pytest.raises(httpx.ConnectError):  # no longer accepting
        httpx.get(f"{base}/healthz", timeout=2)
    for t in threads:
        t.join(20)
    print(f"streams drained {time.monotonic() - signalled:.2f}s after SIGTERM")
    assert len(results) == STREAMS
    for body in results:
        assert body.endswith("data: [DONE]"), body[-200:]
        assert '"error"' not in body
    code = proc.wait(15)
    # A graceful stop is a clean exit (router serve turns uvicorn's re-raised SIGTERM into 0).
    assert code == 0, proc.stdout.read() if proc.stdout else ""
