"""Small request records for the request log's tests."""

from __future__ import annotations

from router.requestlog.record import (
    LoggedAttempt,
    LoggedFeatures,
    RequestRecord,
    Text,
)
from router.requestlog.text import digest


def record(
    n: int = 0,
    *,
    requested: str = "auto",
    model: str | None = "gpt-4o",
    deployment: str | None = "gpt-4o@openai",
    task: str = "general",
    status: int = 200,
    completion_tokens: int | None = 100,
    upstream_s: float | None = 1.0,
    difficulty: float | None = None,
    key: str = "ci",
    team: str | None = None,
    headers: dict[str, str] | None = None,
) -> RequestRecord:
    return RequestRecord(
        time=f"2025-01-01T00:00:{n % 60:02d}.000Z",
        request_id=f"req-{n}",
        key=key,
        team=team,
        requested=requested,
        status=status,
        latency_s=(upstream_s or 0.0) + 0.001,
        prompt=Text(digest(f"prompt {n}")),
        headers=headers or {},
        policy="coding" if model else None,
        rule=task if model else None,
        task=task,
        features=LoggedFeatures(task, 40, difficulty=difficulty),
        attempts=(LoggedAttempt(deployment, True),) if deployment else (),
        model=model,
        deployment=deployment,
        prompt_tokens=40 if model else None,
        completion_tokens=completion_tokens if model else None,
        cost_usd=0.001 if model else None,
        upstream_s=upstream_s if model else None,
        cache="miss",
    )
