"""``router check`` and ``router explain``: validate a config without starting anything, run
the test cases it carries, and show the whole decision for one request.

``check`` reports, as ``file:line:column: message`` with a hint: everything ``load_config``
refuses (syntax, unknown keys, types, unknown models), plus what only a whole-policy view finds
(rules that can never fire, constraints no candidate can meet), then runs the ``tests:``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TextIO

from pydantic import Field, ValidationError

from router.config.catalog import Catalog
from router.config.load import Config, load_config
from router.config.schema import TASK_CLASSES, Entry, Strict, validate
from router.config.yamlsrc import ConfigError, ConfigIssue
from router.errors import RouterError
from router.policy.classify import MESSAGE_OVERHEAD_TOKENS, classify
from router.policy.decide import DecisionInput, decide
from router.policy.decision import explain
from router.policy.model import Match, Rule, flags_allow
from router.shapes import ANONYMOUS, Principal
from router.signals import DeploymentStats, SignalSnapshot
from router.wire import ChatRequest, parse_chat_request


class CaseKeySpec(Strict):
    """The caller a test case pretends to be (``auth.keys`` entries are ``schema.KeySpec``)."""

    name: str = "test"
    team: str | None = None
    tags: list[str] = Field(default_factory=list)


class SignalsSpec(Strict):
    open: list[str] = Field(default_factory=list, description="deployments with open circuits")
    p95_s: dict[str, float] = Field(default_factory=dict, description="p95 TTFT and total")
    error_rate: dict[str, float] = Field(default_factory=dict)


class ExpectSpec(Strict):
    policy: str | None = None
    rule: str | None = None
    model: str | None = None
    deployment: str | None = None
    task: str | None = None
    chain: list[str] | None = None
    error: int | None = Field(None, description="expected HTTP status")
    message_contains: str | None = None


class TestCaseSpec(Strict):
    name: str
    request: dict[str, Any]
    headers: dict[str, str] = Field(default_factory=dict)
    key: CaseKeySpec | None = None
    signals: SignalsSpec = SignalsSpec()
    roll: float = Field(0.0, ge=0, lt=1)
    difficulty: float | None = Field(
        None, ge=0, le=1, description="pin the learned signal's value instead of scoring"
    )
    expect: ExpectSpec


def load_checked(path: Path) -> Config:
    """``load_config`` plus the whole-policy lint: what ``router check`` accepts."""
    config = load_config(path)
    issues = lint_policies(config)
    if issues:
        raise ConfigError(issues)
    return config


def try_load(path: Path) -> Config | ConfigError:
    """For hot reload: the new config, or the error to log while keeping the old one."""
    try:
        return load_checked(path)
    except ConfigError as exc:
        return exc


def check_main(path: Path, out: TextIO) -> int:
    """Exit status: 0 when the config loads, lints clean and every test passes; else 1."""
    try:
        config = load_checked(path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=out)
        print(f"{len(exc.issues)} problem(s) in {path}", file=out)
        return 1
    failures = 0
    for entry in config.raw.tests:
        problem = run_test(entry, config)
        label = entry.data.get("name", entry.name) if isinstance(entry.data, dict) else entry.name
        if problem is None:
            print(f"PASS {entry.locate()}: {label}", file=out)
        else:
            failures += 1
            print(f"FAIL {problem}", file=out)
    tests = len(config.raw.tests)
    policies = len(config.policies.policies)
    print(
        f"{'ok' if not failures else 'FAILED'}: {len(config.catalog.models)} models, "
        f"{policies} policies, {tests - failures}/{tests} tests passed",
        file=out,
    )
    return 1 if failures else 0


def explain_main(
    path: Path,
    request_json: str,
    headers: dict[str, str],
    out: TextIO,
    *,
    principal: Principal = ANONYMOUS,
    roll: float = 0.0,
) -> int:
    """Print the decision for one request as JSON (no upstream call, no live signals)."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(exc, file=out)
        return 2
    try:
        chat = parse_chat_request(
            request_json.encode(), max_messages=config.server.max_messages
        ).chat
        features = classify(chat, config.difficulty)
        lowered = {k.lower(): v for k, v in headers.items()}
        decision = decide(
            DecisionInput(
                chat,
                features,
                principal,
                lowered,
                config.policies,
                config.catalog,
                SignalSnapshot(),
                roll,
            )
        )
    except RouterError as exc:
        print(json.dumps({"status": exc.status, **exc.body()}, indent=2), file=out)
        return 1
    print(explain(decision), file=out)
    return 0


# -- test cases ---------------------------------------------------------------------------


def run_test(entry: Entry, config: Config) -> ConfigIssue | None:
    """Run one test case; ``None`` when it passes, else a located failure."""
    issues: list[ConfigIssue] = []
    case = validate(TestCaseSpec, entry, issues)
    if case is None:
        return issues[0]
    try:
        chat = ChatRequest.model_validate(case.request)
    except ValidationError as exc:
        return ConfigIssue(entry.locate(("request",)), f"{case.name}: invalid request: {exc}")
    key = case.key or CaseKeySpec()
    principal = Principal(key.name, key.team, frozenset(key.tags))
    headers = {k.lower(): v for k, v in case.headers.items()}
    snapshot = _snapshot(case.signals)
    want = case.expect
    features = classify(chat, config.difficulty)
    if case.difficulty is not None:
        features = dataclasses.replace(features, difficulty=case.difficulty)
    try:
        decision = decide(
            DecisionInput(
                chat,
                features,
                principal,
                headers,
                config.policies,
                config.catalog,
                snapshot,
                case.roll,
            )
        )
    except RouterError as exc:
        if want.error is None:
            return _fail(entry, case, f"expected a decision, got {exc.status}: {exc.message}")
        if exc.status != want.error:
            return _fail(entry, case, f"expected error {want.error}, got {exc.status}")
        if want.message_contains and want.message_contains not in exc.message:
            return _fail(
                entry, case, f"error message lacks {want.message_contains!r}: {exc.message}"
            )
        return None
    if want.error is not None:
        return _fail(entry, case, f"expected error {want.error}, got {decision.reason}")
    got = {
        "policy": decision.policy,
        "rule": decision.rule,
        "model": decision.model,
        "deployment": decision.chain[0].deployment.name,
        "task": decision.task,
        "chain": [c.deployment.name for c in decision.chain],
    }
    for field, expected in want.model_dump(exclude_none=True).items():
        if field in got and got[field] != expected:
            return _fail(
                entry,
                case,
                f"expected {field} {expected!r}, got {got[field]!r} ({decision.reason})",
            )
    return None


def _fail(entry: Entry, case: TestCaseSpec, message: str) -> ConfigIssue:
    return ConfigIssue(entry.locate(("expect",)), f"{case.name}: {message}")


def _snapshot(spec: SignalsSpec) -> SignalSnapshot:
    names = {*spec.open, *spec.p95_s, *spec.error_rate}
    stats = {}
    for name in names:
        p95 = spec.p95_s.get(name)
        stats[name] = DeploymentStats(
            circuit="open" if name in spec.open else "closed",
            attempts=100,
            error_rate=spec.error_rate.get(name, 0.0),
            ttft_p50_s=p95,
            ttft_p95_s=p95,
            total_p50_s=p95,
            total_p95_s=p95,
        )
    return SignalSnapshot(stats)


# -- lint: what only a whole-policy view finds --------------------------------------------


def lint_policies(config: Config) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    entries = config.raw.named.get("policies", {})
    for policy in config.policies.policies.values():
        entry = entries[policy.name]
        for i, rule in enumerate(policy.rules):
            at = ("rules", i)
            never = never_true(rule.match)
            if never:
                issues.append(
                    ConfigIssue(
                        entry.locate((*at, "when")), f"rule {rule.name!r} can never match: {never}"
                    )
                )
            for earlier in policy.rules[:i]:
                if covers(earlier.match, rule.match):
                    issues.append(
                        ConfigIssue(
                            entry.locate(at),
                            f"rule {rule.name!r} is unreachable: rule {earlier.name!r} "
                            f"({earlier.where}) matches every request it would",
                            f"move {rule.name!r} above {earlier.name!r}, or narrow "
                            f"{earlier.name!r}'s 'when'",
                        )
                    )
                    break
            issues.extend(_impossible(rule, config.catalog, entry, at))
    return issues


def never_true(match: Match) -> str | None:
    if match.tasks is not None and not match.tasks:
        return "an empty task list"
    if match.teams is not None and not match.teams:
        return "an empty team list"
    if match.tags is not None and not match.tags:
        return "an empty tag list"
    lo, hi = match.min_prompt_tokens, match.max_prompt_tokens
    if lo is not None and hi is not None and lo > hi:
        return f"min_prompt_tokens {lo} > max_prompt_tokens {hi}"
    return None


def covers(a: Match, b: Match) -> bool:
    """True when every request that ``b`` matches is also matched by ``a``."""

    def within(outer: frozenset[str] | None, inner: frozenset[str] | None) -> bool:
        return outer is None or (inner is not None and inner <= outer)

    if not (within(a.tasks, b.tasks) and within(a.teams, b.teams) and within(a.tags, b.tags)):
        return False
    b_headers = dict(b.headers)
    for name, want in a.headers:
        if name not in b_headers or (want != "*" and b_headers[name] != want):
            return False
    if not flags_allow(a.flags, b.flags):
        return False
    ranges = (
        (a.min_prompt_tokens, a.max_prompt_tokens, b.min_prompt_tokens, b.max_prompt_tokens),
        (a.min_difficulty, a.max_difficulty, b.min_difficulty, b.max_difficulty),
    )
    for a_lo, a_hi, b_lo, b_hi in ranges:
        if a_lo is not None and (b_lo is None or b_lo < a_lo):
            return False
        if a_hi is not None and (b_hi is None or b_hi > a_hi):
            return False
    return True


def _impossible(
    rule: Rule, catalog: Catalog, entry: Entry, at: tuple[str | int, ...]
) -> list[ConfigIssue]:
    """Constraints that no candidate can meet for any request the rule matches."""
    out: list[ConfigIssue] = []
    c = rule.constraints
    models = {d.logical_model: catalog.models[d.logical_model] for d in rule.candidates}
    where = (*at, "constraints")
    if c.min_quality is not None:
        for task in sorted(rule.match.tasks or TASK_CLASSES):
            best = max((m.quality_for(task) or 0.0 for m in models.values()), default=0.0)
            if best < c.min_quality:
                out.append(
                    ConfigIssue(
                        entry.locate((*where, "min_quality")),
                        f"min_quality {c.min_quality:g} is above every candidate's {task} quality "
                        f"(best {best:g})",
                        "lower the floor, or add a better candidate",
                    )
                )
    if c.max_cost_usd is not None:
        prompt = max(rule.match.min_prompt_tokens or 0, MESSAGE_OVERHEAD_TOKENS + 1)
        cheapest = min(d.price.cost(prompt, 1) for d in rule.candidates)
        if cheapest > c.max_cost_usd:
            out.append(
                ConfigIssue(
                    entry.locate((*where, "max_cost_usd")),
                    f"max_cost_usd {c.max_cost_usd:g} is below the cheapest possible request "
                    f"(${cheapest:.8f})",
                )
            )
    needed = set(c.require)
    needed |= {
        cap
        for cap, flag in (
            ("tools", rule.match.tools),
            ("vision", rule.match.images),
            ("json_mode", rule.match.json_mode),
        )
        if flag
    }
    for cap in sorted(needed):
        if not any(cap in m.capabilities for m in models.values()):
            out.append(
                ConfigIssue(
                    entry.locate(at),
                    f"rule {rule.name!r} needs capability {cap!r}, which no candidate has",
                    f"candidates: {', '.join(models)}",
                )
            )
    windows = [m.context_window for m in models.values()]
    lo = rule.match.min_prompt_tokens
    if lo is not None and all(w is not None and w < lo for w in windows):
        out.append(
            ConfigIssue(
                entry.locate((*at, "when", "min_prompt_tokens")),
                f"min_prompt_tokens {lo} exceeds every candidate's context window",
            )
        )
    return out
