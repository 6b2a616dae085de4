"""The fault matrix: one provider misbehaviour per row, end to end through router over real
sockets, asserting what the client saw and what ``/metrics`` recorded.

The demo catalog's ``gpt-4o`` has two deployments, ``gpt-4o@openai`` then ``gpt-4o@azure``;
the direct route retries each once (default retry settings) and falls back in that order.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from router.demo import DEMO_KEY_ENV
from router.emulators import Behaviour
from support.reliability import (
    HELLO,
    STREAM,
    Metrics,
    closed_port,
    content_events,
    eventually,
    post,
    repoint,
    set_timeouts,
    stream,
)
from support.stack import Emulators, RouterFactory, RunningRouter

OPENAI = "gpt-4o@openai"
AZURE = "gpt-4o@azure"


def _fast_timeouts(config_dir: Path) -> None:
    set_timeouts(config_dir, connect_s=0.3, ttft_s=0.3, idle_s=0.3, total_s=2)


@pytest.fixture
def fast(start_router: RouterFactory, config_dir: Path) -> RunningRouter:
    """Router with sub-second per-try timeouts, so timeout rows stay quick."""
    _fast_timeouts(config_dir)
    return start_router(config_dir)


# -- error statuses ---------------------------------------------------------------------------


def test_429_retry_after_is_honoured_then_same_deployment_answers(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(status=429, retry_after=0.4), times=1)
    t0 = time.monotonic()
    resp = post(router, HELLO)
    elapsed = time.monotonic() - t0
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-router-deployment"] == OPENAI
    assert elapsed >= 0.4  # waited as told, not a jittered backoff
    assert emulators.azure.requests == []
    m = Metrics(router)
    assert m.value("router_upstream_attempts_total", deployment=OPENAI, outcome="status") == 1
    assert m.value("router_upstream_attempts_total", deployment=OPENAI, outcome="success") == 1
    assert m.value("router_retries_total", deployment=OPENAI, reason="status") == 1


def test_429_retry_after_beyond_cap_falls_back_at_once(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(status=429, retry_after=60), times=1)
    t0 = time.monotonic()
    resp = post(router, HELLO)
    assert resp.status_code == 200
    assert resp.headers["x-router-deployment"] == AZURE
    assert time.monotonic() - t0 < 5  # did not sit out a minute
    m = Metrics(router)
    assert m.value("router_retries_total", deployment=OPENAI) == 0
    assert m.value("router_fallbacks_total", from_deployment=OPENAI, to_deployment=AZURE) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_then_falls_back(
    router: RunningRouter, emulators: Emulators, status: int
) -> None:
    emulators.openai.plan(Behaviour(status=status), times=2)
    resp = post(router, HELLO)
    assert resp.status_code == 200
    assert resp.headers["x-router-deployment"] == AZURE
    assert len(emulators.openai.requests) == 2  # first try + one retry
    m = Metrics(router)
    assert m.value("router_upstream_attempts_total", deployment=OPENAI, outcome="status") == 2
    assert m.value("router_retries_total", deployment=OPENAI, reason="status") == 1
    assert m.value("router_fallbacks_total", from_deployment=OPENAI, to_deployment=AZURE) == 1


def test_400_from_upstream_is_neither_retried_nor_failed_over(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(status=400), times=1)
    resp = post(router, HELLO)
    assert resp.status_code == 400
    assert len(emulators.openai.requests) == 1
    assert emulators.azure.requests == []
    assert Metrics(router).value("router_retries_total") == 0


def test_all_candidates_failing_lists_every_attempt_without_secrets(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(status=500), times=2)
    emulators.azure.plan(Behaviour(status=503), times=2)
    resp = post(router, HELLO)
    assert resp.status_code == 502
    message = resp.json()["error"]["message"]
    assert message.count(f"{OPENAI}: HTTP 500") == 2
    assert message.count(f"{AZURE}: HTTP 503") == 2
    assert os.environ[DEMO_KEY_ENV] not in resp.text
    m = Metrics(router)
    assert m.value("router_upstream_attempts_total", outcome="status") == 4
    assert m.value("router_request_errors_total", error_type="upstream_error") == 1


# -- connecting -------------------------------------------------------------------------------


def test_connection_refused_falls_back(
    start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    repoint(config_dir, emulators.openai.url, f"http://127.0.0.1:{closed_port()}/v1")
    running = start_router(config_dir)
    resp = post(running, HELLO)
    assert resp.status_code == 200
    assert resp.headers["x-router-deployment"] == AZURE
    m = Metrics(running)
    assert m.value("router_upstream_attempts_total", deployment=OPENAI, outcome="connect") == 2
    assert m.value("router_fallbacks_total", from_deployment=OPENAI, to_deployment=AZURE) == 1


@pytest.fixture
def unaccepting() -> Iterator[int]:
    """A listener whose accept queue is full: the kernel drops new SYNs, so connects hang."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    filler = socket.create_connection(("127.0.0.1", port), timeout=1)
    try:
        yield port
    finally:
        filler.close()
        listener.close()


@pytest.mark.parametrize("body", [HELLO, STREAM], ids=["json", "stream"])
def test_connect_timeout_falls_back(
    start_router: RouterFactory,
    config_dir: Path,
    emulators: Emulators,
    unaccepting: int,
    body: dict[str, object],
) -> None:
    repoint(config_dir, emulators.openai.url, f"http://127.0.0.1:{unaccepting}/v1")
    _fast_timeouts(config_dir)
    running = start_router(config_dir)
    t0 = time.monotonic()
    if body.get("stream"):
        sse = stream(running, body)
        assert sse.done
        assert sse.text
        assert sse.headers["x-router-deployment"] == AZURE
    else:
        resp = post(running, body)
        assert resp.status_code == 200
        assert resp.headers["x-router-deployment"] == AZURE
    assert time.monotonic() - t0 < 3  # two 0.3 s connect timeouts and a backoff
    m = Metrics(running)
    assert m.value("router_upstream_attempts_total", deployment=OPENAI, outcome="timeout") == 2


@pytest.fixture
def silent() -> Iterator[int]:
    """A listener that completes TCP handshakes (the kernel does) but never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


@pytest.mark.parametrize("body", [HELLO, STREAM], ids=["json", "stream"])
def test_server_that_never_answers_times_out_and_falls_back(
    start_router: RouterFactory,
    config_dir: Path,
    emulators: Emulators,
    silent: int,
    body: dict[str, object],
) -> None:
    repoint(config_dir, emulators.openai.url, f"http://127.0.0.1:{silent}/v1")
    set_timeouts(config_dir, connect_s=0.3, ttft_s=0.3, idle_s=0.3, total_s=0.6)
    running = start_router(config_dir)
    t0 = time.monotonic()
    if body.get("stream"):
        sse = stream(running, body)
        assert sse.done
        assert sse.headers["x-router-deployment"] == AZURE
    else:
        resp = post(running, body)
        assert resp.status_code == 200
        assert resp.headers["x-router-deployment"] == AZURE
    assert time.monotonic() - t0 < 3
    m = Metrics(running)
    assert m.value("router_upstream_attempts_total", deployment=OPENAI, outcome="timeout") == 2


# -- streams: before the first token, fail over; after it, end with an error event -----------

BEFORE_FIRST_TOKEN = {
    "slow first token": (Behaviour(ttft_s=3), "timeout"),
    "stall before first token": (Behaviour(stall_after_chunks=0, stall_s=3), "timeout"),
    "malformed chunk": (Behaviour(malformed_after_chunks=0), "protocol"),
    "connection dropped": (Behaviour(drop_after_chunks=0), "protocol"),
    "error event": (Behaviour(error_event_after_chunks=0), "protocol"),
    "error status": (Behaviour(status=503), "status"),
}


@pytest.mark.parametrize("fault", list(BEFORE_FIRST_TOKEN))
def test_stream_fault_before_first_token_fails_over_transparently(
    fast: RunningRouter, emulators: Emulators, fault: str
) -> None:
    behaviour, outcome = BEFORE_FIRST_TOKEN[fault]
    emulators.openai.plan(behaviour, times=2)
    sse = stream(fast)
    assert sse.status == 200
    assert sse.done
    assert sse.error is None
    assert sse.headers["x-router-deployment"] == AZURE
    assert sse.text  # the whole answer, from the fallback
    m = Metrics(fast)
    assert m.value("router_upstream_attempts_total", deployment=OPENAI, outcome=outcome) == 2
    assert m.value("router_fallbacks_total", from_deployment=OPENAI, to_deployment=AZURE) == 1
    assert m.value("router_stream_interruptions_total") == 0


AFTER_FIRST_TOKEN = {
    "stall mid-stream (idle timeout)": (Behaviour(stall_after_chunks=3, stall_s=3), "timeout"),
    "malformed chunk": (Behaviour(malformed_after_chunks=3), "protocol"),
    "connection dropped": (Behaviour(drop_after_chunks=3), "protocol"),
    "error event": (Behaviour(error_event_after_chunks=3), "protocol"),
}


@pytest.mark.parametrize("fault", list(AFTER_FIRST_TOKEN))
def test_stream_fault_after_first_token_ends_with_error_event(
    fast: RunningRouter, emulators: Emulators, fault: str
) -> None:
    behaviour, reason = AFTER_FIRST_TOKEN[fault]
    emulators.openai.plan(behaviour, times=1)
    sse = stream(fast)
    assert sse.status == 200
    assert content_events(sse) == 3  # what came before the fault reached the client
    assert not sse.done
    assert sse.error is not None
    assert sse.error["code"] == "stream_interrupted"
    assert emulators.azure.requests == []  # no fallback once content was sent
    m = Metrics(fast)
    assert m.value("router_stream_interruptions_total", deployment=OPENAI, reason=reason) == 1
    assert m.value("router_requests_total", status_class="5xx") == 1


def test_idle_stall_cancels_the_upstream(fast: RunningRouter, emulators: Emulators) -> None:
    emulators.openai.plan(Behaviour(stall_after_chunks=2, stall_s=5), times=1)
    t0 = time.monotonic()
    sse = stream(fast)
    assert sse.error is not None
    assert time.monotonic() - t0 < 2  # cut after the idle timeout, not after the stall
    record = emulators.openai.requests[-1]
    assert eventually(lambda: record.cancelled)


def test_ttft_budget_counts_to_first_content_not_to_the_role_chunk(
    start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    # The role-only opening chunk arrives at once; the first token does not. A generous idle
    # budget must not stand in for the TTFT budget.
    set_timeouts(config_dir, connect_s=0.2, ttft_s=0.3, idle_s=30)
    running = start_router(config_dir)
    emulators.openai.plan(Behaviour(ttft_s=5), times=2)
    t0 = time.monotonic()
    sse = stream(running)
    assert sse.done
    assert sse.headers["x-router-deployment"] == AZURE
    assert time.monotonic() - t0 < 2.5
    assert (
        Metrics(running).value(
            "router_upstream_attempts_total", deployment=OPENAI, outcome="timeout"
        )
        == 2
    )


def test_non_streamed_malformed_answer_falls_back(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(malformed_after_chunks=0), times=2)
    resp = post(router, HELLO)
    assert resp.status_code == 200
    assert resp.headers["x-router-deployment"] == AZURE
    assert orjson.loads(resp.content)["choices"][0]["message"]["content"]
    m = Metrics(router)
    assert m.value("router_upstream_attempts_total", deployment=OPENAI, outcome="protocol") == 2
