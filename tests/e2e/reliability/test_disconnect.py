"""A client that goes away cancels its upstream request at once, streamed or not."""

from __future__ import annotations

import httpx
import orjson
import pytest

from router.emulators import Behaviour
from support.reliability import HELLO, JSON, STREAM, Metrics, eventually
from support.stack import Emulators, RunningRouter


def _in_flight(router: RunningRouter) -> float:
    return Metrics(router).value("router_requests_in_flight")


def test_disconnect_mid_stream_cancels_upstream(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(chunk_interval_s=0.2, reply_words=40), times=1)
    with httpx.stream(
        "POST", f"{router.v1}/chat/completions", content=orjson.dumps(STREAM), headers=JSON
    ) as resp:
        lines = resp.iter_lines()
        seen = [line for _, line in zip(range(4), lines, strict=False) if line]
        assert seen
    record = emulators.openai.requests[-1]
    assert eventually(lambda: record.cancelled, 2.0)
    assert record.chunks_sent < 40
    assert eventually(lambda: _in_flight(router) == 0, 2.0)
    # The client left: the attempt is cancelled, not a success and not the deployment's fault.
    assert Metrics(router).value("router_upstream_attempts_total", outcome="cancelled") == 1
    assert Metrics(router).value("router_upstream_attempts_total", outcome="success") == 0


@pytest.mark.parametrize("body", [HELLO, STREAM], ids=["json", "stream-before-first-token"])
def test_disconnect_while_waiting_cancels_upstream(
    router: RunningRouter, emulators: Emulators, body: dict[str, object]
) -> None:
    emulators.openai.plan(Behaviour(latency_s=5, ttft_s=5), times=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{router.v1}/chat/completions", content=orjson.dumps(body), headers=JSON, timeout=0.5
        )
    record = emulators.openai.requests[-1]
    assert eventually(lambda: record.cancelled, 2.0)  # well before the 5 s answer
    assert eventually(lambda: _in_flight(router) == 0, 2.0)
    assert emulators.azure.requests == []  # a cancelled attempt is no reason to fall back
    m = Metrics(router)
    assert m.value("router_upstream_attempts_total", outcome="cancelled") == 1
    # Counted once, as the client's doing (499), with no upstream error.
    assert m.value("router_requests_total", status_class="4xx") == 1
    assert m.value("router_requests_total", status_class="5xx") == 0
