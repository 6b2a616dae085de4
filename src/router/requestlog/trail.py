"""One request's trail through the pipeline, kept for the request log, and the record it becomes.

The pipeline's per-request facade (``router.report.RequestReport``) tells the trail what it
tells the metrics and the access log (the decision, the cache result, the attempts, tokens
and cost, the first token, how it ended); nothing is computed twice. When the request ends
the trail becomes a ``RequestRecord``: the prompt and answer hashed (or kept as text, when the
request's policy has ``log: {capture: prompts}``), then handed to the log's queue. Building
it never raises into the request: a bug here is counted as a dropped record.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from router.config.load import Config
from router.errors import AttemptError
from router.metrics import Metrics
from router.policy.classify import Features, classify
from router.policy.decision import Decision
from router.policy.model import PolicySet
from router.policy.overrides import MAX_COST_HEADER, OBJECTIVE_HEADER, TASK_HEADER
from router.requestlog.record import (
    LoggedAttempt,
    LoggedCandidate,
    LoggedExclusion,
    LoggedFeatures,
    RequestRecord,
    Text,
    as_classified,
)
from router.requestlog.text import answer_of, answer_text, prompt_text, streamed_text, user_of
from router.requestlog.writer import RequestLog
from router.shapes import Principal
from router.wire import ParsedRequest

_OVERRIDES = (OBJECTIVE_HEADER, TASK_HEADER, MAX_COST_HEADER)


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


def utc_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class RequestRecorder:
    """The pipeline's handle on the request log: a trail per request, or none when off."""

    def __init__(self, log: RequestLog, metrics: Metrics) -> None:
        self._log = log
        self._metrics = metrics
        # per config (a reload swaps it): the headers to log, and the signal's signature
        self._memo: tuple[Config, frozenset[str], str | None] | None = None

    def trail(
        self,
        request_id: str | None,
        request: ParsedRequest,
        principal: Principal,
        headers: Mapping[str, str],
        config: Config,
    ) -> RequestTrail | None:
        if not self._log.enabled:
            return None
        memo = self._memo
        if memo is None or memo[0] is not config:
            signal = config.difficulty
            signature = signal.signature() if signal is not None else None
            memo = self._memo = (config, routing_headers(config.policies), signature)
        logged = {k: v for k, v in headers.items() if k in memo[1]}
        return RequestTrail(self, request_id or "", request, principal, logged, config, memo[2])

    def submit(self, trail: RequestTrail, status: int, error: str | None, latency_s: float) -> None:
        try:
            record = trail.record(status, error, latency_s)
        except Exception:  # a bug in the log must never reach the request
            self._metrics.record_log_dropped("encode_error")
            return
        self._log.submit(record)


class RequestTrail:
    """Filled in by ``RequestReport`` as the request goes; ``finish`` happens once."""

    __slots__ = (
        "_answer",
        "_config",
        "_done",
        "_headers",
        "_principal",
        "_recorder",
        "_request",
        "_request_id",
        "_signal",
        "cache",
        "cost_usd",
        "decision",
        "deployment",
        "failures",
        "model",
        "tokens",
        "ttft_s",
        "upstream_s",
    )

    def __init__(
        self,
        recorder: RequestRecorder,
        request_id: str,
        request: ParsedRequest,
        principal: Principal,
        headers: dict[str, str],
        config: Config,
        signal: str | None,
    ) -> None:
        self._recorder = recorder
        self._signal = signal
        self._request_id = request_id
        self._request = request
        self._principal = principal
        self._headers = headers
        self._config = config
        self._answer: dict[str, Any] | list[dict[str, Any]] | None = None
        self._done = False
        self.decision: Decision | None = None
        self.cache = "bypass"
        self.failures: Sequence[AttemptError] = ()
        self.model: str | None = None
        self.deployment: str | None = None
        self.tokens: tuple[int, int] | None = None
        self.cost_usd: float | None = None
        self.ttft_s: float | None = None
        self.upstream_s: float | None = None

    def answered(
        self, body: dict[str, Any] | None = None, chunks: list[dict[str, Any]] | None = None
    ) -> None:
        """The answer as it went out (its text is read at the end, off the hot loop)."""
        self._answer = body if body is not None else chunks

    def finish(
        self,
        status: int,
        latency_s: float,
        *,
        model: str | None = None,
        upstream_s: float | None = None,
        error: str | None = None,
    ) -> None:
        if self._done:
            return
        self._done = True
        self.model = model or self.model
        self.upstream_s = upstream_s
        self._recorder.submit(self, status, error, latency_s)

    def record(self, status: int, error: str | None, latency_s: float) -> RequestRecord:
        chat = self._request.chat
        config, decision = self._config, self.decision
        capture = capture_prompts(config, decision, chat.model)
        features = decision.features if decision is not None else None
        if features is None:  # refused before a decision: classify here, on this rare path
            features = classify(chat, config.difficulty)
        answered = self.deployment is not None or status == 200  # else: nobody answered
        attempts = [LoggedAttempt(f.deployment, False, f.kind, f.status) for f in self.failures]
        if self.deployment is not None:
            attempts.append(LoggedAttempt(self.deployment, status == 200))
        return RequestRecord(
            time=utc_now(),
            request_id=self._request_id,
            key=self._principal.name,
            team=self._principal.team,
            tags=tuple(sorted(self._principal.tags)),
            requested=chat.model,
            user=user_of(chat, capture),
            headers=self._headers,
            status=status,
            error=error,
            latency_s=round(latency_s, 6),
            prompt=prompt_text(chat, capture),
            policy=decision.policy if decision is not None else None,
            rule=decision.rule if decision is not None else None,
            task=decision.task if decision is not None else None,
            objective=decision.objective if decision is not None else None,
            split_arm=decision.split_arm if decision is not None else None,
            features=_features(features),
            difficulty_model=self._signal,
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
            model=self.model if answered else None,
            deployment=self.deployment,
            prompt_tokens=self.tokens[0] if self.tokens is not None else None,
            completion_tokens=self.tokens[1] if self.tokens is not None else None,
            cost_usd=self.cost_usd if answered else None,
            upstream_s=_round(self.upstream_s) if answered else None,
            ttft_s=_round(self.ttft_s),
            cache=self.cache,
            answer=self._answer_text(capture, status),
        )

    def _answer_text(self, capture: bool, status: int) -> Text | None:
        found = self._answer
        if found is None or status != 200:
            return None
        text = answer_text(found) if isinstance(found, dict) else streamed_text(found)
        return answer_of(text, capture)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _features(f: Features) -> LoggedFeatures:
    return LoggedFeatures(
        **as_classified(f),
        difficulty=_round(f.difficulty),
        difficulty_per_cost=_round(f.difficulty_per_cost),
        demands=tuple(sorted(f.demands)),
    )
