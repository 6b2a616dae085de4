"""Scoring a routing: quality, cost, latency, and RouteLLM's performance-gap measures.

* quality: the mean outcome score of the chosen models (refused requests score 0);
* PGR, performance gap recovered: ``(q - q_weak) / (q_strong - q_weak)``;
* APGR, average PGR: the area under PGR against the share of calls to the strong model, from
  0 to 100% of calls (RouteLLM, Ong et al. 2024). A random mix scores 0.5 by construction;
* the random mix "at the same cost" is its expectation, not a draw: sending a share ``p`` of
  requests to the strong model at random costs ``C_weak + p (C_strong - C_weak)`` and scores
  ``q_weak + p (q_strong - q_weak)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from router.quality.simulate import Case


@dataclass(frozen=True, slots=True)
class Point:
    """One routing of a set of prompts, summarised."""

    name: str
    quality: float  # mean score in [0, 1]
    cost_usd: float  # total over the prompts
    strong_share: float  # share of prompts sent to the strong model
    latency_s: float | None  # mean, from the models' latency profiles
    refused: int = 0
    threshold: float | None = None  # the sweep's difficulty bound, where one applies


@dataclass(frozen=True, slots=True)
class Frame:
    """The two ends every other point is measured against."""

    strong: Point
    weak: Point

    def pgr(self, p: Point) -> float:
        gap = self.strong.quality - self.weak.quality
        return (p.quality - self.weak.quality) / gap if gap else 0.0

    def quality_ratio(self, p: Point) -> float:
        return p.quality / self.strong.quality if self.strong.quality else 0.0

    def cost_ratio(self, p: Point) -> float:
        return p.cost_usd / self.strong.cost_usd if self.strong.cost_usd else 0.0

    def random_at_cost(self, cost_usd: float, name: str = "random mix") -> Point:
        span = self.strong.cost_usd - self.weak.cost_usd
        share = min(1.0, max(0.0, (cost_usd - self.weak.cost_usd) / span)) if span else 0.0
        return Point(
            name,
            self.weak.quality + share * (self.strong.quality - self.weak.quality),
            self.weak.cost_usd + share * span,
            share,
            _mix(self.weak.latency_s, self.strong.latency_s, share),
        )


def _mix(a: float | None, b: float | None, share: float) -> float | None:
    return None if a is None or b is None else a + share * (b - a)


def point(name: str, cases: Sequence[Case], choices: Sequence[str | None], strong: str) -> Point:
    n = len(cases)
    quality = cost = latency = 0.0
    refused = to_strong = 0
    timed = True
    for case, model in zip(cases, choices, strict=True):
        if model is None:
            refused += 1
            continue
        quality += case.outcome.scores[model]
        cost += case.cost[model]
        to_strong += model == strong
        lat = case.latency[model]
        if lat is None:
            timed = False
        else:
            latency += lat
    served = n - refused
    return Point(
        name,
        quality / n if n else 0.0,
        cost,
        to_strong / n if n else 0.0,
        latency / served if timed and served else None,
        refused,
    )


def always(cases: Sequence[Case], model: str, strong: str, name: str) -> Point:
    return point(name, cases, [model] * len(cases), strong)


def oracle(cases: Sequence[Case], strong: str, weak: str) -> Point:
    """The cheap model wherever it is as good, else the strong one."""
    picks = [weak if c.outcome.cheap_is_enough(strong, weak) else strong for c in cases]
    return point("oracle", cases, picks, strong)


def threshold_sweep(
    cases: Sequence[Case], strong: str, weak: str, thresholds: Sequence[float]
) -> list[Point]:
    """The learned signal alone: the cheap model when difficulty <= t, for every t."""
    out = []
    for t in thresholds:
        picks = [
            weak if c.features.difficulty is not None and c.features.difficulty <= t else strong
            for c in cases
        ]
        p = point(f"difficulty <= {t:.2f}", cases, picks, strong)
        out.append(Point(p.name, p.quality, p.cost_usd, p.strong_share, p.latency_s, 0, t))
    return out


def per_cost_sweep(
    cases: Sequence[Case], strong: str, weak: str, thresholds: Sequence[float]
) -> list[Point]:
    """The signal's gain per extra cost alone: the strong model when it is >= t (a request
    without one stays on the cheap model), for every t."""
    out = []
    for t in thresholds:
        picks = [
            strong
            if c.features.difficulty_per_cost is not None and c.features.difficulty_per_cost >= t
            else weak
            for c in cases
        ]
        p = point(f"difficulty_per_cost >= {t:.3f}", cases, picks, strong)
        out.append(Point(p.name, p.quality, p.cost_usd, p.strong_share, p.latency_s, 0, t))
    return out


def oracle_curve(cases: Sequence[Case], strong: str, weak: str, steps: int = 20) -> list[Point]:
    """The best possible router at each share of strong calls: the prompts where the strong
    model gains most go to it first."""
    order = sorted(
        range(len(cases)),
        key=lambda i: cases[i].outcome.scores[weak] - cases[i].outcome.scores[strong],
    )
    out = []
    for k in range(steps + 1):
        chosen = set(order[: round(k * len(cases) / steps)])
        picks = [strong if i in chosen else weak for i in range(len(cases))]
        out.append(point(f"oracle {k}/{steps}", cases, picks, strong))
    return out


def apgr(frame: Frame, curve: Sequence[Point]) -> float:
    """Area under PGR over the strong-call share in [0, 1], with the two ends (all cheap:
    PGR 0; all strong: PGR 1) added; trapezoids between points sorted by share."""
    pts = sorted(
        [(0.0, 0.0), (1.0, 1.0), *((p.strong_share, frame.pgr(p)) for p in curve)],
    )
    area = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        area += (x1 - x0) * (y0 + y1) / 2
    return area


def beats_random(frame: Frame, curve: Sequence[Point]) -> tuple[int, float]:
    """How many curve points score at or below the random mix at the same cost, and the
    smallest margin (quality above random) over the points strictly inside the two ends."""
    inside = [p for p in curve if frame.weak.cost_usd < p.cost_usd < frame.strong.cost_usd]
    margins = [p.quality - frame.random_at_cost(p.cost_usd).quality for p in inside]
    losses = sum(1 for m in margins if m <= 0)
    return losses, min(margins, default=0.0)
