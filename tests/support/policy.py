"""Builders for policy tests: a hand-made catalog (no litellm), policies from YAML text,
requests from a line of text, and signal snapshots from a small table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.config.catalog import Catalog, Deployment, LogicalModel, Price
from router.config.raw import Entry
from router.config.schema import Timeouts
from router.config.yamlsrc import ConfigError, ConfigIssue, loads
from router.policy.build import build_policies
from router.policy.classify import classify
from router.policy.decide import DecisionInput, decide
from router.policy.decision import Decision
from router.policy.model import PolicySet
from router.shapes import ANONYMOUS, Principal
from router.signals import DeploymentStats, SignalSnapshot
from router.wire import ChatRequest


def model(
    name: str,
    *,
    input_mtok: float,
    output_mtok: float,
    quality: dict[str, float],
    providers: tuple[str, ...] = ("p1",),
    context: int | None = 100_000,
    caps: frozenset[str] = frozenset({"streaming", "tools"}),
    output_tokens: dict[str, int] | None = None,
) -> LogicalModel:
    price = Price(input_mtok / 1e6, output_mtok / 1e6, "test")
    deps = tuple(
        Deployment(
            f"{name}@{p}",
            name,
            "openai",
            name,
            f"http://127.0.0.1:9/{p}",
            None,
            None,
            price,
            Timeouts(),
        )
        for p in providers
    )
    return LogicalModel(
        name, None, deps, price, context, caps, quality, None, output_tokens or {"general": 500}
    )


def catalog(*models: LogicalModel) -> Catalog:
    return Catalog({m.name: m for m in models}, {d.name: d for m in models for d in m.deployments})


# A cheap-input / expensive-output model and its mirror image: prices cross with prompt size.
FAST_IN = model(
    "in-cheap",
    input_mtok=0.10,
    output_mtok=10.0,
    quality={"code": 0.9, "general": 0.7, "reasoning": 0.6},
    providers=("p1", "p2"),
)
FAST_OUT = model(
    "out-cheap",
    input_mtok=5.0,
    output_mtok=0.50,
    quality={"code": 0.6, "general": 0.8, "reasoning": 0.9},
    context=200_000,
    caps=frozenset({"streaming", "tools", "vision", "json_mode"}),
)
NO_TOOLS = model(
    "plain",
    input_mtok=1.0,
    output_mtok=1.0,
    quality={"general": 0.5},
    caps=frozenset({"streaming"}),
    context=8_000,
)
CATALOG = catalog(FAST_IN, FAST_OUT, NO_TOOLS)


def policies(text: str, cat: Catalog = CATALOG, name: str = "policies.yaml") -> PolicySet:
    """Build a PolicySet from the text of a ``policies:`` section; raise on any issue."""
    issues: list[ConfigIssue] = []
    ps = policy_issues(text, cat, issues, name)
    if issues:
        raise ConfigError(issues)
    return ps


def policy_issues(
    text: str, cat: Catalog, issues: list[ConfigIssue], name: str = "policies.yaml"
) -> PolicySet:
    data, source = loads(text, name)
    entries = {
        key: Entry(key, item, source, ("policies", key)) for key, item in data["policies"].items()
    }
    return build_policies(entries, cat, issues)


def chat(text: str = "Hello", model_name: str = "auto", **fields: Any) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": model_name, "messages": [{"role": "user", "content": text}], **fields}
    )


def snapshot(
    open_: tuple[str, ...] = (),
    p95: Mapping[str, float] | None = None,
    errors: Mapping[str, float] | None = None,
    output_tokens: Mapping[tuple[str, str], float] | None = None,
) -> SignalSnapshot:
    p95 = p95 or {}
    errors = errors or {}
    stats = {
        name: DeploymentStats(
            circuit="open" if name in open_ else "closed",
            attempts=50,
            error_rate=errors.get(name, 0.0),
            ttft_p95_s=p95.get(name),
            total_p95_s=p95.get(name),
        )
        for name in {*open_, *p95, *errors}
    }
    return SignalSnapshot(stats, dict(output_tokens or {}))


def run(
    ps: PolicySet,
    request: ChatRequest,
    *,
    headers: Mapping[str, str] | None = None,
    principal: Principal = ANONYMOUS,
    signals: SignalSnapshot | None = None,
    roll: float = 0.0,
    cat: Catalog = CATALOG,
) -> Decision:
    return decide(
        DecisionInput(
            request,
            classify(request),
            principal,
            dict(headers or {}),
            ps,
            cat,
            signals or SignalSnapshot(),
            roll,
        )
    )
