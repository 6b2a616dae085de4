"""What a refusal says: the 429 a client gets when a limit or budget stops its request, and
the reason a deployment at its quota is skipped. Pure: admission reports the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from router.errors import BudgetExceeded, RateLimited, RouterError
from router.store.counters import Level, Verdict
from router.tenancy import asks
from router.tenancy.asks import Need, Skip
from router.tenancy.headers import duration, retry_after
from router.tenancy.periods import iso, period_end
from router.tenancy.rules import Limit


@dataclass(frozen=True, slots=True)
class Skipped:
    """A candidate deployment passed over at its quota, and which kind of limit it hit."""

    skip: Skip
    deployment: str
    limit: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """The error to raise and, for a key or team rule, the rule (scope, name, limit label)."""

    error: RouterError
    rule: tuple[str, str, str] | None


def quota_reached(limit: Limit, level: Level) -> str:
    when = f", resets in {duration(level.reset_ms)}" if level.reset_ms else ""
    return f"deployment {limit.kind} limit of {limit.amount} reached ({level.used} in use{when})"


def skip(
    option_items: list[list[asks.Item]], need: Need, option: int, item: int, level: Level
) -> Skipped:
    dep = need.candidates[option].deployment.name
    limit = option_items[option][item].limit
    assert limit is not None
    return Skipped(Skip(dep, quota_reached(limit, level)), dep, limit.kind)


def refusal(
    skips: list[Skip],
    verdict: Verdict,
    items: list[asks.Item],
    headers: dict[str, str],
    tokens: int,
    nano: int,
    now: datetime,
) -> Refusal:
    """The 429 for a verdict that admitted nothing; ``skips`` are the deployments at their
    quota when no key or team rule blocked it."""
    if verdict.blocked is None:  # every candidate deployment is at its quota
        wait = min((s.level.reset_ms for s in verdict.skipped if s.level.reset_ms), default=0)
        listing = "; ".join(f"{s.deployment}: {s.reason}" for s in skips)
        error = RateLimited(
            f"every candidate deployment is at its limit: {listing}",
            headers={**headers, "retry-after": retry_after(wait)},
        )
        return Refusal(error, None)
    item = items[verdict.blocked]
    level = verdict.levels[verdict.blocked]
    if item.budget is not None:
        budget = item.budget
        end = period_end(budget.period, now)
        resets = "a total budget never resets"
        if end is not None:
            resets = f"it resets at {iso(end)}"
            ms = int((end - now).total_seconds() * 1000)
            headers = {**headers, "retry-after": retry_after(ms)}
        error = BudgetExceeded(
            f"Budget exceeded: the {budget.label} has ${level.used / asks.NANO_USD:.6f} used "
            f"and this request is estimated at ${nano / asks.NANO_USD:.6f}; {resets}",
            headers=headers,
        )
        return Refusal(error, (budget.scope, budget.name, f"budget_{budget.period}"))
    limit = item.limit
    assert limit is not None
    if limit.kind == "concurrent":
        what, then = f"{level.used} requests in flight", "retry when one ends"
    elif limit.kind == "tpm":
        what = f"{level.used} tokens used, this request needs ~{tokens}"
        then = f"resets in {duration(level.reset_ms)}"
    else:
        what = f"{level.used} requests in this window"
        then = f"resets in {duration(level.reset_ms)}"
    error = RateLimited(
        f"Rate limit reached: the {limit.label} ({what}); {then}",
        headers={**headers, "retry-after": retry_after(level.reset_ms)},
    )
    return Refusal(error, (limit.scope, limit.name, limit.kind))
