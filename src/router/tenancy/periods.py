"""Budget periods on the UTC calendar: the label a period's counter is stored under, and when
it resets. Computed from the wall clock by the caller (replicas' clocks agree to well under
the length of a day; a request at the stroke of midnight may land in either day)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Literal

Period = Literal["day", "month", "total"]
GRACE_MS = 86_400_000  # a period's counter outlives its period by a day (late settlements)
_DAY_S = 86_400


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


# The request path names periods from a wall-clock timestamp: what depends only on the UTC
# day is computed once per day (a datetime per admission and settlement showed in profiles).


@functools.lru_cache(maxsize=8)
def _midnight(day: int) -> datetime:
    return datetime.fromtimestamp(day * _DAY_S, UTC)


def label_at(period: Period, ts: float) -> str:
    """``period_label`` for a wall-clock timestamp."""
    if period == "total":
        return "total"
    day = _midnight(int(ts // _DAY_S))
    return _label(period, day.year, day.month, day.day)


@functools.lru_cache(maxsize=8)
def _end_ms(period: Period, day: int) -> int:
    end = period_end(period, _midnight(day))
    assert end is not None
    return int(end.timestamp() * 1000)


def ttl_ms_at(period: Period, ts: float) -> int:
    """``counter_ttl_ms`` for a wall-clock timestamp."""
    if period == "total":
        return 0
    return _end_ms(period, int(ts // _DAY_S)) - int(ts * 1000) + GRACE_MS
