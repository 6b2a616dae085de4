"""The ``auth:`` section (and deployments' ``limits:``) as the runtime rules tenancy enforces,
built once per config load and checked against the catalog and the policies.

A caller is governed by its key's rules and its team's rules together: a request must pass
both (access, every limit, every budget). A deployment's limits model the provider's quota.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Protocol

from router.config.catalog import Catalog
from router.config.raw import Entry
from router.config.schema import AllowSpec, AuthSpec, BudgetSpec, LimitSpec
from router.config.yamlsrc import ConfigIssue, PathKey
from router.shapes import Principal

ScopeKind = Literal["key", "team", "deployment"]
LimitKind = Literal["rpm", "tpm", "concurrent"]
NameKind = Literal["policy", "alias", "model", "deployment"]
_LIMIT_KINDS: tuple[LimitKind, ...] = ("rpm", "tpm", "concurrent")


@dataclass(frozen=True, slots=True)
class Limit:
    scope: ScopeKind
    name: str
    kind: LimitKind
    amount: int
    deny_on_store_error: bool

    @property
    def label(self) -> str:
        return f"{self.scope} {self.name!r} {self.kind} limit of {self.amount}"


@dataclass(frozen=True, slots=True)
class Budget:
    scope: ScopeKind
    name: str
    usd: float
    period: Literal["day", "month", "total"]
    deny_on_store_error: bool

    @property
    def label(self) -> str:
        per = {"day": "daily", "month": "monthly", "total": "total"}[self.period]
        return f"{self.scope} {self.name!r} {per} budget of ${self.usd:g}"


@dataclass(frozen=True, slots=True)
class Allow:
    """Names a caller may send as ``model``, by kind."""

    policies: frozenset[str]
    aliases: frozenset[str]
    models: frozenset[str]
    deployments: frozenset[str]

    def permits(self, kind: NameKind, name: str) -> bool:
        return name in self._of(kind)

    def _of(self, kind: NameKind) -> frozenset[str]:
        return {
            "policy": self.policies,
            "alias": self.aliases,
            "model": self.models,
            "deployment": self.deployments,
        }[kind]

    def describe(self) -> str:
        parts = [
            f"{label} {', '.join(sorted(names))}"
            for label, names in (
                ("policies", self.policies),
                ("aliases", self.aliases),
                ("models", self.models),
                ("deployments", self.deployments),
            )
            if names
        ]
        return "; ".join(parts) or "nothing"


@dataclass(frozen=True, slots=True)
class Scope:
    """One key's or team's rules."""

    kind: ScopeKind
    name: str
    allow: Allow | None = None
    limits: tuple[Limit, ...] = ()
    budgets: tuple[Budget, ...] = ()


@dataclass(frozen=True, slots=True)
class Tenancy:
    keys: Mapping[str, Scope]
    teams: Mapping[str, Scope]
    deployments: Mapping[str, tuple[Limit, ...]]

    def scopes(self, principal: Principal) -> tuple[Scope, ...]:
        """The caller's own rules, then its team's; the master key has none."""
        if principal.is_master:
            return ()
        out = []
        key = self.keys.get(principal.name)
        if key is not None:
            out.append(key)
        team = self.teams.get(principal.team) if principal.team else None
        if team is not None:
            out.append(team)
        return tuple(out)

    @property
    def counts(self) -> bool:
        """True when anything is counted in the store (a limit or a budget anywhere)."""
        scopes = (*self.keys.values(), *self.teams.values())
        return bool(self.deployments) or any(s.limits or s.budgets for s in scopes)


EMPTY_TENANCY = Tenancy(MappingProxyType({}), MappingProxyType({}), MappingProxyType({}))


def build_tenancy(
    auth: AuthSpec,
    catalog: Catalog,
    policies: frozenset[str],
    aliases: frozenset[str],
    entry: Entry | None,
    issues: list[ConfigIssue],
) -> Tenancy:
    """Runtime rules from the validated section; unknown names and duplicates are issues."""
    known: dict[NameKind, frozenset[str]] = {
        "policy": policies,
        "alias": aliases,
        "model": frozenset(catalog.models),
        "deployment": frozenset(catalog.deployments),
    }

    def issue(path: PathKey, message: str, hint: str | None = None) -> None:
        if entry is not None:
            issues.append(ConfigIssue(entry.locate(path), message, hint))

    keys: dict[str, Scope] = {}
    hashes: dict[str, str] = {}
    for i, spec in enumerate(auth.keys):
        where: PathKey = ("keys", i)
        if spec.name in keys:
            issue((*where, "name"), f"key name {spec.name!r} is used twice")
            continue
        if spec.hash is not None:
            if spec.hash in hashes:
                issue(
                    (*where, "hash"),
                    f"key {spec.name!r} has the same hash as {hashes[spec.hash]!r}",
                )
            hashes[spec.hash] = spec.name
        allow = _allow(spec.allow, (*where, "allow"), known, issue)
        budgets = _budgets("key", spec.name, spec.budgets, (*where, "budgets"), issue)
        keys[spec.name] = Scope(
            "key", spec.name, allow, _limits("key", spec.name, spec.limits), budgets
        )
    teams: dict[str, Scope] = {}
    for name, team in auth.teams.items():
        where = ("teams", name)
        allow = _allow(team.allow, (*where, "allow"), known, issue)
        budgets = _budgets("team", name, team.budgets, (*where, "budgets"), issue)
        teams[name] = Scope("team", name, allow, _limits("team", name, team.limits), budgets)
    deployments = {
        dep.name: limits
        for dep in catalog.deployments.values()
        if (limits := _limits("deployment", dep.name, dep.limits))
    }
    return Tenancy(MappingProxyType(keys), MappingProxyType(teams), MappingProxyType(deployments))


def _limits(scope: ScopeKind, name: str, spec: LimitSpec | None) -> tuple[Limit, ...]:
    if spec is None:
        return ()
    deny = spec.on_store_error == "deny"
    return tuple(
        Limit(scope, name, kind, amount, deny)
        for kind in _LIMIT_KINDS
        if (amount := getattr(spec, kind)) is not None
    )


def _budgets(
    scope: ScopeKind, name: str, specs: list[BudgetSpec], where: PathKey, issue: _Issue
) -> tuple[Budget, ...]:
    out: list[Budget] = []
    for i, spec in enumerate(specs):
        if any(b.period == spec.period for b in out):
            issue((*where, i, "period"), f"{scope} {name!r} has two {spec.period} budgets")
            continue
        out.append(Budget(scope, name, spec.usd, spec.period, spec.on_store_error == "deny"))
    return tuple(out)


def _allow(
    spec: AllowSpec | None,
    where: PathKey,
    known: Mapping[NameKind, frozenset[str]],
    issue: _Issue,
) -> Allow | None:
    if spec is None:
        return None
    fields: tuple[tuple[str, NameKind, list[str]], ...] = (
        ("policies", "policy", spec.policies),
        ("aliases", "alias", spec.aliases),
        ("models", "model", spec.models),
        ("deployments", "deployment", spec.deployments),
    )
    for field, kind, names in fields:
        for j, name in enumerate(names):
            if name not in known[kind]:
                issue(
                    (*where, field, j),
                    f"allow: unknown {kind} {name!r}",
                    f"{field}: {', '.join(sorted(known[kind])) or '(none)'}",
                )
    return Allow(
        frozenset(spec.policies),
        frozenset(spec.aliases),
        frozenset(spec.models),
        frozenset(spec.deployments),
    )


class _Issue(Protocol):
    """``build_tenancy``'s issue reporter, as its helpers see it."""

    def __call__(self, path: PathKey, message: str, hint: str | None = None) -> None: ...


def budget_table(tenancy: Tenancy) -> list[tuple[str, str, str, float]]:
    """Every configured budget as (scope, name, period, usd), for the budget-limit gauge."""
    scopes = (*tenancy.keys.values(), *tenancy.teams.values())
    return [(b.scope, b.name, b.period, b.usd) for s in scopes for b in s.budgets]
