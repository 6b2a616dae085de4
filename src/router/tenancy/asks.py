"""What one request asks of the counters, and how it settles: store keys, the draws and
leases for a caller's scopes and for the candidate deployments, and the reconciling adjusts.
Pure: no I/O (``admission`` sends these to the store)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from router.config.catalog import Deployment
from router.shapes import Principal
from router.store.counters import Adjust, Draw, Lease, Level, Option, Release
from router.tenancy.headers import Room, rate_headers
from router.tenancy.periods import label_at, period_label, ttl_ms_at
from router.tenancy.rules import Budget, Limit, Scope, Tenancy

NANO_USD = 1_000_000_000  # budgets and spend are counted in integer nano-dollars
PREFIX = "router:{tenancy}:"
WINDOW_MS = 60_000  # rpm and tpm: a minute from the window's first request
LEASE_TTL_MS = 15 * 60_000  # a concurrency slot a crashed replica held comes back after this
SPEND_TTL_MS = 400 * 86_400_000  # a day's spend counters are kept ~13 months


@dataclass(frozen=True, slots=True)
class Candidate:
    """A deployment the decision may use, with what this request is expected to take on it."""

    deployment: Deployment
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Need:
    principal: Principal
    prompt_tokens: int
    candidates: tuple[Candidate, ...]  # the decision's chain, in order


@dataclass(frozen=True, slots=True)
class Skip:
    deployment: str
    reason: str


@dataclass(slots=True)
class Ticket:
    """One admitted request's reservations, to settle when it ends."""

    principal: Principal
    candidates: tuple[Candidate, ...]
    chosen: int = 0
    skipped: tuple[Skip, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    metered: bool = False
    holder: str = ""
    tokens: int = 0  # reserved in the key's and team's tpm windows
    dep_tokens: int = 0  # reserved in the chosen deployment's tpm window
    nano: int = 0  # reserved in each budget
    token_keys: tuple[str, ...] = ()
    budget_keys: tuple[str, ...] = ()
    lease_keys: tuple[str, ...] = ()
    settled: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    """What one counter of an ask stands for."""

    limit: Limit | None = None
    budget: Budget | None = None


def chosen_deployment(ticket: Ticket) -> Deployment | None:
    if not ticket.candidates:
        return None
    return ticket.candidates[min(ticket.chosen, len(ticket.candidates) - 1)].deployment


def counter_key(kind: str, scope: str, name: str) -> str:
    return f"{PREFIX}{kind}:{scope}:{name}"


def budget_key(scope: Scope, budget: Budget, now: datetime) -> str:
    label = period_label(budget.period, now)
    return counter_key(f"budget:{budget.period}:{label}", scope.kind, scope.name)


def budget_id(budget: Budget) -> str:
    return f"{budget.scope}:{budget.name}:{budget.period}"


@dataclass(slots=True)
class ScopeAsk:
    """What a caller's scopes ask: draws then leases, what each stands for (``items``, in
    the same order), and the keys a settlement reconciles."""

    draws: list[Draw]
    leases: list[Lease]
    items: list[Item]
    token_keys: tuple[str, ...]
    budget_keys: tuple[str, ...]


def scope_asks(scopes: Sequence[Scope], holder: str, tokens: int, nano: int, ts: float) -> ScopeAsk:
    """``ts``: the wall clock (seconds), which names each budget's period."""
    draws: list[Draw] = []
    leases: list[Lease] = []
    draw_items: list[Item] = []
    lease_items: list[Item] = []
    token_keys: list[str] = []
    budget_keys: list[str] = []
    for scope in scopes:
        for limit in scope.limits:
            kind = limit.kind
            key = f"{PREFIX}{kind}:{scope.kind}:{scope.name}"
            if kind == "concurrent":
                leases.append(Lease(key, limit.amount, holder, LEASE_TTL_MS))
                lease_items.append(Item(limit=limit))
            elif kind == "rpm":
                draws.append(Draw(key, limit.amount, 1, WINDOW_MS))
                draw_items.append(Item(limit=limit))
            else:
                draws.append(Draw(key, limit.amount, tokens, WINDOW_MS))
                draw_items.append(Item(limit=limit))
                token_keys.append(key)
        for budget in scope.budgets:
            period = budget.period
            key = f"{PREFIX}budget:{period}:{label_at(period, ts)}:{scope.kind}:{scope.name}"
            draws.append(Draw(key, round(budget.usd * NANO_USD), nano, ttl_ms_at(period, ts)))
            draw_items.append(Item(budget=budget))
            budget_keys.append(key)
    draw_items += lease_items
    return ScopeAsk(draws, leases, draw_items, tuple(token_keys), tuple(budget_keys))


def deployment_group(
    limits: Sequence[Limit], name: str, holder: str, tokens: int
) -> tuple[Option, list[Item]]:
    draws: list[Draw] = []
    leases: list[Lease] = []
    draw_items: list[Item] = []
    lease_items: list[Item] = []
    for limit in limits:
        key = counter_key(limit.kind, "deployment", name)
        if limit.kind == "concurrent":
            leases.append(Lease(key, limit.amount, holder, LEASE_TTL_MS))
            lease_items.append(Item(limit=limit))
        else:
            draws.append(Draw(key, limit.amount, 1 if limit.kind == "rpm" else tokens, WINDOW_MS))
            draw_items.append(Item(limit=limit))
    return Option(tuple(draws), tuple(leases)), draw_items + lease_items


def deployment_options(
    tenancy: Tenancy, need: Need, holder: str
) -> tuple[tuple[Option, ...], list[list[Item]]]:
    """The chain's deployments in order, up to the first without a quota (which always
    passes); none at all when the first has no quota."""
    if not tenancy.deployments or not need.candidates:
        return (), []
    options: list[Option] = []
    items: list[list[Item]] = []
    for cand in need.candidates:
        limits = tenancy.deployments.get(cand.deployment.name)
        if not limits:
            if options:
                options.append(Option())
                items.append([])
            break
        tokens = max(1, need.prompt_tokens + cand.output_tokens)
        option, group = deployment_group(limits, cand.deployment.name, holder, tokens)
        options.append(option)
        items.append(group)
    return tuple(options), items


def deployment_adjusts(
    ticket: Ticket, served: Deployment | None, actual: int, tenancy: Tenancy
) -> list[Adjust]:
    chosen = chosen_deployment(ticket)
    out: list[Adjust] = []
    if chosen is not None and any(
        lim.kind == "tpm" for lim in tenancy.deployments.get(chosen.name, ())
    ):
        reserved = max(1, ticket.tokens)
        delta = (
            actual - reserved if served is not None and served.name == chosen.name else -reserved
        )
        out.append(Adjust(counter_key("tpm", "deployment", chosen.name), delta))
    if served is not None and chosen is not None and served.name != chosen.name:
        for lim in tenancy.deployments.get(served.name, ()):
            if lim.kind == "rpm":
                out.append(
                    Adjust(counter_key("rpm", "deployment", served.name), 1, WINDOW_MS, True)
                )
            elif lim.kind == "tpm" and actual:
                out.append(
                    Adjust(counter_key("tpm", "deployment", served.name), actual, WINDOW_MS, True)
                )
    return out


def deployment_releases(ticket: Ticket, tenancy: Tenancy) -> list[Release]:
    chosen = chosen_deployment(ticket)
    if chosen is None:
        return []
    return [
        Release(counter_key("concurrent", "deployment", chosen.name), ticket.holder)
        for lim in tenancy.deployments.get(chosen.name, ())
        if lim.kind == "concurrent"
    ]


def option_tokens(need: Need, option: int | None) -> int:
    """What the chosen deployment's tpm window took (the same sum ``_options`` drew)."""
    if option is None or option >= len(need.candidates):
        return 0
    return max(1, need.prompt_tokens + need.candidates[option].output_tokens)


def rate_limit_headers(items: list[Item], levels: Sequence[Level]) -> dict[str, str]:
    """The tightest rpm and tpm limit as the admission saw them (the least remaining; on a
    tie, the one that resets last)."""
    requests: Room | None = None
    tokens: Room | None = None
    for item, level in zip(items, levels, strict=False):
        limit = item.limit
        if limit is None:
            continue
        kind = limit.kind
        if kind == "concurrent":
            continue
        remaining = limit.amount - level.used
        best = requests if kind == "rpm" else tokens
        if best is None or (remaining, -level.reset_ms) < (best.remaining, -best.reset_ms):
            room = Room(limit.amount, remaining, level.reset_ms)
            if kind == "rpm":
                requests = room
            else:
                tokens = room
    return rate_headers(requests, tokens)


def denies_on_store_error(item: Item) -> bool:
    rule = item.limit or item.budget
    return rule is not None and rule.deny_on_store_error


def rule_label(item: Item) -> str:
    rule = item.limit or item.budget
    return rule.label if rule is not None else "limit"
