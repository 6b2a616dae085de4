"""One request's outcome -> its ``RequestRecord``: the only code that reads router's live types
(decision, features, attempt errors) on the log's behalf.

Called once per request when its outcome is known; it copies what it needs into the record's
own small types, hashes the prompt and the answer (or keeps their text, when the request's
policy has ``log: {capture: prompts}``), and leaves encoding to the writer's background task.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from router.config.catalog import Deployment
from router.config.load import Config
from router.errors import AttemptError
from router.policy.classify import Features
from router.policy.decide import MAX_COST_HEADER, OBJECTIVE_HEADER, TASK_HEADER
from router.policy.decision import Decision
from router.policy.model import PolicySet
from router.requestlog.record import (
    LoggedAttempt,
    LoggedCandidate,
    LoggedExclusion,
    LoggedFeatures,
    RequestRecord,
)
from router.requestlog.text import answer_of, prompt_text, user_of
from router.shapes import Principal, Usage
from router.wire import ParsedRequest

_OVERRIDES = (OBJECTIVE_HEADER, TASK_HEADER, MAX_COST_HEADER)


@dataclass(frozen=True, slots=True)
class Served:
    """The answer a request got, as the pipeline settled it."""

    deployment: Deployment
    usage: Usage | None
    cost_usd: float
    upstream_s: float
    ttft_s: float | None = None
    answer: str | None = None  # the first choice's text, when the answer was complete


def utc_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def routing_headers(policies: PolicySet) -> frozenset[str]:
    """The headers a decision can read: the override headers and every header a policy's
    ``select`` or rule ``when`` names. Only these are logged (never ``authorization``)."""
    names = set(_OVERRIDES)
    for policy in policies.policies.values():
        for match in (policy.select, *(r.match for r in policy.rules)):
            if match is not None:
                names.update(name for name, _ in match.headers)
    return frozenset(names)


def capture_prompts(config: Config, decision: Decision | None, requested: str) -> bool:
    """The deciding policy's ``log.capture``; before a decision, the policy the client named."""
    policies = config.policies
    name = decision.policy if decision is not None else policies.aliases.get(requested, requested)
    found = policies.policies.get(name)
    return found is not None and found.capture_prompts


def build_record(
    *,
    request_id: str,
    principal: Principal,
    request: ParsedRequest,
    headers: Mapping[str, str],
    logged_headers: frozenset[str],
    config: Config,
    decision: Decision | None,
    features: Features | None,
    status: int,
    latency_s: float,
    cache: str,
    error: str | None = None,
    failures: Sequence[AttemptError] = (),
    served: Served | None = None,
) -> RequestRecord:
    chat = request.chat
    capture = capture_prompts(config, decision, chat.model)
    feats = features or (decision.features if decision is not None else None)
    signal = config.difficulty
    attempts = [LoggedAttempt(f.deployment, False, f.kind, f.status) for f in failures]
    usage = served.usage if served is not None else None
    if served is not None:
        attempts.append(LoggedAttempt(served.deployment.name, status == 200))
    return RequestRecord(
        time=utc_now(),
        request_id=request_id,
        key=principal.name,
        team=principal.team,
        tags=tuple(sorted(principal.tags)),
        requested=chat.model,
        user=user_of(chat, capture),
        headers={k: v for k, v in headers.items() if k in logged_headers},
        status=status,
        error=error,
        latency_s=round(latency_s, 6),
        prompt=prompt_text(chat, capture),
        policy=decision.policy if decision is not None else None,
        rule=decision.rule if decision is not None else None,
        task=decision.task if decision is not None else None,
        objective=decision.objective if decision is not None else None,
        split_arm=decision.split_arm if decision is not None else None,
        features=_features(feats) if feats is not None else None,
        difficulty_model=signal.signature() if signal is not None and feats is not None else None,
        chain=tuple(
            LoggedCandidate(
                c.deployment.name,
                c.deployment.logical_model,
                c.role,
                c.expected_cost_usd,
                c.expected_latency_s,
                c.quality,
            )
            for c in (decision.chain if decision is not None else ())
        ),
        excluded=tuple(
            LoggedExclusion(e.deployment, e.reason, e.kind)
            for e in (decision.excluded if decision is not None else ())
        ),
        attempts=tuple(attempts),
        model=served.deployment.logical_model if served is not None else None,
        deployment=served.deployment.name if served is not None else None,
        prompt_tokens=usage.prompt_tokens if usage is not None else None,
        completion_tokens=usage.completion_tokens if usage is not None else None,
        cost_usd=served.cost_usd if served is not None else None,
        upstream_s=round(served.upstream_s, 6) if served is not None else None,
        ttft_s=round(served.ttft_s, 6) if served is not None and served.ttft_s else None,
        cache=cache,
        answer=answer_of(served.answer, capture)
        if served is not None and served.answer is not None
        else None,
    )


def _features(f: Features) -> LoggedFeatures:
    return LoggedFeatures(
        task=f.task,
        prompt_tokens=f.prompt_tokens,
        max_output_tokens=f.max_output_tokens,
        has_tools=f.has_tools,
        has_images=f.has_images,
        wants_json=f.wants_json,
        stream=f.stream,
        difficulty=round(f.difficulty, 6) if f.difficulty is not None else None,
    )
