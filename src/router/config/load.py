"""Assemble the frozen runtime ``Config`` from the raw sections: the one entry point that turns
a path under ``policies/`` into something router can serve, or a ``ConfigError`` listing every
problem with its ``file:line:column``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from router.config.catalog import Catalog, build_catalog
from router.config.raw import RawConfig, collect, read_raw, validate, validate_single
from router.config.schema import AuthSpec, ModelSpec, RequestLogSpec, ServerSpec
from router.config.yamlsrc import ConfigError, ConfigIssue
from router.policy.build import build_policies
from router.policy.difficulty import DifficultyModel, from_json
from router.policy.model import EMPTY_POLICIES, PolicySet
from router.tenancy.rules import EMPTY_TENANCY, Tenancy, build_tenancy


@dataclass(frozen=True, slots=True)
class Config:
    files: tuple[str, ...]
    server: ServerSpec
    auth: AuthSpec
    catalog: Catalog
    raw: RawConfig  # kept for owners that validate their own sections (policies, tests)
    policies: PolicySet = EMPTY_POLICIES
    tenancy: Tenancy = EMPTY_TENANCY  # keys, access, limits, budgets
    difficulty: DifficultyModel | None = None  # server.difficulty_model, loaded
    request_log: RequestLogSpec | None = None  # no section: no request log
    # Deployment -> why this environment cannot call it (config.environment); empty until a
    # config meets its environment (router serve), so checks and tests stay deterministic.
    unusable: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def load_config(path: Path) -> Config:
    """Read, validate and resolve; raises ``ConfigError`` with every issue found."""
    raw = read_raw(path)
    issues: list[ConfigIssue] = []
    server = validate_single(raw, "server", ServerSpec, issues)
    auth = validate_single(raw, "auth", AuthSpec, issues)
    models = collect(raw.named.get("models", {}), ModelSpec, issues)
    catalog = build_catalog(models, issues)
    policies = build_policies(raw.named.get("policies", {}), catalog, issues)
    if server is not None and server.baseline_model and server.baseline_model not in models:
        entry = raw.singles["server"]
        issues.append(
            ConfigIssue(
                entry.locate(("baseline_model",)),
                f"baseline_model {server.baseline_model!r} is not a model in the catalog",
                f"models: {', '.join(sorted(models)) or '(none)'}",
            )
        )
    tenancy = EMPTY_TENANCY
    if auth is not None:
        tenancy = build_tenancy(
            auth,
            catalog,
            frozenset(policies.policies),
            frozenset(policies.aliases),
            raw.singles.get("auth"),
            issues,
        )
    log_entry = raw.singles.get("request_log")
    request_log = validate(RequestLogSpec, log_entry, issues) if log_entry else None
    difficulty = _difficulty(path, raw, server, issues)
    for policy, index in policies.difficulty_rules() if difficulty is None else ():
        issues.append(
            ConfigIssue(
                raw.named["policies"][policy].locate(
                    ("rules", index, "when", _signal_key(policies, policy, index))
                ),
                "this rule uses the difficulty signal, which needs a difficulty model",
                "set 'server: {difficulty_model: difficulty.json}' (built by router train)",
            )
        )
    if difficulty is not None:
        difficulty, why = _priced(difficulty, catalog)
        for policy, index in policies.per_cost_rules() if why else ():
            issues.append(
                ConfigIssue(
                    raw.named["policies"][policy].locate(
                        ("rules", index, "when", "difficulty_per_cost")
                    ),
                    f"difficulty_per_cost cannot be scored: {why}",
                    "retrain the model with: router train DATASET -o FILE",
                )
            )
    if issues or server is None or auth is None:
        raise ConfigError(issues)
    return Config(raw.files, server, auth, catalog, raw, policies, tenancy, difficulty, request_log)


def _signal_key(policies: PolicySet, policy: str, index: int) -> str:
    match = policies.policies[policy].rules[index].match
    return "difficulty_per_cost" if match.uses_difficulty_per_cost else "difficulty"


def _priced(model: DifficultyModel, catalog: Catalog) -> tuple[DifficultyModel, str | None]:
    """The signal with its two models' catalog prices bound, so requests get a
    ``difficulty_per_cost``; else the model as it is and why not."""
    if not model.prices_cost:
        return model, "the difficulty model has no cost heads (a format 1 file)"
    found = [catalog.models.get(name) for name in (model.strong, model.weak)]
    prices = [m.price for m in found if m is not None]
    if len(prices) < 2:
        return model, f"{model.strong} and {model.weak} need prices in the catalog"
    try:
        strong, weak = ((p.input_per_token, p.output_per_token) for p in prices)
        return model.priced(strong, weak), None
    except ValueError as exc:
        return model, str(exc)


def _difficulty(
    path: Path, raw: RawConfig, server: ServerSpec | None, issues: list[ConfigIssue]
) -> DifficultyModel | None:
    """Read the exported difficulty signal, relative to the config directory (or file)."""
    if server is None or not server.difficulty_model:
        return None
    base = path if path.is_dir() else path.parent
    file = base / server.difficulty_model
    try:
        return from_json(json.loads(file.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        issues.append(
            ConfigIssue(
                raw.singles["server"].locate(("difficulty_model",)),
                f"cannot read difficulty model {str(file)!r}: {exc}",
                "build one with: router train DATASET -o FILE",
            )
        )
        return None
