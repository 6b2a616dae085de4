"""What ``decide()`` returns and ``dispatch`` executes: a decision is data, not code.

Kept apart from ``policy`` so that dispatch, cache, accounting and the API layer depend on the
shape of a decision, never on how policies reach it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from router.config.catalog import Deployment

if TYPE_CHECKING:
    from router.policy.classify import Features


class CacheMode(StrEnum):
    ON = "on"
    OFF = "off"
    READ_ONLY = "read_only"
    WRITE_ONLY = "write_only"

    @property
    def reads(self) -> bool:
        return self in (CacheMode.ON, CacheMode.READ_ONLY)

    @property
    def writes(self) -> bool:
        return self in (CacheMode.ON, CacheMode.WRITE_ONLY)


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """Applied by dispatch per deployment in the chain; fallback moves down the chain."""

    max_retries: int = 1  # extra tries on the same deployment for retryable failures
    backoff_base_s: float = 0.1
    backoff_max_s: float = 2.0
    max_retry_after_s: float = 10.0  # a longer Retry-After moves to the next deployment


@dataclass(frozen=True, slots=True)
class HedgeSettings:
    """Start the next candidate if the first has no first token after ``delay_s`` (or the
    deployment's recent p95 TTFT when ``use_p95``)."""

    delay_s: float = 1.0
    use_p95: bool = False


@dataclass(frozen=True, slots=True)
class CacheSettings:
    mode: CacheMode = CacheMode.OFF
    ttl_s: int = 3600


CandidateRole = Literal["ranked", "split", "fallback", "direct"]
"""Why a candidate is where it is: ranked by the objective, the chosen arm of a split, a
fallback of the rule, or a deployment of a model the client named."""

ExclusionKind = Literal["request", "policy", "signal", "limit", "config"]
"""request: the request needs what it lacks (context, capability); policy: a static constraint
(quality, cost); signal: live health (circuit, latency, error rate); limit: the deployment is
at its own quota (tenancy's admission); config: this environment cannot call it (an unset key,
a placeholder host)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One deployment that may answer, with what the policy expected of it."""

    deployment: Deployment
    expected_cost_usd: float | None = None
    expected_latency_s: float | None = None
    quality: float | None = None
    score: float | None = None
    expected_output_tokens: float | None = None  # what the cost estimate assumed
    role: CandidateRole = "ranked"


@dataclass(frozen=True, slots=True)
class Exclusion:
    deployment: str
    reason: str
    kind: ExclusionKind = "policy"


@dataclass(frozen=True, slots=True)
class Decision:
    policy: str  # policy name, or "direct" when the client named a logical model
    rule: str
    chain: tuple[Candidate, ...]  # first answers; the rest are fallbacks, in order
    reason: str  # one short line, sent as x-router-reason
    task: str = "general"
    objective: str | None = None
    excluded: tuple[Exclusion, ...] = ()
    retry: RetrySettings = field(default_factory=RetrySettings)
    hedge: HedgeSettings | None = None
    cache: CacheSettings = field(default_factory=CacheSettings)
    deadline_s: float | None = None  # whole-request budget, capped by policy
    prompt_tokens: int | None = None  # the estimate costs were computed with
    split_arm: str | None = None  # the A/B arm chosen, when the rule splits
    degraded: str | None = None  # why the policy routes cheaper (a budget above its threshold)
    features: Features | None = None  # what classify found: the request log records them
    overrides: tuple[tuple[str, str], ...] = ()  # override headers that changed it: (name, value)

    @property
    def model(self) -> str:
        """The logical model expected to answer (first of the chain)."""
        return self.chain[0].deployment.logical_model if self.chain else ""


def explain(decision: Decision) -> str:
    """The whole decision as indented JSON (``/v1/router/explain``, ``router explain``)."""

    def candidate(c: Candidate) -> dict[str, object]:
        data = asdict(c)
        data["deployment"] = c.deployment.name
        data["model"] = c.deployment.logical_model
        data["provider"] = c.deployment.provider
        return data

    body = asdict(decision)
    body["chain"] = [candidate(c) for c in decision.chain]
    body["model"] = decision.model
    return json.dumps(body, indent=2, default=str)
