"""What dispatch says about each attempt, and to whom: ``AttemptOutcome`` goes to an
``AttemptObserver`` (live signals and metrics in the app, ``observer.LiveObserver``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from router.config.catalog import Deployment
from router.dispatch.hedge import HedgeOutcome
from router.errors import AttemptError, AttemptKind


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    deployment: Deployment
    ok: bool
    stream: bool
    duration_s: float
    ttft_s: float | None = None
    error: AttemptError | None = None
    retry_of: AttemptKind | None = None  # a retry on the same deployment, after this failure
    # Cancelled before it finished (lost a hedge race, or the client left): no verdict on
    # the deployment's health, so observers must not count it as a failure.
    cancelled: bool = False
    # A stream that failed after its first content chunk had been handed on.
    interrupted: bool = False


class AttemptObserver(Protocol):
    """Live signals and metrics, as dispatch sees them."""

    def may_try(self, deployment: Deployment) -> bool:
        """False while the deployment's circuit is open (half-open lets one probe through)."""
        ...

    def attempt_finished(self, outcome: AttemptOutcome) -> None: ...

    def hedge_finished(self, outcome: HedgeOutcome) -> None:
        """Once per request that started a hedge (metrics, and the loser's cost if known)."""
        ...

    def recent_p95(self, deployment: Deployment, stream: bool) -> float | None:
        """Recent p95 latency (first token for streams, else whole answer), if measured."""
        ...


class IgnoreAttempts:
    """``AttemptObserver`` that lets every attempt through and records nothing."""

    def may_try(self, deployment: Deployment) -> bool:
        return True

    def attempt_finished(self, outcome: AttemptOutcome) -> None:
        return None

    def hedge_finished(self, outcome: HedgeOutcome) -> None:
        return None

    def recent_p95(self, deployment: Deployment, stream: bool) -> float | None:
        return None
