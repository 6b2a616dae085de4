"""``router check`` and ``router explain``: validate a config without starting anything, run
the test cases it carries, and show the whole decision for one request.

``check`` reports, as ``file:line:column: message`` with a hint: everything ``load_config``
refuses (syntax, unknown keys, types, unknown models), plus what only a whole-policy view finds
(rules that can never fire, constraints no candidate can meet), then runs the ``tests:``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from pydantic import Field, ValidationError

from router.config import environment
from router.config.lint import lint_policies, lint_warnings
from router.config.load import Config, load_config
from router.config.raw import Entry, validate
from router.config.schema import Strict
from router.config.yamlsrc import ConfigError, ConfigIssue
from router.errors import RouterError
from router.policy.classify import classify
from router.policy.decide import DecisionInput, decide
from router.policy.decision import explain
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
    prompt_tokens: int | None = Field(
        None, ge=0, description="pin the prompt estimate (a long conversation, in short)"
    )
    difficulty_per_cost: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="pin the signal's gain per extra cost"
    )
    expect: ExpectSpec


def load_checked(path: Path) -> Config:
    """``load_config`` plus the whole-policy lint: what ``router check`` accepts."""
    config = load_config(path)
    issues = lint_policies(config)
    if issues:
        raise ConfigError(issues)
    return config


def load_served(path: Path) -> Config:
    """What ``router serve`` accepts, at start and on reload: ``load_checked``, and every test
    case the config carries passes (a config whose own tests fail is as broken as one that
    does not parse)."""
    config = load_checked(path)
    failures = failing_tests(config)
    if failures:
        raise ConfigError(failures)
    return config


def try_load(path: Path) -> Config | ConfigError:
    """For hot reload: the new config, or the error to log while keeping the old one."""
    try:
        return load_served(path)
    except ConfigError as exc:
        return exc


def failing_tests(config: Config) -> list[ConfigIssue]:
    return [p for entry in config.raw.tests if (p := run_test(entry, config)) is not None]


def check_main(path: Path, out: TextIO, environ: Mapping[str, str] | None = None) -> int:
    """Exit status: 0 when the config loads, lints clean and every test passes; else 1. Every
    problem is reported in one run: lint findings do not stop the tests. What the current
    environment lacks (keys, real hosts) is reported as warnings."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=out)
        print(f"{len(exc.issues)} problem(s) in {path}", file=out)
        return 1
    problems = lint_policies(config)
    for issue in problems:
        print(issue, file=out)
    failures = 0
    for entry in config.raw.tests:
        problem = run_test(entry, config)
        label = entry.data.get("name", entry.name) if isinstance(entry.data, dict) else entry.name
        if problem is None:
            print(f"PASS {entry.locate()}: {label}", file=out)
        else:
            failures += 1
            print(f"FAIL {problem}", file=out)
    for warning in lint_warnings(config):
        print(f"warning: {warning}", file=out)
    for line in environment.report(config, os.environ if environ is None else environ):
        print(f"warning: {line}", file=out)
    tests = len(config.raw.tests)
    policies = len(config.policies.policies)
    bad = failures or problems
    print(
        f"{'ok' if not bad else 'FAILED'}: {len(config.catalog.models)} models, "
        f"{policies} policies, {tests - failures}/{tests} tests passed"
        + (f", {len(problems)} problem(s)" if problems else ""),
        file=out,
    )
    return 1 if bad else 0


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
    if case.prompt_tokens is not None:
        features = dataclasses.replace(features, prompt_tokens=case.prompt_tokens)
    if case.difficulty_per_cost is not None:
        features = dataclasses.replace(features, difficulty_per_cost=case.difficulty_per_cost)
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
    if "roll" in entry.data and _sticky(config, decision.policy, decision.rule):
        return ConfigIssue(
            entry.locate(("roll",)),
            f"{case.name}: 'roll' has no effect: rule {decision.rule!r} has a sticky split, "
            "whose arm follows the request's user (or key), not the roll",
            "set 'request.user' (or 'key.name') to pick the arm, and drop 'roll'",
        )
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


def _sticky(config: Config, policy: str, rule: str) -> bool:
    found = config.policies.policies.get(policy)
    return any(r.name == rule and r.split and r.sticky for r in (found.rules if found else ()))


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
