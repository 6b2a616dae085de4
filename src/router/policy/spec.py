"""The ``policies:`` section: raw YAML schema (pydantic, unknown keys refused) and its build into
the frozen runtime objects of ``policy_model`` that ``decide()`` reads without further parsing.

Every problem is reported as a located ``ConfigIssue``; names (models, deployments) are
resolved against the catalog here, once, so the hot path never looks anything up by string
that could be missing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from router.config.catalog import Catalog, Deployment
from router.config.schema import Capability, Entry, Strict, validate
from router.config.yamlsrc import ConfigIssue
from router.policy.decision import CacheMode, CacheSettings, HedgeSettings, RetrySettings
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

TaskName = Literal["code", "reasoning", "general"]
Metric = Literal["cost", "latency", "quality"]
ObjectiveName = Literal["cost", "latency", "quality", "priority"]
Override = Literal["objective", "task", "max_cost"]
Weight = Annotated[float, Field(allow_inf_nan=False)]  # NaN would silently disable a split


def _listify(value: object) -> object:
    return [value] if isinstance(value, str) else value


# One name or a list of names; a single value is read as a list of one (one error message).
TaskList = Annotated[list[TaskName], BeforeValidator(_listify)]
NameList = Annotated[list[str], BeforeValidator(_listify)]


class RangeSpec(Strict):
    min: float | None = Field(None, ge=0, le=1)
    max: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> RangeSpec:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is above 'max'")
        return self


class MatchSpec(Strict):
    task: TaskList | None = None
    team: NameList | None = None
    tags: list[str] | None = Field(None, description="matches when the key has any of them")
    headers: dict[str, str] | None = Field(None, description="exact value, or '*' for present")
    stream: bool | None = None
    tools: bool | None = None
    images: bool | None = None
    json_mode: bool | None = None
    min_prompt_tokens: int | None = Field(None, ge=0)
    max_prompt_tokens: int | None = Field(None, ge=0)
    difficulty: RangeSpec | None = Field(
        None, description="P(the request needs the strong model), from server.difficulty_model"
    )


class ConstraintsSpec(Strict):
    min_quality: float | None = Field(None, ge=0)
    max_p95_latency_s: float | None = Field(None, gt=0)
    max_cost_usd: float | None = Field(None, ge=0)
    max_error_rate: float | None = Field(None, ge=0, le=1)
    require: list[Capability] = Field(default_factory=list)


class RuleSpec(Strict):
    name: str = Field(min_length=1)
    when: MatchSpec | None = None
    candidates: list[str] = Field(min_length=1)
    objective: ObjectiveName | dict[Metric, Weight] = "cost"
    constraints: ConstraintsSpec = ConstraintsSpec()
    split: dict[str, Weight] | None = None
    sticky: bool = False
    fallbacks: list[str] = Field(default_factory=list)
    quality_from: Literal["catalog", "difficulty"] = Field(
        "catalog", description="'difficulty': per-request quality from the learned signal"
    )

    @model_validator(mode="after")
    def _check(self) -> RuleSpec:
        if isinstance(self.objective, dict) and (
            not self.objective
            or any(w < 0 for w in self.objective.values())
            or sum(self.objective.values()) <= 0
        ):
            raise ValueError("objective weights must be >= 0 and not all zero")
        if self.split is not None and any(w < 0 for w in self.split.values()):
            raise ValueError("split weights must be >= 0")
        if self.sticky and self.split is None:
            raise ValueError("'sticky' only applies to a rule with a 'split'")
        return self


class RetrySpec(Strict):
    max_retries: int = Field(1, ge=0, le=10)
    backoff_base_s: float = Field(0.1, ge=0)
    backoff_max_s: float = Field(2.0, ge=0)
    max_retry_after_s: float = Field(10.0, ge=0)


class HedgeSpec(Strict):
    delay_s: float = Field(1.0, gt=0)
    use_p95: bool = False


class CacheSpec(Strict):
    mode: CacheMode = CacheMode.OFF
    ttl_s: int = Field(3600, gt=0)


class DegradeSpec(Strict):
    """Route cheaper while the caller's most-used budget is above ``budget_above`` (0..1)."""

    budget_above: float = Field(gt=0, lt=1, description="e.g. 0.8: above 80% used")
    min_quality: float | None = Field(None, ge=0, description="replaces every rule's floor")
    candidates: NameList | None = Field(None, description="models or deployments kept")

    @model_validator(mode="after")
    def _something(self) -> DegradeSpec:
        if self.min_quality is None and self.candidates is None:
            raise ValueError("degrade needs 'min_quality', 'candidates' or both")
        return self


class PolicyLogSpec(Strict):
    capture: Literal["hash", "prompts"] = Field(
        "hash",
        description="what the request log keeps of prompts and answers: their hash, or the "
        "text itself ('prompts'; lets router replay re-score them)",
    )


class PolicySpec(Strict):
    description: str | None = None
    default: bool = Field(False, description="the policy behind the 'auto' alias")
    aliases: list[str] = Field(default_factory=list)
    select: MatchSpec | None = Field(None, description="applies to alias requests that match")
    overrides: list[Override] = Field(default_factory=list)
    retry: RetrySpec = RetrySpec()
    hedge: HedgeSpec | None = None
    cache: CacheSpec = CacheSpec()
    deadline_s: float | None = Field(None, gt=0)
    default_output_tokens: int = Field(500, gt=0)
    degrade: DegradeSpec | None = Field(None, description="route cheaper as a budget fills")
    log: PolicyLogSpec = PolicyLogSpec()
    rules: list[RuleSpec] = Field(min_length=1)


# -- build: raw spec -> runtime objects ----------------------------------------------------


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
