"""The circuit breaker end to end: consecutive 500s open a deployment's circuit, fallbacks
serve meanwhile, explain and /metrics show it open; after the cool-down a half-open probe
decides: a failed probe re-opens it, a good one closes it."""

from __future__ import annotations

from pathlib import Path

from router.emulators import Behaviour
from support.routing import OffsetClock, chat, explain, metric, routed, scrape, write_config
from support.stack import Emulators, RouterFactory, RunningRouter

POLICIES = """\
policies:
  steady:
    default: true
    retry: {max_retries: 0}
    rules:
      - name: primary
        objective: priority
        candidates: [gpt-4o@openai, gpt-4o@azure]
"""
FAILURES = 3
COOL_DOWN_S = 30.0  # the test moves the clock; a long real cool-down cannot expire under load
OPENAI = "gpt-4o@openai"
AZURE = "gpt-4o@azure"


def _circuit(router: RunningRouter) -> tuple[float, dict[str, float]]:
    text = scrape(router)
    transitions = {
        s: metric(text, "router_circuit_transitions_total", deployment=OPENAI, to_state=s)
        for s in ("open", "half_open", "closed")
    }
    return metric(text, "router_circuit_state", deployment=OPENAI), transitions


def test_circuit_opens_falls_back_probes_and_closes(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    server = {"circuit_failures": FAILURES, "circuit_cool_down_s": COOL_DOWN_S}
    clock = OffsetClock()
    router = start_router(write_config(tmp_path / "c", emulators, POLICIES, server=server),
                          clock=clock)  # fmt: skip
    emulators.openai.default = Behaviour(status=500)

    # Each failure is absorbed by the fallback; the client never sees it.
    for n in range(1, FAILURES + 1):
        resp = chat(router)
        assert routed(resp) == AZURE
        assert len(emulators.openai.requests) == n
        state, _ = _circuit(router)
        assert state == (2 if n == FAILURES else 0), (n, state)
    text = scrape(router)
    assert metric(text, "router_fallbacks_total", from_deployment=OPENAI, to_deployment=AZURE) == 3

    # Open: openai is left out of the decision and gets no traffic.
    decision = explain(router).json()
    assert [c["deployment"] for c in decision["chain"]] == [AZURE]
    assert decision["excluded"] == [
        {"deployment": OPENAI, "reason": "circuit open", "kind": "signal"}
    ]
    resp = chat(router)
    assert routed(resp) == AZURE
    assert "1 excluded" in resp.headers["x-router-reason"]
    assert len(emulators.openai.requests) == FAILURES

    # Cool-down over, still broken: the one probe fails and the circuit opens again.
    clock.advance(COOL_DOWN_S + 0.1)
    assert [c["deployment"] for c in explain(router).json()["chain"]] == [OPENAI, AZURE]
    assert routed(chat(router)) == AZURE
    assert len(emulators.openai.requests) == FAILURES + 1
    state, moves = _circuit(router)
    assert state == 2
    assert moves == {"open": 2, "half_open": 1, "closed": 0}
    assert explain(router).json()["excluded"][0]["reason"] == "circuit open"

    # Healed, and the next cool-down over: the probe succeeds and closes the circuit.
    emulators.openai.default = Behaviour()
    clock.advance(COOL_DOWN_S + 0.1)
    assert routed(chat(router)) == OPENAI
    state, moves = _circuit(router)
    assert state == 0
    assert moves == {"open": 2, "half_open": 2, "closed": 1}
    assert explain(router).json()["excluded"] == []
    assert routed(chat(router)) == OPENAI
