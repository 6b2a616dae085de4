"""Dispatch: the one owner of attempts.

For a decision's chain it tries each deployment in order; on a retryable failure it retries
the same deployment with exponential backoff and full jitter (honouring ``Retry-After`` up to
a cap), then falls back to the next; a request the upstream refused (400, 413, 422) stops at
once. Every failed attempt is remembered, and when all fail the error lists them.

Streams fail over the same way until the first content chunk exists: ``stream`` reads ahead
to it before returning, so nothing has reached the client while a fallback is still possible;
the first content chunk must come within the deployment's ``connect_s + ttft_s``. It returns
an ``AnswerStream`` (``stream``) that yields from that first chunk and reports its attempt
itself when it ends; after the first chunk a failure ends the stream (``StreamInterrupted``,
which the API layer sends as an SSE error event).

With ``decision.hedge`` set, deployments race instead (see ``hedge``): a slow first answer
brings in the next candidate, and the first to answer wins.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from router.config.catalog import Deployment
from router.dispatch.attempts import AttemptObserver, AttemptOutcome, IgnoreAttempts
from router.dispatch.hedge import HedgeOutcome, hedge_delay, race
from router.dispatch.stream import AnswerStream, Opened, open_attempt
from router.errors import (
    UNTRANSLATABLE,
    AllAttemptsFailed,
    AttemptError,
    AttemptFailed,
    AttemptKind,
    RouterError,
)
from router.policy.decision import Decision, HedgeSettings, RetrySettings
from router.shapes import Clock, Usage
from router.upstream import Completion, Payload, Upstream, answer

log = logging.getLogger("router")
T = TypeVar("T")


@dataclass(slots=True)
class Answer:
    deployment: Deployment
    completion: Completion
    failures: list[AttemptError]
    upstream_s: float  # time spent waiting on upstreams, all attempts and backoffs
    hedge: HedgeOutcome | None = None  # set when a hedge was started


@dataclass(slots=True)
class _Won(Generic[T]):
    deployment: Deployment
    value: T
    t0: float
    retry_of: AttemptKind | None


@dataclass(slots=True)
class _Budget:
    clock: Clock
    deadline: float | None
    client_deadline: bool = False  # the client's own x-router-timeout is what ends it
    failures: list[AttemptError] = field(default_factory=list)
    hedge: HedgeOutcome | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock()


class Dispatcher:
    def __init__(
        self,
        upstream: Upstream,
        observer: AttemptObserver | None = None,
        *,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._upstream = upstream
        self._observer = observer or IgnoreAttempts()
        self._clock = clock
        self._rng = rng or random.Random()
        self._sleep = sleep

    async def complete(
        self, decision: Decision, body: Payload, *, deadline_s: float | None = None
    ) -> Answer:
        budget = self._budget(decision, deadline_s)
        started = self._clock()

        async def attempt(deployment: Deployment) -> Completion:
            return await answer(self._upstream, deployment, body)

        async def discard(won: _Won[Completion]) -> Usage | None:
            return won.value.usage

        won = await self._run(decision, budget, attempt, discard, stream=False)
        duration = self._clock() - won.t0
        self._observer.attempt_finished(
            AttemptOutcome(won.deployment, True, False, duration, duration, retry_of=won.retry_of)
        )
        return Answer(
            won.deployment, won.value, budget.failures, self._clock() - started, budget.hedge
        )

    async def stream(
        self, decision: Decision, body: Payload, *, deadline_s: float | None = None
    ) -> AnswerStream:
        """A stream that has produced its first content chunk; it reports its attempt when it
        ends (see ``AnswerStream``)."""
        budget = self._budget(decision, deadline_s)
        started = self._clock()

        async def attempt(deployment: Deployment) -> Opened:
            return await open_attempt(self._upstream, deployment, body)

        async def discard(won: _Won[Opened]) -> Usage | None:
            await won.value.source.aclose()
            return None

        won = await self._run(decision, budget, attempt, discard, stream=True)
        now = self._clock()
        return AnswerStream(
            won.deployment,
            won.value,
            failures=budget.failures,
            upstream_s=now - started,
            ttft_s=now - won.t0,
            hedge=budget.hedge,
            clock=self._clock,
            started=won.t0,
            report=self._observer.attempt_finished,
        )

    # -- internals -------------------------------------------------------------------------

    def _budget(self, decision: Decision, deadline_s: float | None) -> _Budget:
        limits = [x for x in (deadline_s, decision.deadline_s) if x is not None]
        deadline = self._clock() + min(limits) if limits else None
        client = deadline_s is not None and deadline_s <= (decision.deadline_s or deadline_s)
        return _Budget(self._clock, deadline, client)

    async def _run(
        self,
        decision: Decision,
        budget: _Budget,
        attempt: Callable[[Deployment], Awaitable[T]],
        discard: Callable[[_Won[T]], Awaitable[Usage | None]],
        *,
        stream: bool,
    ) -> _Won[T]:
        """The fallback loop: each deployment of the chain in order (a lane each: the first
        try and its retries); stops at a client fault or when the deadline is spent. With a
        hedge, lanes race instead of queueing."""

        async def lane(deployment: Deployment) -> _Won[T] | None:
            return await self._lane(deployment, decision, budget, attempt, stream)

        candidates = self._eligible(decision, budget)
        if decision.hedge is not None and len(decision.chain) > 1:
            settings = decision.hedge
            won = await race(
                candidates,
                lane,
                lambda d: self._hedge_delay(settings, d, stream),
                discard,
                lambda outcome: self._hedged(budget, outcome),
                decision.policy,
            )
            if won is None:
                raise AllAttemptsFailed(budget.failures)
            return won
        for deployment in candidates:
            found = await lane(deployment)
            if found is not None:
                return found
        raise AllAttemptsFailed(budget.failures)

    def _eligible(self, decision: Decision, budget: _Budget) -> Iterator[Deployment]:
        """The chain, lazily: a circuit is asked right before its deployment would be tried
        (a half-open one hands out a single probe), and a skip is remembered."""
        for candidate in decision.chain:
            deployment = candidate.deployment
            if self._observer.may_try(deployment):
                yield deployment
            else:
                budget.failures.append(
                    AttemptError(deployment.name, "circuit_open", None, "circuit open, skipped")
                )

    async def _lane(
        self,
        deployment: Deployment,
        decision: Decision,
        budget: _Budget,
        attempt: Callable[[Deployment], Awaitable[T]],
        stream: bool,
    ) -> _Won[T] | None:
        """One deployment: the first try, then retries while failures are retryable. None
        when it gave up (fall back); raises when the whole request must stop."""
        retry = decision.retry
        last: AttemptError | None = None
        for n in range(retry.max_retries + 1):
            if last is not None:
                wait = self._backoff(retry, n, last)
                if wait is None or not self._fits(budget, wait):
                    return None
                await self._sleep(wait)
            if not self._fits(budget, 0.0):
                kind: AttemptKind = "deadline" if budget.client_deadline else "timeout"
                late = "request deadline exceeded, not tried"
                budget.failures.append(AttemptError(deployment.name, kind, None, late))
                raise AllAttemptsFailed(budget.failures)
            retry_of = last.kind if last is not None else None
            t0 = self._clock()
            try:
                value = await self._within(budget, attempt(deployment))
            except AttemptFailed as exc:
                last = self._failed(deployment, exc.error, t0, stream, retry_of, budget)
                if last.client_fault or last.kind == "deadline":
                    raise AllAttemptsFailed(budget.failures) from exc
                if not last.retryable:
                    return None
                continue
            except asyncio.CancelledError:
                duration = self._clock() - t0
                self._observer.attempt_finished(
                    AttemptOutcome(deployment, False, stream, duration, cancelled=True)
                )
                raise
            except Exception as exc:
                # The adapter itself failed on this request (a translation refused it by name,
                # or choked on a shape): the request's fault, never the deployment's.
                local = _untranslatable(deployment, exc)
                self._failed(deployment, local, t0, stream, retry_of, budget)
                if isinstance(exc, RouterError) and exc.code == "unsupported_parameter":
                    return None  # this provider cannot honour it; the next one may
                if isinstance(exc, RouterError):
                    raise
                raise AllAttemptsFailed(budget.failures) from exc
            return _Won(deployment, value, t0, retry_of)
        return None

    def _hedge_delay(self, settings: HedgeSettings, deployment: Deployment, stream: bool) -> float:
        return hedge_delay(settings, deployment, lambda d: self._observer.recent_p95(d, stream))

    def _hedged(self, budget: _Budget, outcome: HedgeOutcome) -> None:
        budget.hedge = outcome
        self._observer.hedge_finished(outcome)

    def _backoff(self, retry: RetrySettings, n: int, last: AttemptError) -> float | None:
        """Full jitter: uniform in [0, min(cap, base * 2**n)]; a Retry-After replaces it, and
        one longer than the cap means: try the next deployment instead of waiting."""
        if not last.retryable:
            return None
        if last.retry_after is not None:
            if last.retry_after > retry.max_retry_after_s:
                return None
            return last.retry_after
        ceiling = min(retry.backoff_max_s, retry.backoff_base_s * (2 ** (n - 1)))
        return self._rng.uniform(0.0, ceiling)

    def _fits(self, budget: _Budget, wait: float) -> bool:
        left = budget.remaining()
        return left is None or left > wait

    async def _within(self, budget: _Budget, awaitable: Awaitable[T]) -> T:
        left = budget.remaining()
        if left is None:
            return await awaitable
        try:
            async with asyncio.timeout(max(left, 0.0)):
                return await awaitable
        except TimeoutError as exc:
            # The client's own deadline says nothing about the deployment; the policy's
            # (the operator's) counts as the deployment being too slow.
            kind: AttemptKind = "deadline" if budget.client_deadline else "timeout"
            raise AttemptFailed(
                AttemptError("deadline", kind, None, "request deadline exceeded")
            ) from exc

    def _failed(
        self,
        deployment: Deployment,
        error: AttemptError,
        t0: float,
        stream: bool,
        retry_of: AttemptKind | None,
        budget: _Budget,
    ) -> AttemptError:
        if error.deployment != deployment.name:  # the deadline fired: name the deployment
            error = AttemptError(deployment.name, error.kind, error.status, error.message)
        budget.failures.append(error)
        self._observer.attempt_finished(
            AttemptOutcome(deployment, False, stream, self._clock() - t0, None, error, retry_of)
        )
        return error


def _untranslatable(deployment: Deployment, exc: Exception) -> AttemptError:
    if isinstance(exc, RouterError):
        return AttemptError(deployment.name, "invalid", None, exc.message)
    log.warning("the %s adapter failed on a request", deployment.provider, exc_info=exc)
    return AttemptError(deployment.name, "invalid", None, UNTRANSLATABLE)
