"""``router demo --traffic N``: a bounded, mixed sample workload and what it cost.

The mix cycles through code, reasoning and general prompts on ``auto``, streams, and one
question asked again and again of the cached ``cheap`` policy (the first answer is stored, the
rest are cache hits). Requests per model and cache use come from each answer's headers; cost,
baseline cost and savings from router's own ``/metrics`` before and after, so the table shows
what router accounted, streams included.
"""

from __future__ import annotations

import concurrent.futures
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from prometheus_client.parser import text_string_to_metric_families

from router.demo.client import ChatAnswer, ChatClient

MAX_REQUESTS = 10_000
CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class Item:
    kind: str
    model: str
    prompt: str  # "{i}" is replaced by the request's number, so prompts differ
    stream: bool = False


MIX: tuple[Item, ...] = (
    Item("code", "auto", "Write a function that reverses a list (variant {i})"),
    Item("general", "auto", "Suggest a name for a cat, idea number {i}."),
    Item("reasoning", "auto", "Prove step by step that {i} + 1 is greater than {i}."),
    Item("code, streamed", "auto", "Fix this bug: ```def f(x): return x +``` (case {i})", True),
    Item("general, streamed", "auto", "Write a short poem about the sea, take {i}.", True),
    Item("cache repeat", "cheap", "What is the capital of France?"),
)


def workload(count: int) -> Iterator[tuple[int, Item]]:
    for i in range(count):
        yield i, MIX[i % len(MIX)]


@dataclass(frozen=True, slots=True)
class Spend:
    """Dollar totals read from ``/metrics``, per logical model."""

    cost: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    baseline_model: str | None = None
    avoided: float = 0.0

    def minus(self, before: Spend) -> Spend:
        return Spend(
            {m: v - before.cost.get(m, 0.0) for m, v in self.cost.items()},
            {m: v - before.baseline.get(m, 0.0) for m, v in self.baseline.items()},
            self.baseline_model or before.baseline_model,
            self.avoided - before.avoided,
        )


def read_spend(metrics_url: str) -> Spend:
    with urllib.request.urlopen(metrics_url, timeout=10) as response:  # noqa: S310 (our router)
        text = response.read().decode()
    cost: dict[str, float] = {}
    baseline: dict[str, float] = {}
    baseline_model = None
    avoided = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "router_cost_usd_total":
                cost[s.labels["model"]] = cost.get(s.labels["model"], 0.0) + s.value
            elif s.name == "router_baseline_cost_usd_total":
                model = s.labels["model"]
                baseline[model] = baseline.get(model, 0.0) + s.value
                baseline_model = s.labels["baseline"]
            elif s.name == "router_cache_avoided_cost_usd_total":
                avoided += s.value
    return Spend(cost, baseline, baseline_model, avoided)


@dataclass(frozen=True, slots=True)
class TrafficReport:
    answers: list[tuple[Item, ChatAnswer]]
    spend: Spend

    def per_model(self) -> Counter[str]:
        return Counter(a.model or f"error {a.status}" for _, a in self.answers)

    @property
    def cache_hits(self) -> int:
        return sum(1 for _, a in self.answers if a.cache == "hit")

    @property
    def repeats(self) -> int:
        return sum(1 for item, _ in self.answers if item.kind == "cache repeat")

    @property
    def errors(self) -> int:
        return sum(1 for _, a in self.answers if a.status != 200)


def run_traffic(
    base_url: str, key: str | None, count: int, progress: Callable[[int, int], None]
) -> TrafficReport:
    """Send ``count`` requests (at most MAX_REQUESTS), CONCURRENCY at a time."""
    count = max(0, min(count, MAX_REQUESTS))
    client = ChatClient(base_url, key)
    metrics_url = base_url.removesuffix("/").removesuffix("/v1") + "/metrics"
    before = read_spend(metrics_url)
    answers: list[tuple[Item, ChatAnswer]] = []
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        futures = {
            pool.submit(client.chat, item.model, item.prompt.format(i=i), stream=item.stream): item
            for i, item in workload(count)
        }
        progress(0, count)
        for done in concurrent.futures.as_completed(futures):
            answers.append((futures[done], done.result()))
            progress(len(answers), count)
    return TrafficReport(answers, read_spend(metrics_url).minus(before))


class ProgressBar:
    """``[#####-----] 50/100`` on one line of a terminal; a line per tenth elsewhere."""

    def __init__(self, out: TextIO, label: str, width: int = 30) -> None:
        self._out = out
        self._label = label
        self._width = width
        self._tty = out.isatty()
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if not self._tty and tenth == self._shown and done != total:
            return
        self._shown = tenth
        filled = done * self._width // max(total, 1)
        bar = "#" * filled + "-" * (self._width - filled)
        end = "\n" if done == total or not self._tty else ""
        self._out.write(f"\r{self._label} [{bar}] {done}/{total}{end}")
        self._out.flush()


def render(report: TrafficReport) -> str:
    spend = report.spend
    rows = [("model", "requests", "cost $", "baseline $", "saved $")]
    total_cost = total_base = 0.0
    per_model = report.per_model()
    for model, n in sorted(per_model.items(), key=lambda kv: -kv[1]):
        cost = spend.cost.get(model, 0.0)
        base = spend.baseline.get(model, 0.0)
        total_cost, total_base = total_cost + cost, total_base + base
        rows.append((model, str(n), _usd(cost), _usd(base), _usd(base - cost)))
    rows.append(
        (
            "total",
            str(sum(per_model.values())),
            _usd(total_cost),
            _usd(total_base),
            _usd(total_base - total_cost),
        )
    )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if c == 0 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    baseline = spend.baseline_model or "no baseline configured"
    share = (total_base - total_cost) / total_base * 100 if total_base > 0 else 0.0
    lines.append("")
    saved = total_base - total_cost
    lines.append(f"savings vs the baseline ({baseline}): ${saved:.6f} ({share:.0f}%)")
    lines.append(
        f"cache hits: {report.cache_hits} of {report.repeats} repeated questions"
        f" (avoided ${spend.avoided:.6f})"
    )
    lines.append(f"errors: {report.errors}")
    return "\n".join(lines)


def _usd(value: float) -> str:
    return f"{value:.6f}"
