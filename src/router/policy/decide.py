"""The pure ``decide()``: one ``DecisionInput`` (request x features x policies x catalog x
signals) -> ``Decision``.

No I/O, no clock, no randomness of its own (``roll`` in [0, 1) comes from the caller), so every
policy behaviour is a row in a table test. Per request:

1. pick the policy: the client's ``model`` names a policy, an alias (``auto`` -> the default
   policy, unless a policy's ``select`` matches first), or a logical model (routed *direct*);
   else it matches an alias pattern (``claude-*``: the ids Claude Code sends);
2. apply the header overrides the policy allows (objective, task, max cost);
3. take the first rule whose ``when`` matches;
4. drop candidates that cannot or should not serve (capability, context window, quality, cost,
   open circuit, latency, error rate), remembering each reason;
5. rank the survivors by the objective, let a weighted split choose the primary, and append
   the fallbacks that can still serve.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from router.config.catalog import Catalog, Deployment
from router.errors import InvalidRequest, NoHealthyDeployment, NotFound
from router.policy.classify import Features
from router.policy.decision import Candidate, CandidateRole, Decision, Exclusion, ExclusionKind
from router.policy.difficulty import scaled_quality
from router.policy.model import Objective, Policy, PolicySet, Rule
from router.policy.overrides import (
    MAX_COST_HEADER,
    OBJECTIVE_HEADER,
    TASK_HEADER,
    applied_overrides,
    read_overrides,
)
from router.shapes import Principal
from router.signals import SignalSnapshot
from router.wire import ChatRequest

CANNOT_HONOUR = "cannot honour"


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """Everything ``decide()`` reads. ``headers`` has lower-cased names (the override headers
    and ``select``/``when`` matches read them); ``roll`` in [0, 1) drives weighted splits."""

    chat: ChatRequest
    features: Features
    principal: Principal
    headers: Mapping[str, str]
    policies: PolicySet
    catalog: Catalog
    snapshot: SignalSnapshot
    roll: float = 0.0
    budget_use: tuple[float, str] | None = None  # the caller's most-used budget (for degrade)
    # Deployments this environment cannot call (an unset key, a placeholder URL), with why.
    unusable: Mapping[str, str] = field(default_factory=dict)


def decide(given: DecisionInput) -> Decision:
    """Choose who answers, and say why."""
    chat, features, principal, headers = given.chat, given.features, given.principal, given.headers
    policies, catalog, snapshot = given.policies, given.catalog, given.snapshot
    name = chat.model
    policy = policies.policies.get(name)
    if policy is None:
        target = policies.aliases.get(name)
        if target is not None:
            policy = _select(policies, target, features, principal, headers)
        elif name in catalog.models:
            deps = catalog.models[name].deployments
            return _direct(name, deps, features, headers, snapshot, given.unusable)
        elif name in catalog.deployments:
            deps = (catalog.deployments[name],)
            return _direct(name, deps, features, headers, snapshot, given.unusable)
        elif (target := policies.pattern_for(name)) is not None:
            policy = _select(policies, target, features, principal, headers)
        else:
            raise NotFound(
                f"model {name!r} is neither a model nor a policy. "
                f"models: {', '.join(catalog.models) or '(none)'}; "
                f"policies: {', '.join([*policies.aliases, *policies.policies]) or '(none)'}",
                param="model",
                code="model_not_found",
            )
    return _decide_policy(given, policy)


def _select(
    policies: PolicySet,
    target: str,
    features: Features,
    principal: Principal,
    headers: Mapping[str, str],
) -> Policy:
    for policy in policies.selectors:
        if policy.select is not None and policy.select.matches(
            features.task, features, principal, headers
        ):
            return policy
    return policies.policies[target]


def _decide_policy(given: DecisionInput, policy: Policy) -> Decision:
    features, principal, headers = given.features, given.principal, given.headers
    task_override, objective_override, max_cost_override = read_overrides(policy, headers)
    task = task_override or features.task
    rule = next(
        (r for r in policy.rules if r.match.matches(task, features, principal, headers)), None
    )
    if rule is None:
        raise InvalidRequest(
            f"no rule of policy {policy.name!r} matches this request (task {task})",
            param="model",
            code="no_matching_rule",
        )
    degraded, use = None, given.budget_use
    if policy.degrade is not None and use is not None and use[0] > policy.degrade.above:
        rule, degraded = policy.degrade.narrow(rule), policy.degrade.describe(*use)
    objective = objective_override or rule.objective
    max_cost = rule.constraints.max_cost_usd
    if max_cost_override is not None:
        max_cost = max_cost_override if max_cost is None else min(max_cost, max_cost_override)
    ranked: list[Candidate] = []
    excluded: list[Exclusion] = []
    for dep in rule.candidates:
        cand, why = _assess(given, dep, rule, task, policy, max_cost)
        if why is None:
            ranked.append(cand)
        else:
            excluded.append(why)
    ranked = _rank(ranked, objective)
    arm = None
    if rule.split and ranked:
        ranked, arm = _apply_split(ranked, rule, policy, given.chat, principal, given.roll)
    in_chain = {c.deployment.name for c in ranked}
    for dep in rule.fallbacks:
        if dep.name in in_chain:
            continue
        cand, why = _assess(given, dep, rule, task, policy, None, soft=False)
        if why is None:
            ranked.append(_with_role(cand, "fallback"))
        elif all(e.deployment != dep.name for e in excluded):
            excluded.append(why)
    where = f"policy {policy.name!r} rule {rule.name!r}"
    if not ranked:
        raise _no_candidate(where, excluded)
    first = ranked[0]
    reason = (
        f"{policy.name}/{rule.name}: task={task} objective={objective.label}"
        f"{f' split={arm}' if arm else ''} -> {first.deployment.name} ({_summary(first)})"
        f"; {len(ranked) - 1} fallback(s), {len(excluded)} excluded"
        f"{f'; degraded: {degraded}' if degraded else ''}"
    )
    return Decision(
        policy=policy.name,
        rule=rule.name,
        chain=tuple(ranked),
        reason=reason,
        task=task,
        objective=objective.label,
        excluded=tuple(excluded),
        retry=policy.retry,
        hedge=policy.hedge,
        cache=policy.cache,
        deadline_s=policy.deadline_s,
        prompt_tokens=features.prompt_tokens,
        split_arm=arm,
        degraded=degraded,
        features=features,
        overrides=applied_overrides(task_override, objective_override, max_cost_override),
    )


def _assess(
    given: DecisionInput,
    dep: Deployment,
    rule: Rule,
    task: str,
    policy: Policy,
    max_cost: float | None,
    *,
    soft: bool = True,
) -> tuple[Candidate, Exclusion | None]:
    """Expected cost, latency and quality of ``dep`` for this request, and the first reason it
    must not serve. ``soft=False`` (fallbacks) checks only what would make the attempt futile:
    capabilities, context window and an open circuit."""
    features, snapshot = given.features, given.snapshot
    model = given.catalog.models[dep.logical_model]
    stats = snapshot.stats(dep.name)
    out = snapshot.expected_output(model.name, task)
    if out is None:
        seeds = model.expected_output_tokens
        out = float(seeds.get(task) or seeds.get("general") or policy.default_output_tokens)
    if features.max_output_tokens is not None:
        out = min(out, float(features.max_output_tokens))
    # The prompt is read once; every one of the ``n`` choices is written.
    written = out * features.choices
    cost = dep.price.cost(features.prompt_tokens, 0) + written * dep.price.output_per_token
    latency = stats.p95_latency(features.stream)
    quality = model.quality_for(task)
    if rule.quality_by_difficulty and features.difficulty is not None:  # per request
        models = given.catalog.models
        tops = (models[d.logical_model].quality_for(task) for d in rule.candidates)
        top = max((q for q in tops if q is not None), default=None)
        quality = scaled_quality(quality, top, features.difficulty, features.difficulty_mean)
    cand = Candidate(dep, cost, latency, quality, None, out)
    c = rule.constraints
    kind: ExclusionKind = "request"
    why: str | None = None
    missing = (features.required_capabilities | (c.require if soft else frozenset())) - (
        model.capabilities
    )
    window = model.context_window
    if (unusable := given.unusable.get(dep.name)) is not None:
        kind, why = "config", unusable
    elif missing:
        why = f"lacks {', '.join(sorted(missing))}"
        kind = "request" if missing & features.required_capabilities else "policy"
    elif refused := features.demands & dep.cannot_honour:
        why = f"{CANNOT_HONOUR} {', '.join(sorted(refused))}"
    elif window is not None and (needed := features.context_needed(dep.max_output_tokens)) > window:
        why = f"context window {window} < {needed} tokens needed"
    elif soft and c.min_quality is not None and (quality is None or quality < c.min_quality):
        kind, why = "policy", f"quality {_num(quality)} < min {c.min_quality:g} for {task}"
    elif soft and max_cost is not None and cost > max_cost:
        kind, why = "policy", f"expected cost ${cost:.6f} > max ${max_cost:g}"
    elif stats.circuit == "open":
        kind, why = "signal", "circuit open"
    elif soft and c.max_error_rate is not None and stats.error_rate > c.max_error_rate:
        kind, why = "signal", f"error rate {stats.error_rate:.2f} > max {c.max_error_rate:g}"
    elif (
        soft
        and c.max_p95_latency_s is not None
        and latency is not None
        and (latency > c.max_p95_latency_s)
    ):
        what = "ttft" if features.stream else "latency"
        kind, why = "signal", f"p95 {what} {latency:.2f}s > max {c.max_p95_latency_s:g}s"
    return cand, (Exclusion(dep.name, why, kind) if why else None)


def _rank(cands: list[Candidate], objective: Objective) -> list[Candidate]:
    """Score each survivor in [0, 1] (1 = best) on the objective's normalised metrics, then
    sort best first; ties keep the listed order. Unknown latency is optimistic: it scores as
    the best and wins ties, so an unmeasured deployment (new, or whose samples aged out of
    the window) gets a few requests until it is measured; without that, routing that once
    left a slow deployment would never see it recover."""
    n = len(cands)
    if n == 0:
        return cands
    if objective.name == "priority":
        return [_scored(c, 1.0 - i / n) for i, c in enumerate(cands)]
    totals = [0.0] * n
    unknown = [0] * n  # breaks ties: an unmeasured deployment before a measured one
    for metric, weight in objective.weights:
        if metric == "cost":
            values: list[float | None] = [c.expected_cost_usd for c in cands]
        elif metric == "latency":
            values = [c.expected_latency_s for c in cands]
        else:
            values = [-(c.quality or 0.0) for c in cands]  # negated: lower is better
        for i, v in enumerate(_lower_is_better(values)):
            totals[i] += weight * v
            unknown[i] += values[i] is None
    order = sorted(range(n), key=lambda i: (-totals[i], -unknown[i]))
    return [_scored(cands[i], totals[i]) for i in order]


def _lower_is_better(values: list[float | None]) -> list[float]:
    known = [v for v in values if v is not None]
    if not known:
        return [1.0] * len(values)
    lo, hi = min(known), max(known)
    span = hi - lo
    return [1.0 if v is None or span == 0 else (hi - v) / span for v in values]


def _apply_split(
    ranked: list[Candidate],
    rule: Rule,
    policy: Policy,
    chat: ChatRequest,
    principal: Principal,
    roll: float,
) -> tuple[list[Candidate], str | None]:
    """Move the chosen arm's deployments to the front; arms with no survivor drop out and
    the remaining weights are renormalised."""
    alive = {c.deployment.name for c in ranked}
    arms = [a for a in rule.split if a.weight > 0 and not alive.isdisjoint(a.deployments)]
    if not arms:
        return ranked, None
    if rule.sticky:
        key = chat.user or principal.name
        # blake2b, not hash() (salted per process) nor crc32 (clusters on similar ids)
        digest = hashlib.blake2b(f"{policy.name}/{rule.name}/{key}".encode(), digest_size=8)
        roll = int.from_bytes(digest.digest(), "big") / 2**64
    point = min(max(roll, 0.0), math.nextafter(1.0, 0.0)) * sum(a.weight for a in arms)
    chosen = arms[-1]
    for arm in arms:
        if point < arm.weight:
            chosen = arm
            break
        point -= arm.weight
    front = [_with_role(c, "split") for c in ranked if c.deployment.name in chosen.deployments]
    rest = [c for c in ranked if c.deployment.name not in chosen.deployments]
    return front + rest, chosen.name


def _direct(
    name: str,
    deployments: tuple[Deployment, ...],
    features: Features,
    headers: Mapping[str, str],
    snapshot: SignalSnapshot,
    unusable: Mapping[str, str],
) -> Decision:
    """The client named a model: its deployments in order, skipping open circuits and those
    this environment cannot call."""
    for header in (OBJECTIVE_HEADER, TASK_HEADER, MAX_COST_HEADER):
        if header in headers:
            raise InvalidRequest(
                f"header {header!r} needs a routing policy; model {name!r} is routed direct",
                param=header,
                code="override_not_allowed",
            )
    chain: list[Candidate] = []
    excluded: list[Exclusion] = []
    for dep in deployments:
        stats = snapshot.stats(dep.name)
        if (why := unusable.get(dep.name)) is not None:
            excluded.append(Exclusion(dep.name, why, "config"))
            continue
        if refused := features.demands & dep.cannot_honour:
            reason = f"{CANNOT_HONOUR} {', '.join(sorted(refused))}"
            excluded.append(Exclusion(dep.name, reason, "request"))
            continue
        if stats.circuit == "open":
            excluded.append(Exclusion(dep.name, "circuit open", "signal"))
            continue
        chain.append(
            Candidate(dep, expected_latency_s=stats.p95_latency(features.stream), role="direct")
        )
    if not chain:
        raise _no_candidate(f"model {name!r}", excluded)
    reason = f"direct: model {name} -> {chain[0].deployment.name}; {len(excluded)} excluded"
    return Decision(
        policy="direct",
        rule="model",
        chain=tuple(chain),
        reason=reason,
        task=features.task,
        excluded=tuple(excluded),
        prompt_tokens=features.prompt_tokens,
        features=features,
    )


def _no_candidate(where: str, excluded: list[Exclusion]) -> Exception:
    listing = "; ".join(f"{e.deployment}: {e.reason}" for e in excluded) or "no candidates"
    message = f"no deployment can serve this request under {where}: {listing}"
    if excluded and all(e.reason.startswith(CANNOT_HONOUR) for e in excluded):
        # None can honour what the request asks: name the parameter, as OpenAI would.
        param = excluded[0].reason.removeprefix(CANNOT_HONOUR).split(",")[0].strip()
        param = "response_format" if param == "json_object" else param
        param = "temperature" if param == "temperature_above_1" else param
        return InvalidRequest(message, param=param, code="unsupported_parameter")
    if any(e.kind in ("signal", "config") for e in excluded):
        return NoHealthyDeployment(message)  # router's state or setup, not the request
    return InvalidRequest(message, code="no_eligible_deployment")


def _scored(c: Candidate, score: float) -> Candidate:
    return Candidate(
        c.deployment, c.expected_cost_usd, c.expected_latency_s, c.quality, score,
        c.expected_output_tokens, c.role,
    )  # fmt: skip


def _with_role(c: Candidate, role: CandidateRole) -> Candidate:
    return Candidate(
        c.deployment, c.expected_cost_usd, c.expected_latency_s, c.quality, c.score,
        c.expected_output_tokens, role,
    )  # fmt: skip


def _summary(c: Candidate) -> str:
    lat = f"{c.expected_latency_s:.2f}s" if c.expected_latency_s is not None else "n/a"
    return f"est ${c.expected_cost_usd or 0:.6f}, quality {_num(c.quality)}, p95 {lat}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"
