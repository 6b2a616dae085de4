"""The server protects itself before it reads a request: ``router serve`` as a real process,
attacked over raw sockets (a 100 MB header, idle and dripping connections, too many of them).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.served import Served, router_serve

pytestmark = pytest.mark.slow

CONFIG = """\
server:
  header_timeout_s: 1
  keep_alive_s: 1
  min_body_bytes_per_s: 1000
  max_connections: 8
models:
  m:
    pricing: {input_per_mtok: 1, output_per_mtok: 1}
    deployments:
      - {provider: openai, model: m, base_url: "http://127.0.0.1:9/v1"}
"""
HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nhost: router\r\ncontent-type: application/json\r\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    config = tmp_path_factory.mktemp("guard") / "router.yaml"
    config.write_text(CONFIG)
    with router_serve(config, log_level="warning") as running:
        yield running


def connect(served: Served) -> socket.socket:
    return socket.create_connection(("127.0.0.1", served.port), timeout=10)


def read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    sock.settimeout(limit_s)
    started = time.monotonic()
    got = b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"server kept the connection open for {limit_s}s; got {got[:80]!r}")
    return got, time.monotonic() - started


def test_a_100_mb_header_is_refused_before_it_is_buffered(served: Served) -> None:
    before = served.rss_kib()
    sock = connect(served)
    answer: list[bytes] = []
    reader = threading.Thread(target=lambda: answer.append(read_until_closed(sock, 30)[0]))
    reader.start()
    sent = 0
    block = b"a" * (1 << 20)
    try:
        sock.sendall(HEAD + b"x-big: ")
        for _ in range(100):
            sock.sendall(block)
            sent += len(block)
    except (BrokenPipeError, ConnectionResetError):
        pass
    reader.join(30)
    sock.close()
    after = served.rss_kib()
    print(f"sent {sent >> 20} MiB of header before the close; RSS {before} -> {after} KiB")
    assert answer, "no answer before the close"
    assert answer[0].startswith(b"HTTP/1.1 431"), answer
    assert sent < 50 << 20  # the server stopped reading long before the end
    assert after - before < 16 * 1024  # KiB: nothing close to the header was kept
    assert httpx.get(f"{served.base_url}/healthz", timeout=5).status_code == 200


def test_headers_and_bodies_within_the_limits_pass(served: Served) -> None:
    # 60 KiB of headers, and a body arriving in the same reads as the headers: neither is
    # mistaken for an oversized head.
    big = {"x-padding": "p" * 60_000}
    assert httpx.get(f"{served.base_url}/healthz", headers=big, timeout=5).status_code == 200
    body = b'{"model": "m", "messages": [' + b" " * 2_000_000 + b"]}"
    r = httpx.post(
        f"{served.base_url}/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 400, r.text  # read whole: min_length of messages is the problem
    assert r.json()["error"]["param"] == "messages"


def test_connections_that_send_nothing_are_closed(served: Served) -> None:
    socks = [connect(served) for _ in range(5)]
    for sock in socks:
        got, took = read_until_closed(sock, 5)
        assert took < 3
        assert got.startswith(b"HTTP/1.1 408")
        sock.close()


def test_headers_dripped_slowly_are_cut_off(served: Served) -> None:
    sock = connect(served)
    sock.sendall(HEAD)
    closed = threading.Event()

    def drip() -> None:
        try:
            while not closed.is_set():
                sock.sendall(b"x")
                time.sleep(0.1)
        except OSError:
            pass

    dripper = threading.Thread(target=drip)
    dripper.start()
    got, took = read_until_closed(sock, 5)
    closed.set()
    dripper.join()
    sock.close()
    assert took < 3
    assert got.startswith(b"HTTP/1.1 408")


def test_a_keep_alive_connections_next_request_has_the_same_bounds(served: Served) -> None:
    """The guard's timers start from the bytes read, not only from the connection: after a
    whole request answered on the connection, the next one's dripped head is cut off too
    (408, then closed: the answer to the request before it is complete)."""
    sock = connect(served)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: router\r\n\r\n")
    answer = b""
    while b'"ok"' not in answer:
        answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200")
    closed = threading.Event()

    def drip() -> None:
        try:
            for byte in HEAD:
                if closed.is_set():
                    return
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        except OSError:
            pass

    dripper = threading.Thread(target=drip)
    dripper.start()
    got, took = read_until_closed(sock, 5)
    closed.set()
    dripper.join()
    sock.close()
    assert took < 3  # the drip alone would take 4 s
    assert got.startswith(b"HTTP/1.1 408"), got[:80]


def test_a_body_slower_than_the_floor_is_cut_off(served: Served) -> None:
    sock = connect(served)
    sock.sendall(HEAD + b"content-length: 100000\r\n\r\n{")
    closed = threading.Event()

    def drip() -> None:
        try:
            while not closed.is_set():
                sock.sendall(b" " * 10)  # 100 bytes/s, under the floor of 1000
                time.sleep(0.1)
        except OSError:
            pass

    dripper = threading.Thread(target=drip)
    dripper.start()
    got, took = read_until_closed(sock, 6)
    closed.set()
    dripper.join()
    sock.close()
    assert took < 4
    assert got == b"" or got.startswith(b"HTTP/1.1 408"), got[:80]


def test_an_idle_keep_alive_connection_is_closed(served: Served) -> None:
    sock = connect(served)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: router\r\n\r\n")
    got, took = read_until_closed(sock, 5)
    sock.close()
    assert got.startswith(b"HTTP/1.1 200")
    assert took < 3  # keep_alive_s: 1, not uvicorn's 5


def test_connections_beyond_the_limit_are_refused(served: Served) -> None:
    idle = [connect(served) for _ in range(8)]
    try:
        time.sleep(0.2)
        r = httpx.get(f"{served.base_url}/healthz", timeout=5)
        assert r.status_code == 503
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.3)
    assert httpx.get(f"{served.base_url}/healthz", timeout=5).status_code == 200


def test_the_limits_are_logged_once_per_connection(served: Served, tmp_path: Path) -> None:
    sock = connect(served)
    read_until_closed(sock, 5)
    sock.close()
    assert "no complete request headers within 1s" in served.output()
