"""What a replay says: share per model before and after, cost (actual, and modelled on both
sides), latency, quality, the routes that change and the requests the candidate would refuse,
each with examples; as a text table or JSON.

Before/after figures are compared on the requests served on both sides, each side modelled
the same way (catalog prices, the log's latency profile), so the difference is the change of
route and nothing else; the actual logged cost is shown beside them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from statistics import fmean
from typing import Any

from router.requestlog.replay import Replay, Replayed, Side

NONE = "(none)"  # refused or failed: no model answered


@dataclass(frozen=True, slots=True)
class Example:
    request_id: str
    time: str
    requested: str
    task: str | None
    before: str
    after: str
    detail: str


@dataclass(frozen=True, slots=True)
class Share:
    model: str
    before: int
    after: int
    actual_cost_usd: float  # logged, for the requests it answered
    expected_cost_usd: float  # modelled, for the requests it would answer


@dataclass(frozen=True, slots=True)
class Compared:
    """One figure on both sides, over the ``n`` requests where both are known."""

    name: str
    n: int
    before: float | None
    after: float | None
    actual: float | None = None  # the logged value, where the log has one


@dataclass(frozen=True, slots=True)
class Group:
    label: str
    count: int
    examples: tuple[Example, ...]


@dataclass(frozen=True, slots=True)
class ReplayReport:
    source: str
    config: str
    requests: int
    shares: tuple[Share, ...]
    figures: tuple[Compared, ...]
    changed: int
    moves: tuple[Group, ...]  # before -> after, largest first
    refused: tuple[Group, ...]  # by the candidate's error code
    newly_served: int  # refused or failed as logged, answered under the candidate
    notes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _name(side: Side) -> str:
    return side.model or NONE


def _example(r: Replayed) -> Example:
    return Example(
        r.request_id, r.time, r.requested, r.task, _name(r.before), _name(r.after), r.detail
    )


def _compare(
    name: str,
    rows: Sequence[Replayed],
    value: Callable[[Side], float | None],
    actual: Callable[[Replayed], float | None] | None = None,
    total: bool = False,
) -> Compared:
    both = [(r, b, a) for r in rows if (b := value(r.before)) is not None
            and (a := value(r.after)) is not None]  # fmt: skip
    if not both:
        return Compared(name, 0, None, None)
    agg: Callable[[list[float]], float] = sum if total else fmean
    logged = [x for r, _, _ in both if actual is not None and (x := actual(r)) is not None]
    return Compared(
        name,
        len(both),
        agg([b for _, b, _ in both]),
        agg([a for _, _, a in both]),
        agg(logged) if logged else None,
    )


def summarise(
    replay: Replay,
    source: str,
    config: str,
    notes: Sequence[str] = (),
    examples: int = 3,
    strong: str | None = None,
) -> ReplayReport:
    """``strong``: the candidate's learned signal's strong model, to name it in the report."""
    rows = replay.requests
    before = Counter(_name(r.before) for r in rows)
    after = Counter(_name(r.after) for r in rows)
    actual: defaultdict[str, float] = defaultdict(float)
    expected: defaultdict[str, float] = defaultdict(float)
    for r in rows:
        actual[_name(r.before)] += r.actual_cost_usd or 0.0
        expected[_name(r.after)] += r.after.cost_usd or 0.0
    models = sorted(set(before) | set(after), key=lambda m: (m == NONE, -after[m], m))
    shares = tuple(Share(m, before[m], after[m], actual[m], expected[m]) for m in models)
    figures = (
        _compare("cost $ (total)", rows, lambda s: s.cost_usd, lambda r: r.actual_cost_usd, True),
        _compare("latency s (mean)", rows, lambda s: s.latency_s, lambda r: r.actual_latency_s),
        _compare("quality, catalog (mean)", rows, lambda s: s.quality),
        _compare(f"P(as good as {strong or 'the strong model'})", rows, lambda s: s.as_good),
    )
    moved: defaultdict[str, list[Replayed]] = defaultdict(list)
    refused: defaultdict[str, list[Replayed]] = defaultdict(list)
    for r in rows:
        if r.refusal is not None:
            refused[r.refusal].append(r)
        elif r.before.model != r.after.model:
            moved[f"{_name(r.before)} -> {_name(r.after)}"].append(r)
    return ReplayReport(
        source=source,
        config=config,
        requests=len(rows),
        shares=shares,
        figures=figures,
        changed=sum(len(v) for v in moved.values()),
        moves=_groups(moved, examples),
        refused=_groups(refused, examples),
        newly_served=sum(1 for r in rows if r.before.model is None and r.after.model),
        notes=tuple(notes),
    )


def _groups(found: dict[str, list[Replayed]], examples: int) -> tuple[Group, ...]:
    ordered = sorted(found.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return tuple(Group(k, len(v), tuple(_example(r) for r in v[:examples])) for k, v in ordered)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def render(report: ReplayReport) -> str:
    n = report.requests
    lines = [f"replayed {n} requests from {report.source} through {report.config}"]
    lines += [f"note: {note}" for note in report.notes]
    lines += ["", f"  {'share per model':<28}{'before':>15}{'after':>15}"
              f"{'actual $':>12}{'expected $':>12}"]  # fmt: skip
    for s in report.shares:
        lines.append(
            f"  {s.model:<28}{s.before:>7} {_pct(s.before, n)}{s.after:>7} {_pct(s.after, n)}"
            f"{s.actual_cost_usd:>12.6f}{s.expected_cost_usd:>12.6f}"
        )
    lines += ["", f"  {'modelled on both sides':<34}{'before':>11}{'after':>11}"
              f"{'change':>9}{'logged':>11}{'requests':>10}"]  # fmt: skip
    for f in report.figures:
        if not f.n:
            continue  # e.g. no learned signal in the candidate: nothing to compare
        digits = 6 if f.name.startswith("cost") else 3
        change = "-"
        if f.before and f.after is not None:
            change = f"{100 * (f.after - f.before) / f.before:+.1f}%"
        lines.append(
            f"  {f.name:<34}{_num(f.before, digits):>11}{_num(f.after, digits):>11}"
            f"{change:>9}{_num(f.actual, digits):>11}{f.n:>10}"
        )
    lines += ["", f"routes that change: {report.changed} of {n} requests"]
    lines += _render_groups(report.moves)
    refusals = sum(g.count for g in report.refused)
    lines += ["", f"refused by the candidate: {refusals} of {n} requests"]
    lines += _render_groups(report.refused)
    if report.newly_served:
        lines += [
            "",
            f"refused or failed as logged, answered by the candidate: {report.newly_served}",
        ]
    return "\n".join(lines)


def _render_groups(groups: Sequence[Group]) -> list[str]:
    out = []
    for g in groups:
        out.append(f"  {g.label}: {g.count}")
        for e in g.examples:
            out.append(
                f"    e.g. {e.request_id} at {e.time} (model {e.requested!r}, task {e.task}): "
                f"{e.detail}"
            )
    return out
