"""Hedged requests: if the first attempt has no first token after a delay, start the next
candidate beside it; the first to answer wins and the other is cancelled.

``race`` runs *lanes* (one lane = one deployment with its retries, see ``Dispatcher``) as
tasks. At most one hedge per request: after it, a lane that fails is replaced by the next
candidate (plain fallback), and a lane that wins cancels the rest, which closes their upstream
connections. The hedge's fate is reported once, as a ``HedgeOutcome``:

- ``won``: the hedge answered first (the slower lane was cancelled);
- ``lost``: the earlier lane answered first (the hedge was cancelled);
- ``failed``: the hedge itself failed, or nobody answered;
- ``cancelled``: the race ended without an answer while the hedge still ran (the client
  left, or the other lane's request was refused or ran out of deadline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

from router.config.catalog import Deployment
from router.policy.decision import HedgeSettings
from router.shapes import Usage

HedgeResult = Literal["won", "lost", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class HedgeOutcome:
    policy: str
    result: HedgeResult
    hedge: Deployment  # where the hedge went
    loser: Deployment | None = None  # the lane cancelled (or discarded) when the race ended
    loser_usage: Usage | None = None  # known only when the loser finished in the same instant


class _Answered(Protocol):
    @property
    def deployment(self) -> Deployment: ...


W = TypeVar("W", bound=_Answered)


def hedge_delay(
    settings: HedgeSettings, deployment: Deployment, p95: Callable[[Deployment], float | None]
) -> float:
    """The fixed delay, or the deployment's recent p95 when asked for and known: the point
    past which an answer is unusually late (hedging earlier would double most requests)."""
    if settings.use_p95:
        measured = p95(deployment)
        if measured is not None and measured > 0:
            return measured
    return settings.delay_s


async def race(
    candidates: Iterator[Deployment],
    lane: Callable[[Deployment], Awaitable[W | None]],
    delay_for: Callable[[Deployment], float],
    discard: Callable[[W], Awaitable[Usage | None]],
    report: Callable[[HedgeOutcome], None],
    policy: str,
) -> W | None:
    """The first lane's answer, or None when every candidate's lane failed. A lane that raises
    (the request was refused, the deadline is spent) ends the race with its error."""
    return await _Race(lane, discard, report, policy).run(candidates, delay_for)


class _Race(Generic[W]):
    def __init__(
        self,
        lane: Callable[[Deployment], Awaitable[W | None]],
        discard: Callable[[W], Awaitable[Usage | None]],
        report: Callable[[HedgeOutcome], None],
        policy: str,
    ) -> None:
        self._lane = lane
        self._discard = discard
        self._report = report
        self._policy = policy
        self._running: dict[asyncio.Task[W | None], Deployment] = {}
        self._hedge: asyncio.Task[W | None] | None = None
        self._hedge_to: Deployment | None = None
        self._hedge_failed = False
        self._winner: asyncio.Task[W | None] | None = None
        self._loser: Deployment | None = None
        self._loser_usage: Usage | None = None

    def _launch(self, deployment: Deployment) -> asyncio.Task[W | None]:
        task = asyncio.ensure_future(self._lane(deployment))
        self._running[task] = deployment
        return task

    async def run(
        self, candidates: Iterator[Deployment], delay_for: Callable[[Deployment], float]
    ) -> W | None:
        loop = asyncio.get_running_loop()
        first = next(candidates, None)
        if first is None:
            return None
        self._launch(first)
        hedge_at: float | None = loop.time() + delay_for(first)
        try:
            while self._running:
                timeout = None if hedge_at is None else max(hedge_at - loop.time(), 0.0)
                done, _ = await asyncio.wait(
                    self._running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:  # the delay passed without an answer: hedge, once
                    hedge_at = None
                    extra = next(candidates, None)
                    if extra is not None:
                        self._hedge, self._hedge_to = self._launch(extra), extra
                    continue
                answer = await self._settle(done)
                if answer is not None:
                    return answer
                if not self._running:  # everyone in flight failed: plain fallback
                    nxt = next(candidates, None)
                    if nxt is not None:
                        self._launch(nxt)
                        if self._hedge is None:
                            hedge_at = loop.time() + delay_for(nxt)
            return None
        finally:
            await self._cancel_rest()
            if self._hedge_to is not None:
                self._report(self._outcome(self._hedge_to))

    async def _settle(self, done: set[asyncio.Task[W | None]]) -> W | None:
        """Take the finished lanes (in launch order, so the earlier wins a tie); return the
        winner's answer, or None when they all failed."""
        finished = [t for t in self._running if t in done]
        deployments = [self._running.pop(t) for t in finished]
        error: BaseException | None = None
        answer: W | None = None
        for task, deployment in zip(finished, deployments, strict=True):
            exc = task.exception()
            if exc is not None:
                error = error or exc
                continue
            value = task.result()
            if value is None:
                self._hedge_failed = self._hedge_failed or task is self._hedge
            elif answer is None:
                answer, self._winner = value, task
            else:  # answered in the same instant as the winner: close it, keep its usage
                self._loser, self._loser_usage = deployment, await self._discard(value)
        if answer is not None:
            if self._running:
                self._loser = next(iter(self._running.values()))
            return answer
        if error is not None:
            raise error
        return None

    async def _cancel_rest(self) -> None:
        """Cancel the lanes still running and wait for them (closing their connections); a
        lane that answered in the meantime has its answer discarded."""
        tasks = list(self._running)
        self._running.clear()
        for task in tasks:
            task.cancel()
        # gather, not a loop of awaits: if this request is itself cancelled meanwhile, that
        # cancellation must propagate rather than be swallowed with the lanes' own.
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if result is not None and not isinstance(result, BaseException):
                await self._discard(result)

    def _outcome(self, hedge_to: Deployment) -> HedgeOutcome:
        loser, usage = self._loser, self._loser_usage
        if self._winner is not None and self._winner is self._hedge:
            return HedgeOutcome(self._policy, "won", hedge_to, loser, usage)
        if self._hedge_failed:
            return HedgeOutcome(self._policy, "failed", hedge_to, loser, usage)
        if self._winner is not None:
            return HedgeOutcome(self._policy, "lost", hedge_to, loser, usage)
        hedge = self._hedge
        if hedge is not None and hedge.done() and not hedge.cancelled():
            return HedgeOutcome(self._policy, "failed", hedge_to)
        return HedgeOutcome(self._policy, "cancelled", hedge_to)
