"""Live per-deployment signals: latency percentiles, error rate, circuit state, and the learned
number of output tokens per (model, task).

``Signals`` is mutable and owned by the app (one per worker); dispatch and accounting write to
it. ``decide()`` only ever reads an immutable ``SignalSnapshot``, so policies stay pure and
table-testable. Time comes from an injected clock, never from ``time`` directly.

Circuit breaker, per deployment::

    closed --(N consecutive failures)--> open --(cool-down elapsed)--> half_open
    half_open --(probe succeeds, or the upstream refuses the request: it is up)--> closed
    half_open --(probe fails)--> open (cool-down restarts)

In half-open only one probe is let through at a time (``may_attempt``); a probe that ends
with no verdict (cancelled, the client's deadline) frees its slot at once, and one that never
reports back (crashed task) frees it after another cool-down.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from router.shapes import CircuitState, Clock

TransitionHook = Callable[[str, CircuitState], None]


@dataclass(frozen=True, slots=True)
class SignalSettings:
    window_size: int = 200  # most recent attempts kept per deployment
    window_s: float = 300.0  # ... and none older than this
    min_samples: int = 5  # fewer latency samples than this: percentile unknown
    failure_threshold: int = 5  # consecutive failures that open the circuit
    cool_down_s: float = 30.0  # open -> half_open after this long
    ewma_alpha: float = 0.2  # weight of the newest observation of output tokens


@dataclass(frozen=True, slots=True)
class DeploymentStats:
    """One deployment's recent behaviour, as ``decide()`` sees it."""

    circuit: CircuitState = "closed"
    attempts: int = 0
    error_rate: float = 0.0
    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    total_p50_s: float | None = None
    total_p95_s: float | None = None

    def p95_latency(self, stream: bool) -> float | None:
        """The latency that matters to the client: first token for streams, else the whole."""
        return self.ttft_p95_s if stream else self.total_p95_s


_UNSEEN = DeploymentStats()


@dataclass(frozen=True, slots=True)
class SignalSnapshot:
    """Immutable view for one decision; unknown deployments read as healthy and unmeasured."""

    deployments: Mapping[str, DeploymentStats] = field(default_factory=dict)
    output_tokens: Mapping[tuple[str, str], float] = field(default_factory=dict)

    def stats(self, deployment: str) -> DeploymentStats:
        return self.deployments.get(deployment, _UNSEEN)

    def expected_output(self, model: str, task: str) -> float | None:
        return self.output_tokens.get((model, task))


@dataclass(slots=True)
class _Sample:
    at: float
    ok: bool
    ttft_s: float | None
    total_s: float | None


@dataclass(slots=True)
class _Window:
    """A deployment's recent attempts, with what ``_summarise`` reads kept up to date as
    samples come and go (sorted latencies, failures), so a snapshot after each attempt costs
    a few look-ups instead of a walk and two sorts of the whole window."""

    samples: deque[_Sample]
    ttft: list[float] = field(default_factory=list)  # sorted, of the ok samples that have one
    total: list[float] = field(default_factory=list)  # sorted, likewise
    failures: int = 0

    def add(self, sample: _Sample) -> None:
        samples = self.samples
        if samples.maxlen is not None and len(samples) == samples.maxlen:
            self.drop_oldest()  # what append would push out, taken out of the summary too
        samples.append(sample)
        if not sample.ok:
            self.failures += 1
            return
        if sample.ttft_s is not None:
            insort(self.ttft, sample.ttft_s)
        if sample.total_s is not None:
            insort(self.total, sample.total_s)

    def drop_oldest(self) -> None:
        sample = self.samples.popleft()
        if not sample.ok:
            self.failures -= 1
            return
        if sample.ttft_s is not None:
            _remove(self.ttft, sample.ttft_s)
        if sample.total_s is not None:
            _remove(self.total, sample.total_s)


def _remove(ordered: list[float], value: float) -> None:
    del ordered[bisect_left(ordered, value)]


@dataclass(slots=True)
class _Deployment:
    window: _Window
    state: CircuitState = "closed"
    consecutive_failures: int = 0
    opened_at: float = 0.0
    probe_since: float | None = None  # a half-open probe is in flight since then
    stats: DeploymentStats | None = None  # summary cache; None after a write


class Signals:
    """Mutable signal store. Not thread-safe: one per event loop, like the app that owns it."""

    def __init__(
        self,
        clock: Clock,
        settings: SignalSettings | None = None,
        on_transition: TransitionHook | None = None,
    ) -> None:
        self._clock = clock
        self._settings = settings or SignalSettings()
        self._on_transition = on_transition
        self._deployments: dict[str, _Deployment] = {}
        self._output: dict[tuple[str, str], float] = {}
        self._cached: SignalSnapshot | None = None
        self._cached_until = 0.0

    # -- writers (dispatch, accounting) ------------------------------------------------------

    def record_attempt(
        self,
        deployment: str,
        *,
        ok: bool,
        ttft_s: float | None = None,
        total_s: float | None = None,
    ) -> None:
        """One finished attempt. ``ttft_s`` only for streams; ``total_s`` when it completed.
        A client-fault refusal (400/413/422) is not the deployment's failure: don't record it."""
        now = self._clock()
        dep = self._get(deployment)
        dep.window.add(_Sample(now, ok, ttft_s, total_s))
        if ok:
            dep.consecutive_failures = 0
            if dep.state != "closed":
                self._transition(deployment, dep, "closed")
        else:
            dep.consecutive_failures += 1
            if dep.state == "half_open" or (
                dep.state == "closed"
                and dep.consecutive_failures >= self._settings.failure_threshold
            ):
                dep.opened_at = now
                self._transition(deployment, dep, "open")
        dep.probe_since = None
        dep.stats = None
        self._cached = None

    def record_answered(self, deployment: str) -> None:
        """The deployment answered, refusing the request itself (a 4xx the client caused): it
        is up. Closes its circuit without a latency or error sample."""
        dep = self._deployments.get(deployment)
        if dep is None:
            return
        dep.consecutive_failures = 0
        dep.probe_since = None
        if dep.state != "closed":
            self._transition(deployment, dep, "closed")
            dep.stats = None
            self._cached = None

    def release_probe(self, deployment: str) -> None:
        """An attempt ended with no verdict on the deployment (cancelled, the client's own
        deadline): if it was the half-open probe, the next caller may probe at once."""
        dep = self._deployments.get(deployment)
        if dep is not None:
            dep.probe_since = None

    def record_usage(self, model: str, task: str, completion_tokens: int) -> None:
        """Completion tokens of a successful answer: feeds the expected-output EWMA."""
        key = (model, task)
        previous = self._output.get(key)
        alpha = self._settings.ewma_alpha
        value = float(completion_tokens)
        self._output[key] = value if previous is None else alpha * value + (1 - alpha) * previous
        self._cached = None

    def may_attempt(self, deployment: str) -> bool:
        """Ask right before an attempt. Closed: yes. Open: no, until the cool-down has elapsed;
        then the circuit half-opens and exactly one caller gets ``True`` (the probe)."""
        dep = self._deployments.get(deployment)
        if dep is None or dep.state == "closed":
            return True
        now = self._clock()
        cool_down = self._settings.cool_down_s
        if dep.state == "open":
            if now - dep.opened_at < cool_down:
                return False
            self._transition(deployment, dep, "half_open")
            self._cached = None
        if dep.probe_since is not None and now - dep.probe_since < cool_down:
            return False
        dep.probe_since = now
        return True

    def reconfigure(self, settings: SignalSettings) -> None:
        """New thresholds and windows from a reloaded config; measurements are kept. A
        changed window size applies to deployments seen from now on."""
        self._settings = settings
        self._cached = None

    # -- reader (decide) ----------------------------------------------------------------------

    def snapshot(self) -> SignalSnapshot:
        """An immutable view, rebuilt only after a write or when a sample or cool-down expires."""
        now = self._clock()
        if self._cached is not None and now < self._cached_until:
            return self._cached
        settings = self._settings
        horizon = now - settings.window_s
        next_change = float("inf")
        stats: dict[str, DeploymentStats] = {}
        for name, dep in self._deployments.items():
            samples = dep.window.samples
            while samples and samples[0].at < horizon:
                dep.window.drop_oldest()
                dep.stats = None
            if samples:
                next_change = min(next_change, samples[0].at + settings.window_s)
            circuit = dep.state
            if circuit == "open":
                reopen = dep.opened_at + settings.cool_down_s
                if now >= reopen:
                    circuit = "half_open"  # a probe may go: decide() keeps it in the chain
                else:
                    next_change = min(next_change, reopen)
            if dep.stats is None or dep.stats.circuit != circuit:
                dep.stats = _summarise(dep.window, circuit, settings.min_samples)
            stats[name] = dep.stats
        snap = SignalSnapshot(MappingProxyType(stats), MappingProxyType(dict(self._output)))
        self._cached, self._cached_until = snap, next_change
        return snap

    def circuit(self, deployment: str) -> CircuitState:
        dep = self._deployments.get(deployment)
        return dep.state if dep else "closed"

    # -- internals ----------------------------------------------------------------------------

    def _get(self, name: str) -> _Deployment:
        dep = self._deployments.get(name)
        if dep is None:
            dep = _Deployment(_Window(deque(maxlen=self._settings.window_size)))
            self._deployments[name] = dep
        return dep

    def _transition(self, name: str, dep: _Deployment, state: CircuitState) -> None:
        dep.state = state
        if self._on_transition is not None:
            self._on_transition(name, state)


def _summarise(window: _Window, circuit: CircuitState, min_samples: int) -> DeploymentStats:
    ttft, total, attempts = window.ttft, window.total, len(window.samples)
    return DeploymentStats(
        circuit=circuit,
        attempts=attempts,
        error_rate=window.failures / attempts if attempts else 0.0,
        ttft_p50_s=percentile(ttft, 0.50, min_samples),
        ttft_p95_s=percentile(ttft, 0.95, min_samples),
        total_p50_s=percentile(total, 0.50, min_samples),
        total_p95_s=percentile(total, 0.95, min_samples),
    )


def percentile(ordered: list[float], q: float, min_samples: int = 1) -> float | None:
    """Nearest-rank percentile of an already sorted list; ``None`` below ``min_samples``."""
    if len(ordered) < max(min_samples, 1):
        return None
    rank = max(1, math.ceil(q * len(ordered) - 1e-9))  # epsilon: 0.95 * 20 is 19.000000000000004
    return ordered[min(rank, len(ordered)) - 1]
