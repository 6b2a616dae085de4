"""Policies as ``decide()`` reads them: frozen runtime objects, built once from the raw
``policies:`` section by ``policy_spec.build_policies``; nothing here parses or looks up names.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from router.config.catalog import Deployment
from router.policy.decision import CacheSettings, HedgeSettings, RetrySettings

if TYPE_CHECKING:
    from router.policy.classify import Features
    from router.shapes import Principal

DEFAULT_ALIAS = "auto"


def flags_allow(wanted: tuple[bool | None, ...], got: tuple[bool | None, ...]) -> bool:
    """Every flag that is wanted (not ``None``) has the value wanted."""
    return all(want is None or want == value for want, value in zip(wanted, got, strict=True))


@dataclass(frozen=True, slots=True)
class Match:
    """Conditions on one request; ``None`` / empty means "any". Lists match any member."""

    tasks: frozenset[str] | None = None
    teams: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    headers: tuple[tuple[str, str], ...] = ()  # lower-cased names; value "*" = present
    stream: bool | None = None
    tools: bool | None = None
    images: bool | None = None
    json_mode: bool | None = None
    min_prompt_tokens: int | None = None
    max_prompt_tokens: int | None = None
    min_difficulty: float | None = None  # the learned signal; no signal -> no match
    max_difficulty: float | None = None
    # the learned signal's predicted quality gain per extra cost of the strong model, relative
    # to the average request's (1.0: what a random mix buys); no signal or prices -> no match
    min_difficulty_per_cost: float | None = None
    max_difficulty_per_cost: float | None = None

    def matches(
        self, task: str, features: Features, principal: Principal, headers: Mapping[str, str]
    ) -> bool:
        if self.tasks is not None and task not in self.tasks:
            return False
        if self.teams is not None and principal.team not in self.teams:
            return False
        if self.tags is not None and self.tags.isdisjoint(principal.tags):
            return False
        for name, want in self.headers:
            got = headers.get(name)
            if got is None or (want != "*" and got != want):
                return False
        asked = (features.stream, features.has_tools, features.has_images, features.wants_json)
        if not flags_allow(self.flags, asked):
            return False
        tokens = features.prompt_tokens
        if self.min_prompt_tokens is not None and tokens < self.min_prompt_tokens:
            return False
        if self.max_prompt_tokens is not None and tokens > self.max_prompt_tokens:
            return False
        return _within(features.difficulty, self.min_difficulty, self.max_difficulty) and (
            _within(
                features.difficulty_per_cost,
                self.min_difficulty_per_cost,
                self.max_difficulty_per_cost,
            )
        )

    @property
    def flags(self) -> tuple[bool | None, ...]:
        """stream, tools, images, json_mode: each required, refused, or ``None`` (any)."""
        return (self.stream, self.tools, self.images, self.json_mode)

    @property
    def uses_difficulty(self) -> bool:
        return self.min_difficulty is not None or self.max_difficulty is not None

    @property
    def uses_difficulty_per_cost(self) -> bool:
        return self.min_difficulty_per_cost is not None or self.max_difficulty_per_cost is not None

    @property
    def catch_all(self) -> bool:
        return self == Match()


@dataclass(frozen=True, slots=True)
class Constraints:
    min_quality: float | None = None
    max_p95_latency_s: float | None = None
    max_cost_usd: float | None = None
    max_error_rate: float | None = None
    require: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Objective:
    """``cost`` / ``latency`` / ``quality`` (one metric), ``mix`` (normalised weights summing
    to 1), or ``priority`` (the candidates' listed order)."""

    name: str
    weights: tuple[tuple[str, float], ...]

    @property
    def label(self) -> str:
        if self.name != "mix":
            return self.name
        return ",".join(f"{m}={w:.2f}" for m, w in self.weights)


@dataclass(frozen=True, slots=True)
class SplitArm:
    name: str  # as written in the rule's candidates
    weight: float  # normalised: the arms of a rule sum to 1
    deployments: frozenset[str]


def _within(value: float | None, low: float | None, high: float | None) -> bool:
    """An inclusive range; a bound on a value the request lacks never matches."""
    if low is None and high is None:
        return True
    return value is not None and (low is None or value >= low) and (high is None or value <= high)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    match: Match
    candidates: tuple[Deployment, ...]
    constraints: Constraints
    objective: Objective
    split: tuple[SplitArm, ...] = ()
    sticky: bool = False
    fallbacks: tuple[Deployment, ...] = ()
    where: str = ""  # file:line:column, for the checker
    quality_by_difficulty: bool = False  # scale quality gaps by the learned signal


@dataclass(frozen=True, slots=True)
class Degrade:
    """While the caller's most-used budget is above ``above`` (a fraction), every rule of the
    policy uses ``min_quality`` as its floor and keeps only the ``keep`` deployments."""

    above: float
    min_quality: float | None = None
    keep: frozenset[str] | None = None  # deployment names
    named: tuple[str, ...] = ()  # as config names them, for explain

    def describe(self, use: float, budget: str) -> str:
        what = [f"min_quality {self.min_quality:g}"] if self.min_quality is not None else []
        what += [f"candidates {', '.join(self.named)}"] if self.named else []
        return f"{budget} {use:.0%} used > {self.above:.0%}: {', '.join(what)}"

    def narrow(self, rule: Rule) -> Rule:
        """``rule`` as it applies while degraded; candidates it would lose entirely stay."""
        kept = rule.candidates
        if self.keep is not None:
            kept = tuple(d for d in rule.candidates if d.name in self.keep) or rule.candidates
        floor = rule.constraints.min_quality
        if self.min_quality is not None:
            floor = self.min_quality
        constraints = dataclasses.replace(rule.constraints, min_quality=floor)
        return dataclasses.replace(rule, candidates=kept, constraints=constraints)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    rules: tuple[Rule, ...]
    aliases: tuple[str, ...] = ()
    is_default: bool = False
    select: Match | None = None
    overrides: frozenset[str] = frozenset()
    retry: RetrySettings = field(default_factory=RetrySettings)
    hedge: HedgeSettings | None = None
    cache: CacheSettings = field(default_factory=CacheSettings)
    deadline_s: float | None = None
    default_output_tokens: int = 500
    degrade: Degrade | None = None
    capture_prompts: bool = False  # the request log keeps prompt and answer text, not hashes
    where: str = ""


@dataclass(frozen=True, slots=True)
class PolicySet:
    policies: Mapping[str, Policy]
    aliases: Mapping[str, str]  # alias -> policy name ("auto" -> the default policy)
    selectors: tuple[Policy, ...]  # policies with a 'select', in definition order
    # Alias patterns (``claude-*``), in definition order: (pattern, policy name). They name
    # what clients send that is no policy, alias or model (Claude Code's model ids).
    patterns: tuple[tuple[str, str], ...] = ()

    def pattern_for(self, name: str) -> str | None:
        """The policy of the first alias pattern that ``name`` matches, if any."""
        for pattern, policy in self.patterns:
            if fnmatch.fnmatchcase(name, pattern):
                return policy
        return None

    @property
    def degrading(self) -> bool:
        """Some policy routes cheaper as a budget fills (so decisions need budget use)."""
        return any(p.degrade is not None for p in self.policies.values())

    def difficulty_rules(self) -> list[tuple[str, int]]:
        """(policy, rule index) of every rule that uses the learned signal."""
        return [
            (p.name, i)
            for p in self.policies.values()
            for i, r in enumerate(p.rules)
            if r.match.uses_difficulty
            or r.match.uses_difficulty_per_cost
            or r.quality_by_difficulty
        ]

    def per_cost_rules(self) -> list[tuple[str, int]]:
        """(policy, rule index) of every rule with a ``difficulty_per_cost`` condition."""
        return [
            (p.name, i)
            for p in self.policies.values()
            for i, r in enumerate(p.rules)
            if r.match.uses_difficulty_per_cost
        ]


EMPTY_POLICIES = PolicySet(MappingProxyType({}), MappingProxyType({}), ())
