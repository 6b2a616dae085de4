"""Microbenchmark of ``decide()`` on the shipped policies (goal: median under 50 us).

    .venv/bin/python bench/bench_decide.py [ITERATIONS]

Prints median and p99 per request shape, timing ``decide()`` alone (features and the signal
snapshot are computed once, as the pipeline does before calling it), then ``classify()``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # the catalog must not fetch

from router.config.load import load_config
from router.policy.classify import classify
from router.policy.decide import DecisionInput, decide
from router.shapes import ANONYMOUS, Principal
from router.signals import Signals
from router.wire import ChatRequest

POLICIES = Path(__file__).resolve().parents[1] / "policies"


def request(text: str, model: str = "auto", **fields: object) -> ChatRequest:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **fields}
    return ChatRequest.model_validate(body)


def measure(fn: Callable[[], object], iterations: int) -> tuple[float, float]:
    for _ in range(min(1000, iterations)):
        fn()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        fn()
        samples.append(clock() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    config = load_config(POLICIES)
    now = [0.0]
    signals = Signals(lambda: now[0])
    for dep in config.catalog.deployments:  # some live latency so latency math runs
        for i in range(20):
            signals.record_attempt(dep, ok=True, ttft_s=0.2 + i / 100, total_s=1.0 + i / 50)
    snapshot = signals.snapshot()
    shapes = {
        "code (priority)": (request("Fix this bug: ```def f(x): return x +```"), {}, ANONYMOUS),
        "general (cost)": (request("Suggest a name for a cat."), {}, ANONYMOUS),
        "reasoning (mix)": (request("Prove step by step that 2 is prime."), {}, ANONYMOUS),
        "team select": (request("Hello"), {}, Principal("k", team="research")),
        "A/B sticky split": (
            request("Hello", user="u-1"),
            {"x-experiment": "sonnet-ab"},
            ANONYMOUS,
        ),
        "direct model": (request("Hello", model="gpt-4o"), {}, ANONYMOUS),
    }
    print(f"decide() on {POLICIES} ({iterations} iterations each)")
    print(f"{'request':<20} {'median us':>10} {'p99 us':>10}")
    medians = []
    for name, (chat, headers, principal) in shapes.items():
        features = classify(chat)

        def run(chat=chat, features=features, headers=headers, principal=principal) -> object:  # type: ignore[no-untyped-def]
            return decide(DecisionInput(chat, features, principal, headers, config.policies,
                                        config.catalog, snapshot, 0.42))  # fmt: skip

        median, p99 = measure(run, iterations)
        medians.append(median)
        print(f"{name:<20} {median:>10.1f} {p99:>10.1f}")
    worst = max(medians)
    print(f"worst median {worst:.1f} us: {'OK' if worst < 50 else 'ABOVE'} the 50 us goal")
    chat = shapes["code (priority)"][0]
    median, p99 = measure(lambda: classify(chat), iterations)
    print(f"classify() short prompt: median {median:.1f} us, p99 {p99:.1f} us")
    long_chat = request("Please look at this function and tell me why it fails. " * 150)
    median, p99 = measure(lambda: classify(long_chat), iterations // 10 or 1)
    print(f"classify() ~8 KB prompt: median {median:.1f} us, p99 {p99:.1f} us")
    median, p99 = measure(signals.snapshot, iterations)
    print(f"Signals.snapshot() cached: median {median:.2f} us, p99 {p99:.2f} us")


if __name__ == "__main__":
    main()
