"""A real ``redis-server`` per test, on a free loopback port in a temporary directory.

Fixtures: ``redis_server`` (a running :class:`RedisServer`), ``redis_url`` (its URL) and
``redis_sentinel_url`` (a Sentinel watching that server, as ``redis+sentinel://.../main``).
The handle can ``kill()`` the server, freeze it with ``pause()`` (SIGSTOP) and ``resume()``
it (SIGCONT), and ``restart()`` it on the same port, so fault tests use the real thing.
Tests using them skip when ``redis-server`` is not installed.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["RedisServer", "redis_sentinel_url", "redis_server", "redis_url"]

_START_TIMEOUT_S = 5.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, executable: str, workdir: Path) -> None:
        self.executable = executable
        self._workdir = workdir
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start on ``self.port`` and wait until it answers PING."""
        if self.running:
            raise RuntimeError("redis-server is already running")
        args = [
            self.executable,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self._workdir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self._workdir / "redis.log"),
        ]  # fmt: skip
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._paused = False
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited at start: {self._log_tail()}")
            if _answers_ping(self.port):
                return
            time.sleep(0.01)
        self.kill()
        raise RuntimeError(f"redis-server did not answer within {_START_TIMEOUT_S}s")

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-run, as after an OOM kill."""
        if self._proc is None:
            return
        if self._paused:
            self._proc.send_signal(signal.SIGCONT)
        self._proc.kill()
        self._proc.wait(timeout=_START_TIMEOUT_S)
        self._proc = None
        self._paused = False

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (a frozen or swapping server)."""
        if self._proc is None:
            raise RuntimeError("redis-server is not running")
        self._proc.send_signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        if self._proc is not None and self._paused:
            self._proc.send_signal(signal.SIGCONT)
            self._paused = False

    def restart(self) -> None:
        """Kill and start again on the same port, with an empty dataset."""
        self.kill()
        self.start()

    def _log_tail(self) -> str:
        log = self._workdir / "redis.log"
        return log.read_text(errors="replace")[-500:] if log.exists() else "(no log)"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(executable, tmp_path)
    try:
        server.start()
    except RuntimeError:
        # Another process may have taken the port between choosing and binding it: retry once.
        server = RedisServer(executable, tmp_path)
        server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_sentinel_url(redis_server: RedisServer, tmp_path: Path) -> Iterator[str]:
    """A Sentinel monitoring ``redis_server`` as service ``main`` (quorum 1)."""
    port = _free_port()
    conf = tmp_path / "sentinel.conf"  # Sentinel rewrites its config file: it must be writable
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor main 127.0.0.1 {redis_server.port} 1\n"
    )
    proc = subprocess.Popen(
        [redis_server.executable, str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _answers_ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis sentinel did not start")
            time.sleep(0.01)
        yield f"redis+sentinel://127.0.0.1:{port}/main"
    finally:
        proc.kill()
        proc.wait(timeout=_START_TIMEOUT_S)
