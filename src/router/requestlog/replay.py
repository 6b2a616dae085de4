"""``router replay``: logged requests through a candidate config, offline, no upstream call.

Per logged request, the same access check and ``decide()`` the server runs see what they saw
live: the client's ``model``, the caller (key, team, tags), the routing headers that were
logged, the request's features, and the live signals summarised over the whole log
(``profile``). Its
decision is then priced and timed without calling anyone:

* **cost**: the candidate catalog's price x the logged tokens (the upstream's usage when
  there was one, else router's estimate and the decision's expected answer length);
* **latency**: the log's own latency profile of the deployment chosen (``profile``);
* **quality**: the candidate catalog's number for the task, and where the candidate has a
  learned signal, P(as good as its strong model): 1 on the strong model, 1 - difficulty on
  the cheap one.

Difficulty and difficulty_per_cost are re-scored by the candidate's signal (priced by the
candidate's catalog) when the prompt was captured (``log: {capture: prompts}``); otherwise
the logged scores are used, and the report says how many requests that concerned. The task
class is not re-computed: classify does not depend on config.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from router.config.load import Config
from router.errors import RouterError
from router.offline import Progress
from router.policy.classify import Features, score_of
from router.policy.decide import DecisionInput, decide
from router.policy.decision import Decision
from router.policy.difficulty import DifficultyModel
from router.requestlog.profile import LogProfile
from router.requestlog.record import RequestRecord, Text, as_classified
from router.shapes import Principal
from router.signals import SignalSnapshot
from router.tenancy.access import check_access
from router.wire import ChatRequest, Message

_BLANK = (Message(role="user", content=""),)  # decide() reads a request's model and user only


@dataclass(frozen=True, slots=True)
class Side:
    """One request's route on one side of the comparison; ``model`` None: refused/failed."""

    model: str | None
    deployment: str | None
    cost_usd: float | None  # modelled the same way on both sides, so they compare
    latency_s: float | None
    quality: float | None
    as_good: float | None  # P(as good as the signal's strong model)


@dataclass(frozen=True, slots=True)
class Replayed:
    request_id: str
    time: str
    requested: str
    task: str | None
    status: int  # as logged
    actual_cost_usd: float | None  # as logged (a cache hit cost 0)
    actual_latency_s: float  # as logged, the whole request
    before: Side
    after: Side
    rule: str | None  # the candidate's policy/rule
    refusal: str | None  # the candidate's error code when it refuses
    detail: str  # the candidate's one-line reason, or why it refused


@dataclass(frozen=True, slots=True)
class Replay:
    requests: tuple[Replayed, ...]
    profile: LogProfile
    rescored: int  # difficulty re-scored from a captured prompt
    reused_difficulty: int  # the logged score, under a different signal than the candidate's
    no_difficulty: int  # neither: difficulty conditions cannot match these


def _prepare(
    records: Iterable[RequestRecord], signal: DifficultyModel | None, progress: Progress | None
) -> tuple[list[tuple[RequestRecord, Features]], LogProfile, tuple[int, int, int]]:
    """Pass one: the profile, and each request's features under the candidate's signal."""
    profile = LogProfile()
    kept: list[tuple[RequestRecord, Features]] = []
    rescored = reused = missing = 0
    signature = signal.signature() if signal is not None else None
    for record in records:
        if progress is not None:
            progress(1)
        profile.observe(record)
        if record.features is None:
            continue
        f = record.features
        difficulty, per_cost = f.difficulty, f.difficulty_per_cost
        if signal is not None:
            if record.prompt.messages is not None:
                chat = _chat(record, record.prompt)
                score = score_of(chat, f.task, f.prompt_tokens, signal)
                difficulty, per_cost = score.difficulty, score.per_cost
                rescored += 1
            elif difficulty is None:
                missing += 1
            elif record.difficulty_model != signature:
                reused += 1
        features = Features(
            **as_classified(f),
            demands=frozenset(f.demands),
            difficulty=difficulty,
            difficulty_mean=signal.mean_difficulty if signal is not None else 0.5,
            difficulty_per_cost=per_cost,
        )
        # text is not needed past this point: do not hold a long log's prompts in memory
        kept.append((replace(record, prompt=Text(record.prompt.sha256), answer=None), features))
    return kept, profile, (rescored, reused, missing)


def replay(
    records: Iterable[RequestRecord],
    config: Config,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> Replay:
    kept, profile, (rescored, reused, missing) = _prepare(records, config.difficulty, progress)
    snapshot = profile.snapshot()
    rng = random.Random(seed)
    out = []
    for record, features in kept:
        out.append(_one(record, features, config, snapshot, profile, rng.random()))
        if progress is not None:
            progress(1)
    return Replay(tuple(out), profile, rescored, reused, missing)


def _chat(record: RequestRecord, prompt: Text) -> ChatRequest:
    turns = prompt.messages or ()
    messages = [Message.model_validate({"role": m.role, "content": m.text}) for m in turns]
    return ChatRequest(model=record.requested, messages=messages or list(_BLANK), user=record.user)


def _one(
    record: RequestRecord,
    features: Features,
    config: Config,
    snapshot: SignalSnapshot,
    profile: LogProfile,
    roll: float,
) -> Replayed:
    before = _side(record, features, config, profile, record.model, record.deployment, None)
    principal = Principal(record.key, record.team, frozenset(record.tags))
    rule: str | None
    refusal: str | None
    try:
        decision = _decide(record, features, principal, record.headers, config, snapshot, roll)
    except RouterError as exc:
        after = Side(None, None, None, None, None, None)
        rule, refusal = None, exc.code or exc.type
        detail = f"{exc.status} {refusal}: {exc}"
    else:
        dep = decision.chain[0].deployment
        after = _side(record, features, config, profile, dep.logical_model, dep.name, decision)
        rule, refusal, detail = f"{decision.policy}/{decision.rule}", None, decision.reason
    return Replayed(
        record.request_id,
        record.time,
        record.requested,
        record.task or features.task,
        record.status,
        record.cost_usd,
        record.latency_s,
        before,
        after,
        rule,
        refusal,
        detail,
    )


def _decide(
    record: RequestRecord,
    features: Features,
    principal: Principal,
    headers: Mapping[str, str],
    config: Config,
    snapshot: SignalSnapshot,
    roll: float,
) -> Decision:
    policies = config.policies
    # what the key may name, as the live GuardedDecider checks it: a candidate's auth counts
    check_access(
        config.tenancy, principal, record.requested, policies.policies, policies.aliases,
        config.catalog,
    )  # fmt: skip
    chat = ChatRequest(model=record.requested, messages=list(_BLANK), user=record.user)
    given = DecisionInput(
        chat, features, principal, headers, config.policies, config.catalog, snapshot, roll
    )
    return decide(given)


def _side(
    record: RequestRecord,
    features: Features,
    config: Config,
    profile: LogProfile,
    model: str | None,
    deployment: str | None,
    decision: Decision | None,
) -> Side:
    if model is None:
        return Side(None, None, None, None, None, None)
    catalog = config.catalog
    entry = catalog.models.get(model)
    dep = catalog.deployments.get(deployment) if deployment is not None else None
    prompt = record.prompt_tokens if record.prompt_tokens is not None else features.prompt_tokens
    answer = record.completion_tokens
    if answer is None and decision is not None:
        answer = round(decision.chain[0].expected_output_tokens or 0)
    cost = None
    if answer is not None:
        if dep is not None:
            cost = dep.price.cost(prompt, answer)
        elif entry is not None:
            cost = entry.price.cost(prompt, answer)
    # a cache hit has no deployment: its model's, as if it had not been cached
    latency = profile.latency(deployment or "", model, answer or 0, catalog)
    task = record.task or features.task
    quality = entry.quality_for(task) if entry is not None else None
    return Side(model, deployment, cost, latency, quality, _as_good(config, model, features))


def _as_good(config: Config, model: str, features: Features) -> float | None:
    signal = config.difficulty
    if signal is None or features.difficulty is None:
        return None
    if model == signal.strong:
        return 1.0
    if model == signal.weak:
        return 1.0 - features.difficulty
    return None
