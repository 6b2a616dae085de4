"""The raw sections' schema: pydantic models that forbid unknown keys, one per section
(``server``, ``auth``, ``models``, ``request_log``) and for what they hold. Reading the files
and validating an entry against one of these, with located issues, is ``raw``; the policies'
own schema is ``policy.spec``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

TASK_CLASSES = ("code", "reasoning", "general")
# json_mode: both JSON answers; json_object / json_schema: one of them (Claude has only schemas)
Capability = Literal["tools", "vision", "json_mode", "json_object", "json_schema", "streaming"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


OnStoreError = Literal["allow", "deny"]
BudgetPeriod = Literal["day", "month", "total"]
KEY_HASH_PREFIX = "sha256:"


class LimitSpec(Strict):
    """Per key, team or deployment; counted in the store, so exact across replicas."""

    rpm: int | None = Field(None, gt=0, description="requests per minute")
    tpm: int | None = Field(None, gt=0, description="tokens (prompt + output) per minute")
    concurrent: int | None = Field(None, gt=0, description="requests in flight at once")
    on_store_error: OnStoreError = Field("allow", description="when the store cannot answer")


class Timeouts(Strict):
    connect_s: float = Field(5.0, gt=0, description="TCP/TLS connect")
    ttft_s: float = Field(30.0, gt=0, description="time to first byte / first token")
    total_s: float = Field(600.0, gt=0, description="whole attempt")
    idle_s: float = Field(60.0, gt=0, description="longest silence inside a stream")


class DeploymentSpec(Strict):
    name: str | None = Field(None, description="unique id; default '<model>@<provider>'")
    provider: str = Field(description="openai | azure | azure_ai | anthropic | any litellm one")
    model: str = Field(description="the upstream's model (or Azure deployment) name")
    base_url: str | None = None
    api_key_env: str | None = Field(None, description="NAME of the env var holding the key")
    api_version: str | None = None
    price_key: str | None = Field(None, description="key in litellm's price map, if not model")
    timeouts: Timeouts = Timeouts()
    limits: LimitSpec | None = Field(None, description="the provider's quota for it")

    @model_validator(mode="after")
    def _check_url(self) -> DeploymentSpec:
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return self


class PricingSpec(Strict):
    input_per_mtok: float = Field(ge=0, description="USD per million input tokens")
    output_per_mtok: float = Field(ge=0, description="USD per million output tokens")
    source: str | None = None


class LatencyProfile(Strict):
    """A model's typical speed, for offline estimates (``router eval``, ``router replay``):
    an answer of N tokens takes ``ttft_s + N / output_tokens_per_s``. Live routing uses the
    measured signals instead."""

    ttft_s: float = Field(ge=0, description="time to first token")
    output_tokens_per_s: float = Field(gt=0)
    source: str | None = None


class ModelSpec(Strict):
    description: str | None = None
    deployments: list[DeploymentSpec] = Field(min_length=1)
    pricing: PricingSpec | None = None
    context_window: int | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, gt=0, description="the model's output cap")
    capabilities: list[Capability] | None = None
    quality: dict[str, float] = Field(default_factory=dict)
    quality_source: str | None = None
    expected_output_tokens: dict[str, int] = Field(default_factory=dict)
    latency: LatencyProfile | None = None


class ServerSpec(Strict):
    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0)
    max_messages: int = Field(2048, gt=0)
    max_in_flight: int = Field(1024, gt=0, description="per worker; beyond it: 503")
    key_share: float = Field(
        0.5, gt=0, le=1, description="largest share of max_in_flight one client key may hold"
    )
    # Connection limits, applied by ``router serve`` (read at start, not on reload).
    max_header_bytes: int = Field(64 * 1024, ge=1024, description="request line and headers")
    header_timeout_s: float = Field(10.0, gt=0, description="to receive a request's headers")
    min_body_bytes_per_s: int = Field(1024, ge=0, description="slower bodies are cut off")
    keep_alive_s: int = Field(5, ge=1, description="idle keep-alive connections close after")
    max_connections: int = Field(2048, gt=0, description="per worker; beyond it: 503")
    baseline_model: str | None = Field(None, description="savings are measured against it")
    circuit_failures: int = Field(5, ge=1, description="consecutive failures that open it")
    circuit_cool_down_s: float = Field(30.0, gt=0, description="open -> half-open after")
    signal_window_s: float = Field(300.0, gt=0, description="latency/error window")
    difficulty_model: str | None = Field(
        None, description="exported difficulty signal (router train), relative to the config"
    )


LogSinkName = Literal["jsonl", "redis"]
_JSONL_ONLY = ("path", "rotate_bytes", "rotate_keep")
_REDIS_ONLY = ("redis_url", "stream_key", "maxlen")


class RequestLogSpec(Strict):
    """One record per request (docs/requestlog.md), written off the request path. No section:
    no log. Read once at start-up: a change takes effect on restart."""

    sink: LogSinkName = Field(
        description="jsonl: rotated files; redis: a stream all replicas share"
    )
    enabled: bool = Field(True, description="false keeps the section but logs nothing")
    path: str | None = Field(None, description="jsonl: the file, relative to the working directory")
    rotate_bytes: int = Field(
        64 * 1024 * 1024, ge=4096, description="jsonl: rotate once the file is this big"
    )
    rotate_keep: int = Field(5, ge=1, le=1000, description="jsonl: rotated files kept (.1, .2...)")
    redis_url: str | None = Field(
        None, description="redis: redis://, rediss:// or unix:// URL; default: env REDIS_URL"
    )
    stream_key: str = Field("router:requests", min_length=1, description="redis: the stream")
    maxlen: int = Field(100_000, ge=1000, description="redis: entries kept, about (XADD MAXLEN ~)")
    queue_size: int = Field(
        10_000, ge=1, description="records waiting to be written; beyond it they are dropped"
    )

    @field_validator(*_JSONL_ONLY)
    @classmethod
    def _jsonl_only(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("sink") != "jsonl":
            raise ValueError("only for sink 'jsonl'")
        return value

    @field_validator(*_REDIS_ONLY)
    @classmethod
    def _redis_only(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("sink") != "redis":
            raise ValueError("only for sink 'redis'")
        if info.field_name == "redis_url" and not str(value).startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _check(self) -> RequestLogSpec:
        if self.sink == "jsonl" and not self.path:
            raise ValueError("sink 'jsonl' needs a 'path'")
        return self


class BudgetSpec(Strict):
    usd: float = Field(gt=0, description="US dollars per period")
    period: BudgetPeriod = Field(description="day | month (UTC calendar) | total")
    on_store_error: OnStoreError = "allow"


class AllowSpec(Strict):
    """What a key or team may name as ``model``; a kind left out allows none of that kind."""

    policies: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    deployments: list[str] = Field(default_factory=list)


class KeySpec(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._@-]+$")
    key_env: str | None = Field(None, description="NAME of the env var holding this client key")
    hash: str | None = Field(
        None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="'sha256:' + hex digest of the key (router keys create prints it)",
    )
    team: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9._@-]+$")
    tags: list[str] = Field(default_factory=list)
    expires: datetime | date | None = Field(None, description="UTC when no zone is given")
    allow: AllowSpec | None = None
    limits: LimitSpec | None = None
    budgets: list[BudgetSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> KeySpec:
        if (self.key_env is None) == (self.hash is None):
            raise ValueError("a key has exactly one of 'hash' (sha256:...) or 'key_env'")
        return self


class TeamSpec(Strict):
    allow: AllowSpec | None = None
    limits: LimitSpec | None = None
    budgets: list[BudgetSpec] = Field(default_factory=list)


class AuthSpec(Strict):
    keys: list[KeySpec] = Field(default_factory=list)
    teams: dict[str, TeamSpec] = Field(default_factory=dict)
