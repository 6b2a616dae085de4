"""Microbenchmark of the learned difficulty signal as the server runs it (goal: at most 100 us
per request on an 8 KB prompt), with the shipped ``policies/difficulty.json``.

    .venv/bin/python bench/bench_difficulty.py [ITERATIONS]

Times ``DifficultyModel.score`` as ``classify`` calls it once per request: one pass over the
features for every head, giving both ``difficulty`` and ``difficulty_per_cost`` (with the
shipped catalog's prices bound, as the config loader binds them). Pure Python, no
scikit-learn; thread CPU time, so other processes on a busy machine count less; prompts of
several sizes: real text from the shared RouteLLM data when it is beside the repo, else
generated prose. Exits non-zero when the 8 KB median is over the goal.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

from router.config.load import load_config
from router.policy.difficulty import DifficultyModel

REPO = Path(__file__).resolve().parents[1]
GOAL_US = 100.0


def corpus() -> str:
    shared = Path(os.environ.get("ROUTER_SHARED_DIR") or REPO.parent / "shared")
    judgements = shared / "data" / "routellm" / "mt_bench" / "judgements.jsonl"
    if judgements.exists():
        lines = judgements.read_text(encoding="utf-8").splitlines()
        return "\n".join(json.loads(ln)["user_prompt"] for ln in lines[:40])
    words = "the model reads a prompt and decides which answer would be good enough for it"
    return " ".join(f"{w}{i % 97}" for i, w in enumerate(words.split() * 2000))


def shipped() -> DifficultyModel:
    """The shipped signal as the server holds it: loaded and priced from policies/."""
    model = load_config(REPO / "policies").difficulty
    assert model is not None
    assert model.upgrade is not None
    assert model.upgrade.prices is not None
    return model


def measure(model: DifficultyModel, text: str, iterations: int) -> tuple[float, float]:
    assert model.score(text, "general", len(text) // 4).per_cost is not None
    for _ in range(min(500, iterations)):
        model.score(text, "general", len(text) // 4)
    samples = []
    # CPU time of this thread: other processes on a busy machine do not count against it
    clock = time.thread_time_ns
    for _ in range(iterations):
        start = clock()
        model.score(text, "general", len(text) // 4)
        samples.append(clock() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000


def main() -> int:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    text = corpus()
    model = shipped()
    result = 0.0
    for size in (256, 2048, 8192, 65536):
        prompt = (text * (size // len(text) + 1))[:size]
        median, p99 = measure(model, prompt, iterations)
        print(f"{size:>6} chars: median {median:6.1f} us, p99 {p99:6.1f} us")
        if size == 8192:
            result = median
    verdict = "ok" if result <= GOAL_US else "OVER"
    print(f"8 KB median {result:.1f} us against a goal of {GOAL_US:.0f} us: {verdict}")
    return 0 if result <= GOAL_US else 1


if __name__ == "__main__":
    sys.exit(main())
