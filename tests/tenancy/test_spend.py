"""Spend counters: what settlement records per day, team, key and model, read back as rows,
grouped, and printed as the table ``router spend`` shows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from router.shapes import Principal, Usage
from router.store import MemoryStore
from router.tenancy.admission import Admission
from router.tenancy.asks import Candidate, Need
from router.tenancy.spend import days, group, read_spend, table
from support.tenancy_units import Recorder, config_from

DAY1 = 1_781_524_800.0  # 2026-06-15T12:00:00Z
DAY2 = DAY1 + 86_400


async def test_settlements_add_up_per_day_team_key_and_model(tmp_path: Path) -> None:
    config = config_from(tmp_path, "")
    store = MemoryStore()
    now = [DAY1]
    adm = Admission(store, Recorder(), wall_clock=lambda: now[0])
    small = config.catalog.deployments["small@a"]
    big = config.catalog.deployments["big@a"]
    alice, bob = Principal("alice", "plat"), Principal("bob")

    async def run(who: Principal, dep: object, usage: Usage, usd: float) -> None:
        assert dep is small or dep is big
        ticket = await adm.admit(config.tenancy, Need(who, 1, (Candidate(dep, 1, 0.0),)))
        adm.settle(ticket, dep, usage, usd, config.tenancy)

    await run(alice, small, Usage(10, 5), 0.25)
    await run(alice, small, Usage(20, 5), 0.5)
    await run(alice, big, Usage(1, 1), 1.0)
    await run(bob, small, Usage(3, 4), 0.125)
    now[0] = DAY2
    await run(alice, small, Usage(1, 1), 2.0)
    await adm.aclose()

    rows = await read_spend(store, days(date(2026, 6, 15), date(2026, 6, 16)))
    got = {(r.day, r.team, r.key, r.model): (r.requests, r.input_tokens, r.output_tokens, r.usd)
           for r in rows}  # fmt: skip
    assert got == {
        ("2026-06-15", "plat", "alice", "small"): (2, 30, 10, 0.75),
        ("2026-06-15", "plat", "alice", "big"): (1, 1, 1, 1.0),
        ("2026-06-15", "", "bob", "small"): (1, 3, 4, 0.125),
        ("2026-06-16", "plat", "alice", "small"): (1, 1, 1, 2.0),
    }
    by_team = {(r.team, r.usd) for r in group(rows, ["team"])}
    assert by_team == {("plat", 3.75), ("", 0.125)}
    by_model_day = [(r.model, r.day, r.requests) for r in group(rows, ["model", "day"])]
    assert by_model_day == [
        ("small", "2026-06-16", 1),
        ("big", "2026-06-15", 1),
        ("small", "2026-06-15", 3),
    ]
    text = table([r.as_json() for r in group(rows, ["team", "key"])], ["team", "key"])
    lines = text.splitlines()
    assert lines[0].split() == ["team", "key", "requests", "input_tokens", "output_tokens", "usd"]
    assert lines[1].split() == ["plat", "alice", "4", "32", "12", "3.750000"]
    assert lines[-1].split() == ["total", "5", "35", "16", "3.875000"]


def test_day_ranges_are_bounded() -> None:
    assert days(date(2026, 2, 27), date(2026, 3, 1)) == ["2026-02-27", "2026-02-28", "2026-03-01"]
    with pytest.raises(ValueError, match="after"):
        days(date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(ValueError, match="at most 400"):
        days(date(2025, 1, 1), date(2026, 6, 1))
    with pytest.raises(ValueError, match="cannot group by colour"):
        group([], ["colour"])
