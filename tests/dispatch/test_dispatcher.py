"""Dispatch in isolation, with a scripted upstream: backoff bounds, the p95 hedge delay, and
what observers hear about hedges and cancelled attempts."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from router.config.catalog import Deployment, Price
from router.config.schema import Timeouts
from router.dispatch.attempts import AttemptOutcome
from router.dispatch.dispatcher import Dispatcher
from router.dispatch.hedge import HedgeOutcome
from router.errors import AllAttemptsFailed, AttemptError, AttemptFailed
from router.policy.decision import Candidate, Decision, HedgeSettings, RetrySettings
from router.shapes import Usage
from router.upstream import ChunkStream, Completion


def _deployment(name: str) -> Deployment:
    return Deployment(
        name, "m", "openai", "m", None, None, None, Price(1e-6, 2e-6, "t"), Timeouts()
    )


A, B = _deployment("a"), _deployment("b")


class Scripted:
    """Per deployment: a delay, then an answer or a failure."""

    def __init__(self, **script: tuple[float, int | None]) -> None:
        self.script = script
        self.calls: list[str] = []

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        self.calls.append(deployment.name)
        delay, status = self.script[deployment.name]
        await asyncio.sleep(delay)
        if status is not None:
            raise AttemptFailed(AttemptError(deployment.name, "status", status, "scripted"))
        return Completion({"choices": [], "by": deployment.name}, Usage(5, 7))

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChunkStream:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class Recorder:
    def __init__(self, p95: float | None = None) -> None:
        self.p95 = p95
        self.outcomes: list[AttemptOutcome] = []
        self.hedges: list[HedgeOutcome] = []

    def may_try(self, deployment: Deployment) -> bool:
        return True

    def attempt_finished(self, outcome: AttemptOutcome) -> None:
        self.outcomes.append(outcome)

    def hedge_finished(self, outcome: HedgeOutcome) -> None:
        self.hedges.append(outcome)

    def recent_p95(self, deployment: Deployment, stream: bool) -> float | None:
        return self.p95


def _decision(**kwargs: Any) -> Decision:
    return Decision("p", "r", (Candidate(A), Candidate(B)), "test", **kwargs)


async def test_backoff_is_full_jitter_within_the_exponential_cap() -> None:
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    upstream = Scripted(a=(0, 500), b=(0, 500))
    retry = RetrySettings(max_retries=4, backoff_base_s=0.1, backoff_max_s=0.3)
    dispatcher = Dispatcher(upstream, rng=random.Random(7), sleep=sleep)
    with pytest.raises(AllAttemptsFailed) as failed:
        await dispatcher.complete(_decision(retry=retry), {})
    assert len(failed.value.attempts) == 10  # 5 tries on each deployment, all remembered
    caps = [0.1, 0.2, 0.3, 0.3] * 2
    assert len(waits) == len(caps)
    assert all(0 <= w <= cap for w, cap in zip(waits, caps, strict=True))
    assert len(set(waits)) == len(waits)  # jittered, not fixed steps


async def test_hedge_delay_follows_recent_p95_when_asked() -> None:
    upstream = Scripted(a=(2.0, None), b=(0.0, None))
    observer = Recorder(p95=0.05)
    dispatcher = Dispatcher(upstream, observer)
    t0 = time.monotonic()
    answer = await dispatcher.complete(_decision(hedge=HedgeSettings(5.0, use_p95=True)), {})
    assert time.monotonic() - t0 < 1.0  # hedged at the 50 ms p95, not the 5 s fixed delay
    assert answer.deployment is B
    assert answer.hedge is not None
    assert answer.hedge.result == "won"
    assert answer.hedge.loser is A
    assert observer.hedges == [answer.hedge]
    cancelled = [o for o in observer.outcomes if o.cancelled]
    assert [o.deployment for o in cancelled] == [A]
    assert not cancelled[0].ok


async def test_hedge_falls_back_to_fixed_delay_without_p95() -> None:
    upstream = Scripted(a=(0.4, None), b=(0.0, None))
    dispatcher = Dispatcher(upstream, Recorder(p95=None))
    answer = await dispatcher.complete(_decision(hedge=HedgeSettings(1.0, use_p95=True)), {})
    assert answer.deployment is A  # answered at 0.4 s, before the 1 s delay
    assert answer.hedge is None
    assert upstream.calls == ["a"]


async def test_client_fault_during_a_race_stops_everything() -> None:
    upstream = Scripted(a=(0.3, 400), b=(5.0, None))
    observer = Recorder()
    dispatcher = Dispatcher(upstream, observer)
    t0 = time.monotonic()
    with pytest.raises(AllAttemptsFailed) as failed:
        await dispatcher.complete(_decision(hedge=HedgeSettings(0.05)), {})
    assert time.monotonic() - t0 < 1.0  # the 5 s hedge was cancelled, not awaited
    assert failed.value.status == 400
    assert [h.result for h in observer.hedges] == ["cancelled"]
    assert any(o.cancelled and o.deployment is B for o in observer.outcomes)
