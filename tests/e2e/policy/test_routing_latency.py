"""Objective ``latency`` end to end: routing follows the deployments' measured p95, moves away
from a provider that turns slow once the window holds enough slow samples, and comes back
when the slowness has left the signal window."""

from __future__ import annotations

from pathlib import Path

import httpx

from router.emulators import Behaviour
from support.routing import OffsetClock, chat, explain, routed, write_config
from support.stack import Emulators, RouterFactory, RunningRouter

POLICIES = """\
policies:
  fast:
    default: true
    retry: {max_retries: 0}
    rules:
      - name: fastest
        objective: latency
        candidates: [gpt-4o@openai, gpt-4o@azure]
"""
WINDOW_S = 60.0
WARM = 20  # samples per deployment: p95 (nearest rank) of 20 is the 19th fastest
AZURE_S = 0.05  # azure is always a little slow
SLOW_S = 0.3  # openai when it turns slow


def _warm(router: RunningRouter, deployment: str, n: int) -> None:
    """Direct traffic (model = a deployment name) feeds the same live signals."""
    with httpx.Client(timeout=30) as client:
        for _ in range(n):
            r = client.post(
                f"{router.v1}/chat/completions",
                json={"model": deployment, "messages": [{"role": "user", "content": "hi"}]},
            )
            assert r.status_code == 200, r.text
            assert r.headers["x-router-deployment"] == deployment


def _p95(router: RunningRouter) -> dict[str, float | None]:
    resp = explain(router)
    assert resp.status_code == 200, resp.text
    return {c["deployment"]: c["expected_latency_s"] for c in resp.json()["chain"]}


def test_latency_objective_follows_measured_p95(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    cfg = write_config(tmp_path / "cfg", emulators, POLICIES, server={"signal_window_s": WINDOW_S})
    clock = OffsetClock()
    router = start_router(cfg, clock=clock)
    emulators.azure.default = Behaviour(latency_s=AZURE_S)

    # Nothing measured: ties keep the listed order.
    first = chat(router, "fast")
    assert routed(first) == "gpt-4o@openai"
    assert "p95 n/a" in first.headers["x-router-reason"]

    _warm(router, "gpt-4o@openai", WARM - 1)
    _warm(router, "gpt-4o@azure", WARM)
    p95 = _p95(router)
    assert p95["gpt-4o@openai"] is not None
    assert p95["gpt-4o@azure"] is not None
    assert p95["gpt-4o@openai"] < AZURE_S <= p95["gpt-4o@azure"]
    resp = chat(router, "fast")
    assert routed(resp) == "gpt-4o@openai"
    assert "objective=latency" in resp.headers["x-router-reason"]

    # openai turns slow. One slow answer among 21 is not the p95 yet; the second is.
    emulators.openai.default = Behaviour(latency_s=SLOW_S)
    path = [routed(chat(router, "fast")) for _ in range(3)]
    assert path == ["gpt-4o@openai", "gpt-4o@openai", "gpt-4o@azure"], path
    assert _p95(router)["gpt-4o@openai"] >= SLOW_S  # type: ignore[operator]
    slow_hits = len(emulators.openai.requests)

    # Fast again, but the window still remembers: routing stays away ...
    emulators.openai.default = Behaviour()
    assert routed(chat(router, "fast")) == "gpt-4o@azure"
    assert len(emulators.openai.requests) == slow_hits  # ... and sends openai nothing

    # ... until the slow samples leave the window; fresh samples bring it back.
    clock.advance(WINDOW_S + 1)
    assert _p95(router) == {"gpt-4o@openai": None, "gpt-4o@azure": None}
    _warm(router, "gpt-4o@openai", 5)
    _warm(router, "gpt-4o@azure", 5)
    p95 = _p95(router)
    assert p95["gpt-4o@openai"] < AZURE_S <= p95["gpt-4o@azure"]  # type: ignore[operator]
    assert routed(chat(router, "fast")) == "gpt-4o@openai"
