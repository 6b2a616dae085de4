"""Run policies over outcome data offline: the same ``classify`` and ``decide()`` the server
runs, with no upstream, and each decision scored by the outcome of the model it chose.

Cost of a prompt on a model is its token counts times the catalog's prices (prompt tokens by
router's own estimate, answer tokens from the data); latency is the model's ``latency:``
profile in the catalog (time to first token plus answer tokens over tokens per second).

Models without outcome data cannot be scored, so ``decide()`` sees their deployments with an
open circuit: a policy falls back to a mapped model the way it would in production when that
provider is down. A request no mapped model can serve counts as refused.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from router.config.catalog import Catalog
from router.config.load import Config
from router.errors import RouterError
from router.offline import Progress
from router.policy.classify import Features, classify
from router.policy.decide import DecisionInput, decide
from router.policy.difficulty import DifficultyModel
from router.policy.model import PolicySet
from router.quality.outcomes import Dataset, Outcome
from router.shapes import ANONYMOUS
from router.signals import DeploymentStats, SignalSnapshot
from router.wire import ChatRequest, Message


@dataclass(frozen=True, slots=True)
class Case:
    """One prompt, prepared once: its request, features and per-model cost and latency."""

    outcome: Outcome
    chat: ChatRequest
    features: Features
    cost: Mapping[str, float]  # model -> USD for this prompt and that model's answer
    latency: Mapping[str, float | None]  # model -> seconds, from the model's profile


@dataclass(frozen=True, slots=True)
class Routed:
    """Where a policy sent each case (``None``: refused), and which rules fired."""

    policy: str
    choices: tuple[str | None, ...]
    rules: Mapping[str, int]


def request_of(outcome: Outcome, model: str) -> tuple[ChatRequest, Features]:
    turns = (*outcome.history, outcome.prompt)
    chat = ChatRequest(model=model, messages=[Message(role="user", content=t) for t in turns])
    return chat, classify(chat)


def prepare(
    dataset: Dataset,
    catalog: Catalog,
    signal: DifficultyModel | None = None,
    progress: Progress | None = None,
) -> list[Case]:
    for name in dataset.models:
        if name not in catalog.models:
            raise ValueError(f"model {name!r} of the data set is not in the catalog")
    cases = []
    for o in dataset.outcomes:
        chat = ChatRequest(
            model="auto",
            messages=[Message(role="user", content=t) for t in (*o.history, o.prompt)],
        )
        features = classify(chat, signal)
        cost, latency = {}, {}
        for name in dataset.models:
            model = catalog.models[name]
            answer = o.answer_tokens[name]
            cost[name] = model.price.cost(features.prompt_tokens, answer)
            prof = model.latency
            latency[name] = prof.ttft_s + answer / prof.output_tokens_per_s if prof else None
        cases.append(Case(o, chat, features, MappingProxyType(cost), MappingProxyType(latency)))
        if progress is not None:
            progress(1)
    return cases


def unscored_snapshot(catalog: Catalog, scored: Sequence[str]) -> SignalSnapshot:
    """Every deployment of a model without outcome data reads as circuit-open."""
    down = DeploymentStats(circuit="open")
    return SignalSnapshot(
        {d.name: down for d in catalog.deployments.values() if d.logical_model not in scored}
    )


def route_policy(
    cases: Sequence[Case],
    policy: str,
    config: Config,
    models: Sequence[str],
    seed: int,
    progress: Progress | None = None,
    bound: float | None = None,
) -> Routed:
    """``decide()`` for every case under ``policy``; ``bound`` overrides the policy's swept
    bound (``swept_bound``) in every rule that has it (the threshold sweep of a policy)."""
    policies = config.policies
    swept = swept_bound(config, policy)
    if bound is not None and swept is not None:
        policies = with_bound(config, policy, swept, bound)
    snapshot = unscored_snapshot(config.catalog, models)
    rng = random.Random(seed)
    choices: list[str | None] = []
    rules: Counter[str] = Counter()
    for case in cases:
        chat = case.chat.model_copy(update={"model": policy})
        try:
            decision = decide(
                DecisionInput(
                    chat, case.features, ANONYMOUS, {}, policies, config.catalog, snapshot,
                    rng.random(),
                )
            )  # fmt: skip
        except RouterError:
            choices.append(None)
            rules["(refused)"] += 1
        else:
            model = decision.chain[0].deployment.logical_model
            choices.append(model if model in models else None)
            rules[decision.rule] += 1
        if progress is not None:
            progress(1)
    return Routed(policy, tuple(choices), MappingProxyType(dict(rules)))


# The bounds a policy's sweep can vary, in the order they are looked for: the lower bound of
# difficulty_per_cost (strong model at or above it), else the upper bound of difficulty
# (cheap model at or below it).
SWEPT = ("min_difficulty_per_cost", "max_difficulty")


def swept_bound(config: Config, policy: str) -> str | None:
    found = config.policies.policies.get(policy)
    rules = found.rules if found is not None else ()
    for name in SWEPT:
        if any(getattr(r.match, name) is not None for r in rules):
            return name
    return None


def with_bound(config: Config, policy: str, name: str, bound: float) -> PolicySet:
    """The policy set with ``policy``'s bound ``name`` (a ``Match`` field) set to ``bound``
    in every rule that has it."""
    found = config.policies.policies[policy]
    bounds: dict[str, Any] = {name: bound}
    rules = tuple(
        replace(r, match=replace(r.match, **bounds)) if getattr(r.match, name) is not None else r
        for r in found.rules
    )
    table = dict(config.policies.policies)
    table[policy] = replace(found, rules=rules)
    selectors = tuple(p for p in table.values() if p.select is not None)
    return PolicySet(MappingProxyType(table), config.policies.aliases, selectors)


def sweepable(config: Config, policy: str) -> bool:
    return swept_bound(config, policy) is not None
