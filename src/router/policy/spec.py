"""The ``policies:`` section as written: its raw YAML schema (pydantic, unknown keys refused).
``policy.build`` turns a validated spec into the runtime objects ``decide()`` reads.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from router.config.schema import Capability, Strict
from router.policy.decision import CacheMode

TaskName = Literal["code", "reasoning", "general"]
Metric = Literal["cost", "latency", "quality"]
ObjectiveName = Literal["cost", "latency", "quality", "priority"]
Override = Literal["objective", "task", "max_cost"]
Weight = Annotated[float, Field(allow_inf_nan=False)]  # NaN would silently disable a split


def _listify(value: object) -> object:
    return [value] if isinstance(value, str) else value


# One name or a list of names; a single value is read as a list of one (one error message).
TaskList = Annotated[list[TaskName], BeforeValidator(_listify)]
NameList = Annotated[list[str], BeforeValidator(_listify)]


class RangeSpec(Strict):
    min: float | None = Field(None, ge=0, le=1)
    max: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> RangeSpec:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is above 'max'")
        return self


class RatioRangeSpec(RangeSpec):
    """A range of a non-negative ratio (no upper limit of 1)."""

    min: float | None = Field(None, ge=0, allow_inf_nan=False)
    max: float | None = Field(None, ge=0, allow_inf_nan=False)


class MatchSpec(Strict):
    task: TaskList | None = None
    team: NameList | None = None
    tags: list[str] | None = Field(None, description="matches when the key has any of them")
    headers: dict[str, str] | None = Field(None, description="exact value, or '*' for present")
    stream: bool | None = None
    tools: bool | None = None
    images: bool | None = None
    json_mode: bool | None = None
    min_prompt_tokens: int | None = Field(None, ge=0)
    max_prompt_tokens: int | None = Field(None, ge=0)
    difficulty: RangeSpec | None = Field(
        None, description="P(the request needs the strong model), from server.difficulty_model"
    )
    difficulty_per_cost: RatioRangeSpec | None = Field(
        None,
        description="predicted quality gain of the strong model per extra cost, relative to "
        "the average request (1.0: what a random mix buys), from server.difficulty_model",
    )


class ConstraintsSpec(Strict):
    min_quality: float | None = Field(None, ge=0)
    max_p95_latency_s: float | None = Field(None, gt=0)
    max_cost_usd: float | None = Field(None, ge=0)
    max_error_rate: float | None = Field(None, ge=0, le=1)
    require: list[Capability] = Field(default_factory=list)


class RuleSpec(Strict):
    name: str = Field(min_length=1)
    when: MatchSpec | None = None
    candidates: list[str] = Field(min_length=1)
    objective: ObjectiveName | dict[Metric, Weight] = "cost"
    constraints: ConstraintsSpec = ConstraintsSpec()
    split: dict[str, Weight] | None = None
    sticky: bool = False
    fallbacks: list[str] = Field(default_factory=list)
    quality_from: Literal["catalog", "difficulty"] = Field(
        "catalog", description="'difficulty': per-request quality from the learned signal"
    )

    @model_validator(mode="after")
    def _check(self) -> RuleSpec:
        if isinstance(self.objective, dict) and (
            not self.objective
            or any(w < 0 for w in self.objective.values())
            or sum(self.objective.values()) <= 0
        ):
            raise ValueError("objective weights must be >= 0 and not all zero")
        if self.split is not None and any(w < 0 for w in self.split.values()):
            raise ValueError("split weights must be >= 0")
        if self.sticky and self.split is None:
            raise ValueError("'sticky' only applies to a rule with a 'split'")
        return self


class RetrySpec(Strict):
    max_retries: int = Field(1, ge=0, le=10)
    backoff_base_s: float = Field(0.1, ge=0)
    backoff_max_s: float = Field(2.0, ge=0)
    max_retry_after_s: float = Field(10.0, ge=0)


class HedgeSpec(Strict):
    delay_s: float = Field(1.0, gt=0)
    use_p95: bool = False


class CacheSpec(Strict):
    mode: CacheMode = CacheMode.OFF
    ttl_s: int = Field(3600, gt=0)


class DegradeSpec(Strict):
    """Route cheaper while the caller's most-used budget is above ``budget_above`` (0..1)."""

    budget_above: float = Field(gt=0, lt=1, description="e.g. 0.8: above 80% used")
    min_quality: float | None = Field(None, ge=0, description="replaces every rule's floor")
    candidates: NameList | None = Field(None, description="models or deployments kept")

    @model_validator(mode="after")
    def _something(self) -> DegradeSpec:
        if self.min_quality is None and self.candidates is None:
            raise ValueError("degrade needs 'min_quality', 'candidates' or both")
        return self


class PolicyLogSpec(Strict):
    capture: Literal["hash", "prompts"] = Field(
        "hash",
        description="what the request log keeps of prompts and answers: their hash, or the "
        "text itself ('prompts'; lets router replay re-score them)",
    )


class PolicySpec(Strict):
    description: str | None = None
    default: bool = Field(False, description="the policy behind the 'auto' alias")
    aliases: list[str] = Field(default_factory=list)
    select: MatchSpec | None = Field(None, description="applies to alias requests that match")
    overrides: list[Override] = Field(default_factory=list)
    retry: RetrySpec = RetrySpec()
    hedge: HedgeSpec | None = None
    cache: CacheSpec = CacheSpec()
    deadline_s: float | None = Field(None, gt=0)
    default_output_tokens: int = Field(500, gt=0)
    degrade: DegradeSpec | None = Field(None, description="route cheaper as a budget fills")
    log: PolicyLogSpec = PolicyLogSpec()
    rules: list[RuleSpec] = Field(min_length=1)
