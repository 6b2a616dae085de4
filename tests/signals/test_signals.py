"""Signals with an injected fake clock: windowed percentiles, circuit breaker, EWMA."""

from __future__ import annotations

import pytest

from router.signals import CircuitState, Signals, SignalSettings, percentile


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(**settings: float) -> tuple[Signals, FakeClock, list[tuple[str, CircuitState]]]:
    clock = FakeClock()
    seen: list[tuple[str, CircuitState]] = []
    signals = Signals(
        clock,
        SignalSettings(**settings),  # type: ignore[arg-type]
        on_transition=lambda d, s: seen.append((d, s)),
    )
    return signals, clock, seen


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 0.50) == 10.0
    assert percentile(values, 0.95) == 19.0
    assert percentile(values, 1.0) == 20.0
    assert percentile(values[:3], 0.95, min_samples=5) is None


def test_latency_percentiles_come_from_successes_in_the_window() -> None:
    signals, clock, _ = make(min_samples=3)
    for ttft in (0.1, 0.2, 0.3, 0.4, 5.0):
        signals.record_attempt("d", ok=True, ttft_s=ttft, total_s=ttft * 10)
        clock.now += 1
    signals.record_attempt("d", ok=False, ttft_s=None, total_s=None)
    stats = signals.snapshot().stats("d")
    assert stats.ttft_p50_s == 0.3
    assert stats.ttft_p95_s == 5.0
    assert stats.total_p95_s == 50.0
    assert stats.p95_latency(stream=True) == 5.0
    assert stats.p95_latency(stream=False) == 50.0
    assert stats.attempts == 6
    assert stats.error_rate == pytest.approx(1 / 6)


def test_old_samples_leave_the_window_by_age_and_by_count() -> None:
    signals, clock, _ = make(min_samples=1, window_s=60, window_size=3)
    signals.record_attempt("d", ok=True, ttft_s=9.0)
    clock.now += 30
    for _ in range(3):
        signals.record_attempt("d", ok=True, ttft_s=1.0)
    assert signals.snapshot().stats("d").ttft_p95_s == 1.0  # pushed out by count
    clock.now += 61
    assert signals.snapshot().stats("d").attempts == 0  # aged out, without any new write
    assert signals.snapshot().stats("d").ttft_p95_s is None


def test_unknown_deployment_reads_healthy_and_unmeasured() -> None:
    signals, _, _ = make()
    stats = signals.snapshot().stats("never-seen")
    assert stats.circuit == "closed"
    assert stats.ttft_p95_s is None
    assert signals.may_attempt("never-seen")


def test_circuit_opens_after_consecutive_failures_only() -> None:
    signals, _, seen = make(failure_threshold=3, cool_down_s=10)
    for ok in (False, False, True, False, False):
        signals.record_attempt("d", ok=ok)
    assert signals.circuit("d") == "closed"  # the success reset the count
    signals.record_attempt("d", ok=False)
    assert signals.circuit("d") == "open"
    assert seen == [("d", "open")]
    assert signals.snapshot().stats("d").circuit == "open"
    assert not signals.may_attempt("d")


def test_half_open_lets_one_probe_through_then_closes_on_success() -> None:
    signals, clock, seen = make(failure_threshold=1, cool_down_s=10)
    signals.record_attempt("d", ok=False)
    clock.now += 9.9
    assert not signals.may_attempt("d")
    clock.now += 0.2
    assert signals.snapshot().stats("d").circuit == "half_open"  # decide keeps it in chain
    assert signals.may_attempt("d")  # the probe
    assert not signals.may_attempt("d")  # only one at a time
    signals.record_attempt("d", ok=True)
    assert signals.circuit("d") == "closed"
    assert seen == [("d", "open"), ("d", "half_open"), ("d", "closed")]
    assert signals.may_attempt("d")


def test_failed_probe_reopens_and_restarts_the_cool_down() -> None:
    signals, clock, seen = make(failure_threshold=1, cool_down_s=10)
    signals.record_attempt("d", ok=False)
    clock.now += 10
    assert signals.may_attempt("d")
    signals.record_attempt("d", ok=False)
    assert signals.circuit("d") == "open"
    clock.now += 5
    assert not signals.may_attempt("d")
    assert seen[-1] == ("d", "open")


def test_a_probe_that_never_reports_frees_its_slot_after_a_cool_down() -> None:
    signals, clock, _ = make(failure_threshold=1, cool_down_s=10)
    signals.record_attempt("d", ok=False)
    clock.now += 10
    assert signals.may_attempt("d")
    clock.now += 5
    assert not signals.may_attempt("d")
    clock.now += 5
    assert signals.may_attempt("d")


def test_snapshot_is_immutable_and_reflects_later_writes() -> None:
    signals, _, _ = make(min_samples=1)
    before = signals.snapshot()
    signals.record_attempt("d", ok=True, ttft_s=0.5)
    assert before.stats("d").ttft_p95_s is None
    after = signals.snapshot()
    assert after.stats("d").ttft_p95_s == 0.5
    assert signals.snapshot() is after  # nothing changed: reused
    with pytest.raises(TypeError):
        after.deployments["d"] = before.stats("d")  # type: ignore[index]


def test_output_tokens_ewma_seeds_then_smooths() -> None:
    signals, _, _ = make(ewma_alpha=0.5)
    assert signals.snapshot().expected_output("m", "code") is None
    signals.record_usage("m", "code", 100)
    assert signals.snapshot().expected_output("m", "code") == 100.0
    signals.record_usage("m", "code", 300)
    assert signals.snapshot().expected_output("m", "code") == 200.0
    assert signals.snapshot().expected_output("m", "general") is None


def test_the_summary_kept_as_samples_come_and_go_matches_one_computed_from_the_window() -> None:
    """The sorted latencies and failure count are updated per sample (not re-read from the
    whole window per snapshot): after any mix of attempts, a full window pushing the oldest
    out and samples ageing past ``window_s``, they say what the window itself says."""
    import random

    signals, clock, _ = make(window_size=25, window_s=60.0, min_samples=1, failure_threshold=10**6)
    rng = random.Random(7)
    window: list[tuple[float, bool, float | None, float | None]] = []
    for _ in range(600):
        clock.now += rng.choice((0.1, 1.0, 5.0, 30.0))
        ok = rng.random() < 0.8
        ttft = round(rng.random(), 2) if ok and rng.random() < 0.5 else None  # ties happen
        total = round(rng.random() * 3, 1) if ok and rng.random() < 0.9 else None
        signals.record_attempt("d", ok=ok, ttft_s=ttft, total_s=total)
        window = [*window, (clock.now, ok, ttft, total)][-25:]
        window = [s for s in window if s[0] >= clock.now - 60.0]
        ttfts = sorted(s[2] for s in window if s[1] and s[2] is not None)
        totals = sorted(s[3] for s in window if s[1] and s[3] is not None)
        stats = signals.snapshot().stats("d")
        assert stats.attempts == len(window)
        assert stats.error_rate == pytest.approx(sum(not s[1] for s in window) / len(window))
        assert (stats.ttft_p50_s, stats.ttft_p95_s) == (
            percentile(ttfts, 0.5),
            percentile(ttfts, 0.95),
        )
        assert (stats.total_p50_s, stats.total_p95_s) == (
            percentile(totals, 0.5),
            percentile(totals, 0.95),
        )
