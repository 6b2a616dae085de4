"""Bad input at the edge: oversized headers, and secrets in upstream error text."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from router.api.middleware import MAX_HEADER_BYTES
from router.emulators import Behaviour
from support.reliability import HELLO, Metrics, post, repoint
from support.stack import Emulators, RouterFactory, RunningRouter


def _raw(router: RunningRouter, request: bytes) -> bytes:
    """Send raw bytes; read the answer until the server closes (bounded reads)."""
    request = request.replace(b"Host: x\r\n", b"Host: x\r\nconnection: close\r\n", 1)
    out = b""
    with socket.create_connection(("127.0.0.1", router.port), timeout=10) as s:
        s.sendall(request)
        for _ in range(64):
            data = s.recv(65536)
            if not data:
                break
            out += data
    return out


@pytest.mark.parametrize("size", [MAX_HEADER_BYTES + 1, 1_000_000, 8_000_000])
def test_huge_header_is_431_not_5xx(router: RunningRouter, size: int) -> None:
    body = orjson.dumps(HELLO)
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nx-big: %s\r\n\r\n%s" % (len(body), b"a" * size, body)
    )
    head = _raw(router, request)
    assert head.startswith(b"HTTP/1.1 431 "), head[:80]
    assert b"request_headers_too_large" in head


def test_many_headers_are_431_and_a_normal_request_still_works(router: RunningRouter) -> None:
    many = b"".join(b"x-h%d: value\r\n" % i for i in range(10_000))
    head = _raw(router, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert post(router, HELLO, headers={"x-small": "a" * 4000}).status_code == 200


PROVIDER_SECRET = "sk-proj-abcdefghijklmnop123456"
CLIENT_KEY = "sk-client-master-0123456789"


@pytest.fixture
def echoing(emulators: Emulators) -> Iterator[str]:
    """An upstream whose 500 body echoes credentials back (some providers quote the key)."""

    async def handler(request: web.Request) -> web.Response:
        auth = request.headers.get("authorization", "")
        message = f"invalid auth {auth}; key {PROVIDER_SECRET}; api_key={PROVIDER_SECRET}"
        return web.json_response({"error": {"message": message}}, status=500)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    runner: list[web.AppRunner] = []

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner.append(web.AppRunner(app, access_log=None))
        await runner[0].setup()
        await web.SockSite(runner[0], sock).start()

    emulators.thread.call(start())
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        emulators.thread.call(runner[0].cleanup())


def test_secrets_in_upstream_errors_never_reach_client_metrics_or_logs(
    start_router: RouterFactory,
    config_dir: Path,
    emulators: Emulators,
    echoing: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider_key = os.environ["ROUTER_DEMO_PROVIDER_KEY"]
    repoint(config_dir, emulators.openai.url, echoing)
    running = start_router(config_dir, environ={**os.environ, "ROUTER_MASTER_KEY": CLIENT_KEY})
    emulators.azure.plan(Behaviour(status=500), times=2)
    caplog.set_level(logging.DEBUG)
    resp = post(running, HELLO, headers={"authorization": f"Bearer {CLIENT_KEY}"})
    assert resp.status_code == 502
    assert "gpt-4o@openai: HTTP 500" in resp.text  # the upstream's failure is still explained
    scraped = Metrics(running).text
    for secret in (PROVIDER_SECRET, CLIENT_KEY, provider_key):
        assert secret not in resp.text
        assert secret not in scraped
        assert secret not in caplog.text
