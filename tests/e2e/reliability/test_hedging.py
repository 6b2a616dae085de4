"""Hedged requests: a slow first attempt brings in the next candidate; the first to answer
wins, the other is cancelled (its upstream connection closed), and both are counted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from router.emulators import Behaviour
from support.reliability import Metrics, add_policy, eventually, post, stream
from support.stack import Emulators, RouterFactory, RunningRouter

OPENAI = "gpt-4o@openai"
AZURE = "gpt-4o@azure"
HEDGED = {"model": "hedged", "messages": [{"role": "user", "content": "hi"}]}
POLICY = """\
policies:
  hedged:
    hedge: {delay_s: 0.2}
    rules:
      - name: all
        objective: priority
        candidates: [gpt-4o]
"""


@pytest.fixture
def hedged(start_router: RouterFactory, config_dir: Path) -> RunningRouter:
    add_policy(config_dir, POLICY)
    return start_router(config_dir)


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_faster_hedge_wins_and_slow_attempt_is_cancelled(
    hedged: RunningRouter, emulators: Emulators, streamed: bool
) -> None:
    emulators.openai.plan(Behaviour(latency_s=3, ttft_s=3), times=1)
    t0 = time.monotonic()
    if streamed:
        sse = stream(hedged, {**HEDGED, "stream": True})
        assert sse.done
        assert sse.text
        deployment = sse.headers["x-router-deployment"]
    else:
        resp = post(hedged, HEDGED)
        assert resp.status_code == 200
        deployment = resp.headers["x-router-deployment"]
    assert deployment == AZURE
    assert time.monotonic() - t0 < 1.5  # the hedge answered, not the 3 s attempt
    slow = emulators.openai.requests[-1]
    assert eventually(lambda: slow.cancelled, 2.0)
    m = Metrics(hedged)
    assert m.value("router_hedges_total", policy="hedged", outcome="won") == 1
    assert m.value("router_upstream_attempts_total", deployment=OPENAI, outcome="cancelled") == 1
    assert m.value("router_upstream_attempts_total", deployment=AZURE, outcome="success") == 1
    assert m.value("router_fallbacks_total") == 0  # a hedge is not a fallback


def test_primary_answering_first_cancels_the_hedge(
    hedged: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(ttft_s=0.5), times=1)  # past the delay, but not by much
    emulators.azure.plan(Behaviour(ttft_s=3), times=1)
    sse = stream(hedged, {**HEDGED, "stream": True})
    assert sse.done
    assert sse.headers["x-router-deployment"] == OPENAI
    hedge = emulators.azure.requests[-1]
    assert eventually(lambda: hedge.cancelled, 2.0)
    m = Metrics(hedged)
    assert m.value("router_hedges_total", policy="hedged", outcome="lost") == 1
    assert m.value("router_upstream_attempts_total", deployment=AZURE, outcome="cancelled") == 1


def test_no_hedge_when_the_first_answer_is_quick(
    hedged: RunningRouter, emulators: Emulators
) -> None:
    sse = stream(hedged, {**HEDGED, "stream": True})
    assert sse.done
    assert emulators.azure.requests == []
    assert Metrics(hedged).value("router_hedges_total") == 0


def test_failed_primary_during_hedge_leaves_the_hedge_to_answer(
    hedged: RunningRouter, emulators: Emulators
) -> None:
    # The primary fails after the hedge started: no fallback is needed, the hedge answers.
    emulators.openai.plan(Behaviour(latency_s=0.4, status=500), times=2)
    emulators.azure.plan(Behaviour(latency_s=0.6), times=1)
    resp = post(hedged, HEDGED)
    assert resp.status_code == 200
    assert resp.headers["x-router-deployment"] == AZURE
    m = Metrics(hedged)
    assert m.value("router_hedges_total", outcome="won") == 1
    assert m.value("router_upstream_attempts_total", deployment=OPENAI, outcome="status") >= 1
    assert len(emulators.azure.requests) == 1


def test_both_failing_is_one_error_listing_both(
    hedged: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(latency_s=0.3, status=503), times=2)
    emulators.azure.plan(Behaviour(status=502), times=2)
    resp = post(hedged, HEDGED)
    assert resp.status_code == 502
    message = resp.json()["error"]["message"]
    assert f"{OPENAI}: HTTP 503" in message
    assert f"{AZURE}: HTTP 502" in message
    assert Metrics(hedged).value("router_hedges_total", outcome="failed") == 1
