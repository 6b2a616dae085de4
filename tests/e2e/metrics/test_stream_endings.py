"""Streams that do not end well: the upstream cuts one after it started, or the client leaves."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from router.emulators import Behaviour
from support.stack import Emulators, RouterFactory, RunningRouter
from support.traffic import Scrape, SeriesKey, chat, counted, drop_label, series, sse_events

MODEL, DEP, PROVIDER = "mai-code-1-flash", "mai-code-1-flash@foundry", "azure_ai"
CACHE_FAMILIES = ("router_cache_lookups_total", "router_cache_writes_total")


@pytest.fixture
def running(start_router: RouterFactory, config_dir: Path) -> RunningRouter:
    return start_router(config_dir)


def _moved(before: Scrape, after: Scrape) -> dict[SeriesKey, float]:
    moved = {k: v for k, v in counted(before, after).items() if k[0] not in CACHE_FAMILIES}
    return drop_label(moved, "router_requests_total", "cache")


def _stream_request(status_class: str) -> dict[SeriesKey, float]:
    """What any streamed request that got its first token moves, whatever came after."""
    return {
        series("router_requests_total", policy="direct", model=MODEL, status_class=status_class): 1,
        series("router_routing_decisions_total", policy="direct", rule="model", model=MODEL): 1,
        series(
            "router_request_duration_seconds_count", policy="direct", model=MODEL, stream="true"
        ): 1,
        series(
            "router_time_to_first_token_seconds_count", policy="direct", model=MODEL, deployment=DEP
        ): 1,
        series("router_overhead_seconds_count", stream="true"): 1,
    }


def _attempt(outcome: str) -> dict[SeriesKey, float]:
    labels = {"deployment": DEP, "provider": PROVIDER, "outcome": outcome}
    return {
        series("router_upstream_attempts_total", **labels): 1,
        series("router_upstream_attempt_duration_seconds_count", **labels): 1,
    }


def _cut_stream(running: RunningRouter, emulators: Emulators) -> tuple[Scrape, Scrape]:
    emulators.foundry.plan(Behaviour(drop_after_chunks=2), times=1)
    before = Scrape.get(running.base_url)
    resp = chat(running.base_url, MODEL, "tell me a long story", stream=True)
    assert resp.status_code == 200  # the status line left before the cut
    assert sse_events(resp)[-1]["error"]["code"] == "stream_interrupted"
    return before, Scrape.get(running.base_url)


def test_stream_cut_by_the_upstream(running: RunningRouter, emulators: Emulators) -> None:
    before, after = _cut_stream(running, emulators)
    expected = {
        **_stream_request("5xx"),
        **_attempt("protocol"),
        series("router_stream_interruptions_total", deployment=DEP, reason="protocol"): 1,
    }
    moved = {
        k: v for k, v in _moved(before, after).items() if k[0] != "router_request_errors_total"
    }
    # No usage arrived: nothing is billed, and one failure does not open the breaker.
    assert moved == expected
    assert after.value("router_requests_in_flight") == 0


def test_stream_cut_by_the_upstream_is_an_error_the_client_saw(
    running: RunningRouter, emulators: Emulators
) -> None:
    before, after = _cut_stream(running, emulators)
    errors = {
        k: v for k, v in _moved(before, after).items() if k[0] == "router_request_errors_total"
    }
    assert errors == {
        series(
            "router_request_errors_total",
            policy="direct",
            model=MODEL,
            error_type="stream_interrupted",
        ): 1
    }


def _wait_for(probe: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _client_leaves(running: RunningRouter, emulators: Emulators) -> tuple[Scrape, Scrape]:
    # A long stream; the client reads its first token and hangs up.
    emulators.foundry.plan(Behaviour(chunk_count=10, chunk_interval_s=0.2), times=1)
    before = Scrape.get(running.base_url)
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", f"{running.v1}/chat/completions", json=body) as resp,
    ):
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if '"content"' in line:
                break
    record = emulators.foundry.requests[-1]
    _wait_for(lambda: record.cancelled, "the upstream request to be cancelled")
    assert record.chunks_sent < 10
    # The router accounts for the stream once it has noticed the client is gone.
    _wait_for(
        lambda: Scrape.get(running.base_url).total("router_requests_total") == 1, "accounting"
    )
    return before, Scrape.get(running.base_url)


def test_client_leaving_mid_stream(running: RunningRouter, emulators: Emulators) -> None:
    before, after = _client_leaves(running, emulators)
    moved = {
        k: v for k, v in _moved(before, after).items() if not k[0].startswith("router_upstream")
    }
    # Counted once, as the client's 499, with no error type and no bill (no usage arrived).
    assert moved == _stream_request("4xx")
    assert after.value("router_requests_in_flight") == 0


def test_client_leaving_mid_stream_is_a_cancelled_attempt(
    running: RunningRouter, emulators: Emulators
) -> None:
    before, after = _client_leaves(running, emulators)
    attempts = {
        k: v for k, v in _moved(before, after).items() if k[0].startswith("router_upstream")
    }
    assert attempts == _attempt("cancelled")
