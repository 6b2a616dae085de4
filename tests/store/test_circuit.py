from __future__ import annotations

from router.store.circuit import Circuit


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_closed_circuit_admits_normal_calls() -> None:
    circuit = Circuit(1.0, FakeClock())
    assert circuit.closed
    assert circuit.admit() is False


def test_failure_skips_calls_until_cooldown_then_admits_one_probe() -> None:
    clock = FakeClock()
    circuit = Circuit(1.0, clock)
    circuit.failed(False, "get: timeout")
    assert not circuit.closed
    assert circuit.admit() is None
    clock.now += 1.0
    assert circuit.admit() is True
    assert circuit.admit() is None  # only one probe at a time
    circuit.succeeded(True)
    assert circuit.closed
    assert circuit.last_error == ""


def test_failed_probe_reopens_for_another_cooldown() -> None:
    clock = FakeClock()
    circuit = Circuit(1.0, clock)
    circuit.failed(False, "first")
    clock.now += 1.0
    assert circuit.admit() is True
    circuit.failed(True, "second")
    assert circuit.admit() is None
    assert circuit.last_error == "second"
    clock.now += 1.0
    assert circuit.admit() is True


def test_abandoned_probe_lets_the_next_call_probe() -> None:
    clock = FakeClock()
    circuit = Circuit(1.0, clock)
    circuit.failed(False, "x")
    clock.now += 1.0
    assert circuit.admit() is True
    circuit.abandoned(True)
    assert circuit.admit() is True


def test_health_hook_hears_each_change_once() -> None:
    clock = FakeClock()
    heard: list[tuple[bool, str]] = []
    circuit = Circuit(1.0, clock, lambda ok, error: heard.append((ok, error)))
    circuit.succeeded(False)  # healthy and staying so: nothing to say
    circuit.failed(False, "get: timeout")
    clock.now += 1.0
    assert circuit.admit() is True
    circuit.failed(True, "get: ConnectionError")  # still down: no second event
    clock.now += 1.0
    assert circuit.admit() is True
    circuit.succeeded(True)
    assert heard == [(False, "get: timeout"), (True, "")]
