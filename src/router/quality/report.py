"""``router eval``'s report: every policy of a config and the four reference routings
(always strong, always cheap, a random mix at each policy's cost, the oracle) over outcome
data, the threshold sweeps of the learned signal (``difficulty``, and ``difficulty_per_cost``
where the file has cost heads) and of each policy with such a condition, per-benchmark
breakdowns, and the task classifier's confusion matrix on MT-Bench.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from router.config.load import Config
from router.offline import Progress
from router.quality.measure import (
    Frame,
    Point,
    always,
    apgr,
    beats_random,
    oracle,
    oracle_curve,
    per_cost_sweep,
    point,
    threshold_sweep,
)
from router.quality.outcomes import Dataset
from router.quality.simulate import Case, route_policy, swept_bound

STEPS = 40  # sweep points: every 2.5% of requests sent to the strong model
# MT-Bench's categories as router's task classes (the mapping).
CATEGORY_TASK = {"coding": "code", "math": "reasoning", "reasoning": "reasoning"}
TASKS = ("code", "reasoning", "general")


@dataclass(frozen=True, slots=True)
class Curve:
    name: str
    points: tuple[Point, ...]
    apgr: float
    losses_to_random: int  # points at or below the random mix of the same cost
    min_margin: float  # smallest quality margin over random, inside the two ends


@dataclass(frozen=True, slots=True)
class Section:
    """One set of prompts (all, or one benchmark) and its rows."""

    name: str
    prompts: int
    frame: Frame
    oracle: Point
    policies: tuple[Point, ...]
    rules: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Confusion:
    """Task classifier against MT-Bench's labelled categories (rows: expected)."""

    prompts: int
    matrix: dict[str, dict[str, int]]
    accuracy: float


@dataclass(frozen=True, slots=True)
class Report:
    dataset: str
    mapping: str
    dropped: dict[str, int]
    split: str
    overall: Section
    benchmarks: tuple[Section, ...]
    curves: tuple[Curve, ...]
    confusion: Confusion | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    dataset: Dataset,
    cases: Sequence[Case],
    config: Config,
    policies: Sequence[str],
    split: str,
    seed: int,
    tick: Progress | None = None,
    confusion_cases: Sequence[Case] = (),
) -> Report:
    strong, weak = dataset.strong, dataset.weak
    routed = [route_policy(cases, p, config, dataset.models, seed, tick) for p in policies]
    sections = [_section("all prompts", cases, range(len(cases)), routed, strong, weak)]
    for bench in sorted({c.outcome.benchmark for c in cases}):
        idx = [i for i, c in enumerate(cases) if c.outcome.benchmark == bench]
        sections.append(_section(bench, cases, idx, routed, strong, weak))
    frame = sections[0].frame
    curves = []
    bounds = {
        "max_difficulty": thresholds(cases),
        "min_difficulty_per_cost": per_cost_bounds(cases),
    }
    if bounds["max_difficulty"]:
        pts = threshold_sweep(cases, strong, weak, bounds["max_difficulty"])
        curves.append(_curve("difficulty signal", frame, pts))
    if bounds["min_difficulty_per_cost"]:
        pts = per_cost_sweep(cases, strong, weak, bounds["min_difficulty_per_cost"])
        curves.append(_curve("difficulty_per_cost signal", frame, pts))
    for name in policies:
        swept = swept_bound(config, name)
        if swept is None or not bounds[swept]:
            continue
        label = "difficulty<=" if swept == "max_difficulty" else "difficulty_per_cost>="
        pts = []
        for t in bounds[swept]:
            r = route_policy(cases, name, config, dataset.models, seed, tick, t)
            p = point(f"{name} {label}{t:.3f}", cases, r.choices, strong)
            pts.append(Point(p.name, p.quality, p.cost_usd, p.strong_share, p.latency_s,
                             p.refused, t))  # fmt: skip
        curves.append(_curve(f"policy {name}", frame, pts))
    curves.append(_curve("oracle", frame, oracle_curve(cases, strong, weak)))
    return Report(
        dataset=dataset.name,
        mapping=dataset.mapping_note(),
        dropped=dict(dataset.dropped),
        split=split,
        overall=sections[0],
        benchmarks=tuple(sections[1:]),
        curves=tuple(curves),
        confusion=confusion(confusion_cases) if confusion_cases else None,
    )


def thresholds(cases: Sequence[Case], steps: int = STEPS) -> list[float]:
    """Difficulty bounds that send 0, 1/steps, ... 100% of the requests to the strong model:
    the sweep covers every cost level evenly, whatever the signal's distribution."""
    ds = sorted(c.features.difficulty for c in cases if c.features.difficulty is not None)
    if not ds:
        return []
    n = len(ds)
    out = []
    for k in range(steps + 1):
        strong = round(k * n / steps)
        out.append(ds[n - strong - 1] if strong < n else -1.0)  # -1: nothing is easy enough
    return sorted(set(out), reverse=True)


def per_cost_bounds(cases: Sequence[Case], steps: int = STEPS) -> list[float]:
    """Lower bounds of difficulty_per_cost that send 0, 1/steps, ... 100% of the requests to
    the strong model (the first above every value: none)."""
    found = (c.features.difficulty_per_cost for c in cases)
    vs = sorted((v for v in found if v is not None), reverse=True)
    if not vs:
        return []
    n = len(vs)
    out = []
    for k in range(steps + 1):
        strong = round(k * n / steps)
        out.append(vs[strong - 1] if strong else vs[0] + 1.0)
    return sorted(set(out), reverse=True)


def _section(
    name: str,
    cases: Sequence[Case],
    idx: Sequence[int],
    routed: Sequence[Any],
    strong: str,
    weak: str,
) -> Section:
    sub = [cases[i] for i in idx]
    frame = Frame(
        always(sub, strong, strong, f"always {strong} (strong)"),
        always(sub, weak, strong, f"always {weak} (cheap)"),
    )
    rows = tuple(
        point(f"policy {r.policy}", sub, [r.choices[i] for i in idx], strong) for r in routed
    )
    return Section(
        name,
        len(sub),
        frame,
        oracle(sub, strong, weak),
        rows,
        {r.policy: dict(r.rules) for r in routed} if len(idx) == len(cases) else {},
    )


def _curve(name: str, frame: Frame, pts: Sequence[Point]) -> Curve:
    losses, margin = beats_random(frame, pts)
    return Curve(name, tuple(pts), apgr(frame, pts), losses, margin)


def confusion(cases: Sequence[Case]) -> Confusion:
    matrix = {t: dict.fromkeys(TASKS, 0) for t in TASKS}
    for c in cases:
        category = c.outcome.category
        if category is None:
            continue
        matrix[CATEGORY_TASK.get(category, "general")][c.features.task] += 1
    total = sum(sum(row.values()) for row in matrix.values())
    right = sum(matrix[t][t] for t in TASKS)
    return Confusion(total, matrix, right / total if total else 0.0)


# -- text ----------------------------------------------------------------------------------


def render(report: Report) -> str:
    lines = [
        f"data: {report.dataset}; {report.split}",
        f"{report.mapping} (a stand-in for those models, not a measurement of them)",
    ]
    if report.dropped:
        lines.append("dropped: " + ", ".join(f"{k} {v}" for k, v in report.dropped.items()))
    for section in (report.overall, *report.benchmarks):
        lines += ["", *_table(section)]
    for curve in report.curves:
        lines.append("")
        lines.append(
            f"sweep {curve.name}: APGR {curve.apgr:.3f} (random mix 0.500); "
            f"{len(curve.points)} points, {curve.losses_to_random} at or below the random "
            f"mix of the same cost; smallest margin over random {curve.min_margin:+.4f}"
        )
    if report.confusion is not None:
        lines += ["", *_confusion(report.confusion)]
    return "\n".join(lines)


def _table(section: Section) -> list[str]:
    f = section.frame
    head = (
        f"{section.name} ({section.prompts} prompts)\n"
        f"  {'routing':44} {'quality':>8} {'%strong q':>9} {'cost $':>10} {'%strong $':>9} "
        f"{'->strong':>8} {'PGR':>6} {'latency':>8}"
    )
    rows = [head]
    others = [f.strong, f.weak, section.oracle]
    for p in section.policies:
        others.append(p)
        others.append(f.random_at_cost(p.cost_usd, f"  random mix at the cost of {p.name[7:]}"))
    for p in others:
        lat = f"{p.latency_s:7.2f}s" if p.latency_s is not None else "     n/a"
        refused = f"  ({p.refused} refused)" if p.refused else ""
        rows.append(
            f"  {p.name:44} {p.quality:8.4f} {100 * f.quality_ratio(p):8.1f}% "
            f"{p.cost_usd:10.4f} {100 * f.cost_ratio(p):8.1f}% {100 * p.strong_share:7.1f}% "
            f"{f.pgr(p):6.3f} {lat}{refused}"
        )
    for policy, rules in section.rules.items():
        rows.append(f"  rules of {policy}: " + ", ".join(f"{k} {v}" for k, v in rules.items()))
    return rows


def _confusion(c: Confusion) -> list[str]:
    corner = "expected \\ classified"
    rows = [
        f"task classifier on MT-Bench ({c.prompts} prompts; coding -> code, math and "
        f"reasoning -> reasoning, the rest -> general): accuracy {100 * c.accuracy:.1f}%",
        f"  {corner:22}" + "".join(f"{t:>11}" for t in TASKS),
    ]
    for want in TASKS:
        rows.append(f"  {want:22}" + "".join(f"{c.matrix[want][got]:>11}" for got in TASKS))
    return rows
