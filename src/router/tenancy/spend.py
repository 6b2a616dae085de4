"""Where the money went: spend counters per day, team, key and model, read back as rows and
summed into tables (``GET /v1/router/spend``, ``router spend``).

Each UTC day is one field counter in the store (``{prefix}spend:YYYY-MM-DD``) whose fields are
``<measure>\\t<team>\\t<key>\\t<model>``; measures: ``req`` (requests), ``in`` and ``out``
(tokens), ``usd`` (nano-dollars). With Redis (AOF on, as the compose file runs it) the counters
survive a router restart; the embedded memory store keeps them for one process's life.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from router.store import Store
from router.tenancy.asks import NANO_USD, PREFIX

MAX_DAYS = 400
GROUPS = ("day", "team", "key", "model")
_MEASURES = {"req": "requests", "in": "input_tokens", "out": "output_tokens", "usd": "usd"}


@dataclass(slots=True)
class SpendRow:
    day: str
    team: str
    key: str
    model: str
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    nano_usd: int = 0

    @property
    def usd(self) -> float:
        return self.nano_usd / NANO_USD

    def as_json(self) -> dict[str, object]:
        return {
            "day": self.day,
            "team": self.team or None,
            "key": self.key,
            "model": self.model or None,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "usd": round(self.usd, 9),
        }


def days(start: date, end: date) -> list[str]:
    if end < start:
        raise ValueError("'from' is after 'to'")
    count = (end - start).days + 1
    if count > MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days at once")
    return [(start + timedelta(days=i)).isoformat() for i in range(count)]


async def read_spend(store: Store, day_labels: Sequence[str]) -> list[SpendRow]:
    keys = [f"{PREFIX}spend:{d}" for d in day_labels]
    rows: list[SpendRow] = []
    for day, found in zip(day_labels, await store.fields(keys), strict=True):
        by_where: dict[tuple[str, str, str], SpendRow] = {}
        for name, value in found.items():
            measure, _, where = name.partition("\t")
            team, key, model = [*where.split("\t"), "", "", ""][:3]
            row = by_where.get((team, key, model))
            if row is None:
                row = by_where[(team, key, model)] = SpendRow(day, team, key, model)
            if measure == "req":
                row.requests += value
            elif measure == "in":
                row.input_tokens += value
            elif measure == "out":
                row.output_tokens += value
            elif measure == "usd":
                row.nano_usd += value
        rows.extend(sorted(by_where.values(), key=lambda r: (r.team, r.key, r.model)))
    return rows


def group(rows: Iterable[SpendRow], by: Sequence[str]) -> list[SpendRow]:
    """Sum rows over the fields not in ``by`` (those read as empty in the result)."""
    unknown = set(by) - set(GROUPS)
    if unknown:
        raise ValueError(f"cannot group by {', '.join(sorted(unknown))}: use {', '.join(GROUPS)}")
    out: dict[tuple[str, ...], SpendRow] = {}
    for row in rows:
        day, team, key, model = (str(getattr(row, g)) if g in by else "" for g in GROUPS)
        acc = out.get((day, team, key, model))
        if acc is None:
            acc = out[(day, team, key, model)] = SpendRow(day, team, key, model)
        acc.requests += row.requests
        acc.input_tokens += row.input_tokens
        acc.output_tokens += row.output_tokens
        acc.nano_usd += row.nano_usd
    return sorted(out.values(), key=lambda r: (-r.nano_usd, r.day, r.team, r.key, r.model))


def table(rows: Sequence[dict[str, object]], by: Sequence[str]) -> str:
    """Rows as ``GET /v1/router/spend`` returns them, as a plain text table with a total."""
    headers = [*by, "requests", "input_tokens", "output_tokens", "usd"]
    cells = [[_cell(r.get(h)) for h in headers] for r in rows]
    total = ["total", *[""] * (len(by) - 1)] if by else []
    total += [
        str(sum(int(str(r.get(k) or 0)) for r in rows))
        for k in ("requests", "input_tokens", "output_tokens")
    ]
    total.append(f"{sum(float(str(r.get('usd') or 0)) for r in rows):.6f}")
    widths = [max(len(x) for x in col) for col in zip(headers, *cells, total, strict=True)]
    lines = [headers, *cells, total]
    return "\n".join(
        "  ".join(c.ljust(w) if i < len(by) else c.rjust(w) for i, (c, w) in
                  enumerate(zip(line, widths, strict=True))).rstrip()
        for line in lines
    ) + "\n"  # fmt: skip


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)
