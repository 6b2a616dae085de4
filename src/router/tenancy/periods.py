"""Budget periods on the UTC calendar: the label a period's counter is stored under, and when
it resets. Computed from the wall clock by the caller (replicas' clocks agree to well under
the length of a day; a request at the stroke of midnight may land in either day)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Literal

Period = Literal["day", "month", "total"]
GRACE_MS = 86_400_000  # a period's counter outlives its period by a day (late settlements)


def period_label(period: Period, now: datetime) -> str:
    if period == "total":
        return "total"
    return _label(period, now.year, now.month, now.day)


@functools.lru_cache(maxsize=64)
def _label(period: Period, year: int, month: int, day: int) -> str:
    # Cached: every admission and settlement names its day, and strftime showed in profiles.
    return f"{year:04d}-{month:02d}-{day:02d}" if period == "day" else f"{year:04d}-{month:02d}"


def period_end(period: Period, now: datetime) -> datetime | None:
    """When the period that contains ``now`` ends (the next one starts); ``None`` for total."""
    if period == "day":
        return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    if period == "month":
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        return datetime(year, month, 1, tzinfo=UTC)
    return None


def counter_ttl_ms(period: Period, now: datetime) -> int:
    """How long a period's counter is kept from ``now``: 0 (forever) for total."""
    end = period_end(period, now)
    if end is None:
        return 0
    return int((end - now).total_seconds() * 1000) + GRACE_MS


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
