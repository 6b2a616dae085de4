"""The cost-quality picture of a report, as a PNG (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from router.quality.measure import Point
from router.quality.report import Report


def draw(report: Report, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: CI and servers
    import matplotlib.pyplot as plt

    section = report.overall
    frame = section.frame
    base = frame.strong.cost_usd or 1.0

    def xy(points: Sequence[Point]) -> tuple[list[float], list[float]]:
        xs = [100 * p.cost_usd / base for p in points]
        ys = [100 * frame.quality_ratio(p) for p in points]
        return xs, ys

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    ends = [frame.weak, frame.strong]
    ax.plot(*xy(ends), "--", color="grey", label="random mix")
    for curve in report.curves:
        style = ":" if curve.name == "oracle" else "-"
        xs, ys = xy(sorted(curve.points, key=lambda p: p.cost_usd))
        ax.plot(xs, ys, style, marker="." if style == "-" else None,
                label=f"{curve.name} (APGR {curve.apgr:.3f})")  # fmt: skip
    for p in section.policies:
        x, y = xy([p])
        ax.scatter(x, y, marker="D", zorder=5)
        ax.annotate(p.name.removeprefix("policy "), (x[0], y[0]), textcoords="offset points",
                    xytext=(5, -10), fontsize=8)  # fmt: skip
    for p, label in ((frame.strong, "always strong"), (frame.weak, "always cheap")):
        x, y = xy([p])
        ax.scatter(x, y, marker="s", color="black", zorder=5)
        ax.annotate(label, (x[0], y[0]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.axhline(95, color="green", linewidth=0.6)
    ax.axvline(50, color="green", linewidth=0.6)
    ax.set_xlabel("cost, % of always-strong")
    ax.set_ylabel("quality, % of always-strong")
    ax.set_title(title or f"{report.dataset}: {section.prompts} prompts", fontsize=10)
    fig.text(0.01, 0.01, report.mapping, fontsize=7, color="dimgrey")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
    plt.close(fig)
