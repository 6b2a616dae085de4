"""OpenAI's rate-limit headers, from the caller's tightest limits as the admission saw them:
``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` and, on a refusal, ``retry-after``.
Durations are written as OpenAI writes them (``250ms``, ``12s``, ``1m30s``)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Room:
    """One limit's state: how much it allows, how much is left, when its window ends."""

    limit: int
    remaining: int
    reset_ms: int


def rate_headers(requests: Room | None, tokens: Room | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for kind, room in (("requests", requests), ("tokens", tokens)):
        if room is None:
            continue
        out[f"x-ratelimit-limit-{kind}"] = str(room.limit)
        out[f"x-ratelimit-remaining-{kind}"] = str(max(room.remaining, 0))
        out[f"x-ratelimit-reset-{kind}"] = duration(room.reset_ms)
    return out


def retry_after(ms: int) -> str:
    """Whole seconds, at least 1: clients read Retry-After as an integer."""
    return str(max(1, math.ceil(ms / 1000)))


def duration(ms: int) -> str:
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    minutes, rest = divmod(ms, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"
