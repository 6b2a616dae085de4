"""The ``policies:`` section built: each validated spec (``policy.spec``) into the frozen runtime
objects of ``policy.model`` that ``decide()`` reads without further parsing.

Every problem is reported as a located ``ConfigIssue``; names (models, deployments) are
resolved against the catalog here, once, so the hot path never looks anything up by string
that could be missing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from router.config.catalog import Catalog, Deployment
from router.config.raw import Entry, validate
from router.config.yamlsrc import ConfigIssue
from router.policy.decision import CacheSettings, HedgeSettings, RetrySettings
from router.policy.model import (
    DEFAULT_ALIAS,
    Constraints,
    Degrade,
    Match,
    Objective,
    Policy,
    PolicySet,
    Rule,
    SplitArm,
)
from router.policy.spec import DegradeSpec, MatchSpec, Metric, PolicySpec, RuleSpec


def build_policies(
    entries: Mapping[str, Entry], catalog: Catalog, issues: list[ConfigIssue]
) -> PolicySet:
    """Validate every policy entry and resolve its names against ``catalog``."""
    built: dict[str, Policy] = {}
    for name, entry in entries.items():
        spec = validate(PolicySpec, entry, issues)
        if spec is None:
            continue
        if name in catalog.models or name in catalog.deployments:
            _flag(
                issues,
                entry,
                (),
                f"policy {name!r} has the name of a model",
                "a client's 'model' must mean one thing: rename the policy",
            )
            continue
        rules = tuple(_rule(r, i, entry, catalog, issues) for i, r in enumerate(spec.rules))
        seen: set[str] = set()
        for i, rule in enumerate(spec.rules):
            if rule.name in seen:
                _flag(
                    issues,
                    entry,
                    ("rules", i, "name"),
                    f"rule name {rule.name!r} is used twice in this policy",
                )
            seen.add(rule.name)
        built[name] = Policy(
            name=name,
            rules=tuple(r for r in rules if r is not None),
            aliases=tuple(spec.aliases),
            is_default=spec.default,
            select=_match(spec.select) if spec.select else None,
            overrides=frozenset(spec.overrides),
            retry=RetrySettings(**spec.retry.model_dump()),
            hedge=HedgeSettings(**spec.hedge.model_dump()) if spec.hedge else None,
            cache=CacheSettings(spec.cache.mode, spec.cache.ttl_s),
            deadline_s=spec.deadline_s,
            default_output_tokens=spec.default_output_tokens,
            degrade=_degrade(spec.degrade, entry, catalog, issues),
            capture_prompts=spec.log.capture == "prompts",
            where=str(entry.locate()),
        )
    aliases = _aliases(built, entries, catalog, issues)
    return PolicySet(
        MappingProxyType(built),
        MappingProxyType({a: p for a, p in aliases.items() if not is_pattern(a)}),
        tuple(p for p in built.values() if p.select is not None),
        tuple((a, p) for a, p in aliases.items() if is_pattern(a)),
    )


def is_pattern(alias: str) -> bool:
    """An alias with a wildcard (``claude-*``) matches names rather than being one."""
    return any(c in alias for c in "*?[")


def _aliases(
    built: Mapping[str, Policy],
    entries: Mapping[str, Entry],
    catalog: Catalog,
    issues: list[ConfigIssue],
) -> dict[str, str]:
    aliases: dict[str, str] = {}
    defaults = [p for p in built.values() if p.is_default]
    for extra in defaults[1:]:
        _flag(
            issues,
            entries[extra.name],
            ("default",),
            f"two default policies: {defaults[0].name!r} and {extra.name!r}",
            "mark exactly one policy 'default: true'",
        )
    if defaults:
        aliases[DEFAULT_ALIAS] = defaults[0].name
    for policy in built.values():
        for i, alias in enumerate(policy.aliases):
            taken = aliases.get(alias) or (alias if alias in built else None)
            if taken or alias in catalog.models or alias in catalog.deployments:
                what = f"policy {taken!r}" if taken else "a model"
                _flag(
                    issues,
                    entries[policy.name],
                    ("aliases", i),
                    f"alias {alias!r} is already used by {what}",
                )
                continue
            aliases[alias] = policy.name
    return aliases


def _rule(
    spec: RuleSpec, index: int, entry: Entry, catalog: Catalog, issues: list[ConfigIssue]
) -> Rule | None:
    at = ("rules", index)
    ok = True
    candidates: list[Deployment] = []
    arms: dict[str, frozenset[str]] = {}
    for i, name in enumerate(spec.candidates):
        found = _resolve(name, (*at, "candidates", i), entry, catalog, issues)
        ok = ok and found is not None
        for dep in found or ():
            if dep not in candidates:
                candidates.append(dep)
        arms[name] = frozenset(d.name for d in found or ())
    fallbacks: list[Deployment] = []
    for i, name in enumerate(spec.fallbacks):
        found = _resolve(name, (*at, "fallbacks", i), entry, catalog, issues)
        ok = ok and found is not None
        fallbacks.extend(d for d in found or () if d not in fallbacks)
    split: list[SplitArm] = []
    if spec.split is not None:
        total = sum(spec.split.values())
        for arm, weight in spec.split.items():
            if arm not in arms:
                _flag(
                    issues,
                    entry,
                    (*at, "split", arm),
                    f"split arm {arm!r} is not one of this rule's candidates",
                    f"candidates: {', '.join(spec.candidates)}",
                )
                ok = False
            elif total > 0:
                split.append(SplitArm(arm, weight / total, arms[arm]))
        if total <= 0:
            _flag(issues, entry, (*at, "split"), "split weights are all zero")
            ok = False
    if not ok:
        return None
    return Rule(
        name=spec.name,
        match=_match(spec.when) if spec.when else Match(),
        candidates=tuple(candidates),
        constraints=Constraints(
            min_quality=spec.constraints.min_quality,
            max_p95_latency_s=spec.constraints.max_p95_latency_s,
            max_cost_usd=spec.constraints.max_cost_usd,
            max_error_rate=spec.constraints.max_error_rate,
            require=frozenset(spec.constraints.require),
        ),
        objective=_objective(spec.objective),
        split=tuple(split),
        sticky=spec.sticky,
        fallbacks=tuple(fallbacks),
        where=str(entry.locate(at)),
        quality_by_difficulty=spec.quality_from == "difficulty",
    )


def _degrade(
    spec: DegradeSpec | None, entry: Entry, catalog: Catalog, issues: list[ConfigIssue]
) -> Degrade | None:
    if spec is None:
        return None
    keep: frozenset[str] | None = None
    if spec.candidates is not None:
        found = [
            _resolve(name, ("degrade", "candidates", i), entry, catalog, issues)
            for i, name in enumerate(spec.candidates)
        ]
        keep = frozenset(d.name for deps in found for d in deps or ())
    return Degrade(spec.budget_above, spec.min_quality, keep, tuple(spec.candidates or ()))


def _resolve(
    name: str, at: tuple[str | int, ...], entry: Entry, catalog: Catalog, issues: list[ConfigIssue]
) -> tuple[Deployment, ...] | None:
    """A logical model expands to its deployments in order; a deployment name to itself."""
    model = catalog.models.get(name)
    if model is not None:
        return model.deployments
    dep = catalog.deployments.get(name)
    if dep is not None:
        return (dep,)
    known = [*catalog.models, *catalog.deployments]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    _flag(
        issues,
        entry,
        at,
        f"unknown model or deployment {name!r}",
        f"{hint}models: {', '.join(catalog.models) or '(none)'}",
    )
    return None


def _match(spec: MatchSpec) -> Match:
    return Match(
        tasks=_set(spec.task),
        teams=_set(spec.team),
        tags=frozenset(spec.tags) if spec.tags is not None else None,
        headers=tuple(sorted((k.lower(), v) for k, v in (spec.headers or {}).items())),
        stream=spec.stream,
        tools=spec.tools,
        images=spec.images,
        json_mode=spec.json_mode,
        min_prompt_tokens=spec.min_prompt_tokens,
        max_prompt_tokens=spec.max_prompt_tokens,
        min_difficulty=spec.difficulty.min if spec.difficulty else None,
        max_difficulty=spec.difficulty.max if spec.difficulty else None,
        min_difficulty_per_cost=spec.difficulty_per_cost.min if spec.difficulty_per_cost else None,
        max_difficulty_per_cost=spec.difficulty_per_cost.max if spec.difficulty_per_cost else None,
    )


def _set(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


def _objective(spec: str | dict[Metric, float]) -> Objective:
    if isinstance(spec, str):
        return Objective(spec, () if spec == "priority" else ((spec, 1.0),))
    total = sum(spec.values())
    weights = tuple((m, w / total) for m, w in spec.items() if w > 0)
    if len(weights) == 1:
        return Objective(weights[0][0], ((weights[0][0], 1.0),))
    return Objective("mix", weights)


def _flag(
    issues: list[ConfigIssue],
    entry: Entry,
    sub: tuple[str | int, ...],
    message: str,
    hint: str | None = None,
) -> None:
    issues.append(ConfigIssue(entry.locate(sub), message, hint))
