"""YAML under ``policies/`` -> one validated, frozen runtime ``Config``.

Raw sections are validated with pydantic models that forbid unknown keys; every problem is
collected (not just the first) and reported as ``file:line:column: message`` with a hint.
A directory is read as all of its ``*.yaml`` / ``*.yml`` files (not recursively), merged by
section; a name defined twice is an error naming both places.

Sections: ``server``, ``auth``, ``models`` (the catalog), ``policies``, ``tests`` (policy test
cases, run by ``router check``), ``request_log`` (docs/requestlog.md). Sections other than the
catalog are parsed by their owners (``policy``, ``tenancy``) through ``Entry`` objects that
keep their source map. There is no top-level ``cache`` section: caching is set per policy
(``policies.<name>.cache``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from router.config.yamlsrc import ConfigError, ConfigIssue, PathKey, SourceMap, load

TASK_CLASSES = ("code", "reasoning", "general")
# json_mode: both JSON answers; json_object / json_schema: one of them (Claude has only schemas)
Capability = Literal["tools", "vision", "json_mode", "json_object", "json_schema", "streaming"]

SECTIONS = ("server", "auth", "models", "policies", "tests", "request_log")
# Sections people reach for that live elsewhere: the hint says where.
_MOVED = {"cache": "the response cache is set per policy: policies.<name>.cache (mode, ttl_s)"}
_NAMED_SECTIONS = ("models", "policies")  # mappings of name -> entry, merged across files


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


@dataclass(frozen=True, slots=True)
class Entry:
    """One named entry of a section, with where it came from (for owners' own validation)."""

    name: str
    data: Any
    source: SourceMap
    path: PathKey

    def locate(self, sub: PathKey = ()) -> Any:
        return self.source.locate((*self.path, *sub))


@dataclass(frozen=True, slots=True)
class RawConfig:
    """Merged, still-unvalidated sections of all files, each entry with its source."""

    files: tuple[str, ...]
    singles: dict[str, Entry] = field(default_factory=dict)  # server, auth
    named: dict[str, dict[str, Entry]] = field(default_factory=dict)  # models, policies
    tests: tuple[Entry, ...] = ()


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], entry: Entry, issues: list[ConfigIssue]) -> M | None:
    """Validate ``entry`` as ``model``; on failure append located issues and return None."""
    try:
        return model.model_validate(entry.data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
            issues.append(
                ConfigIssue(entry.locate(loc), _message(err, loc), _hint(model, err, loc))
            )
        return None


def _message(err: Any, loc: PathKey) -> str:
    where = ".".join(str(p) for p in loc)
    if err["type"] == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    if err["type"] == "missing":
        return f"missing required key {where!r}"
    prefix = f"{where}: " if where else ""
    return prefix + str(err["msg"]).removeprefix("Value error, ")


def _hint(model: type[BaseModel], err: Any, loc: PathKey) -> str | None:
    if err["type"] != "extra_forbidden":
        return None
    owner: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fld = getattr(owner, "model_fields", {}).get(part)
        if fld is None:
            return None
        owner = _inner_model(fld.annotation)
    fields = getattr(owner, "model_fields", None)
    if not fields:
        return None
    close = _closest(str(loc[-1]), fields)
    allowed = ", ".join(fields)
    return f"did you mean {close!r}? allowed: {allowed}" if close else f"allowed: {allowed}"


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def _closest(word: str, options: Iterable[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return found[0] if found else None


def config_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


def read_raw(path: Path) -> RawConfig:
    """Read and merge every file; collects structural issues across all files."""
    files = config_files(path)
    issues: list[ConfigIssue] = []
    if not files:
        from router.config.yamlsrc import Position

        raise ConfigError([ConfigIssue(Position(str(path), 1, 1), "no *.yaml files found")])
    singles: dict[str, Entry] = {}
    named: dict[str, dict[str, Entry]] = {s: {} for s in _NAMED_SECTIONS}
    tests: list[Entry] = []
    for file in files:
        try:
            data, source = load(file)
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        if data is None:
            continue
        if not isinstance(data, dict):
            issues.append(ConfigIssue(source.locate(()), "a config file must be a mapping"))
            continue
        for section, value in data.items():
            _merge_section(section, value, source, singles, named, tests, issues)
    if issues:
        raise ConfigError(issues)
    return RawConfig(tuple(str(f) for f in files), singles, named, tuple(tests))


def _merge_section(
    section: str,
    value: Any,
    source: SourceMap,
    singles: dict[str, Entry],
    named: dict[str, dict[str, Entry]],
    tests: list[Entry],
    issues: list[ConfigIssue],
) -> None:
    key_pos = source.locate((section,))
    if section not in SECTIONS:
        close = _closest(section, SECTIONS)
        hint = f"did you mean {close!r}?" if close else f"sections: {', '.join(SECTIONS)}"
        hint = _MOVED.get(section, hint)
        issues.append(ConfigIssue(key_pos, f"unknown section {section!r}", hint))
    elif section == "tests":
        if not isinstance(value, list):
            issues.append(ConfigIssue(key_pos, "'tests' must be a list of test cases"))
            return
        tests.extend(Entry(str(i), v, source, ("tests", i)) for i, v in enumerate(value))
    elif section in _NAMED_SECTIONS:
        if not isinstance(value, dict):
            issues.append(ConfigIssue(key_pos, f"'{section}' must map names to entries"))
            return
        for name, item in value.items():
            if name in named[section]:
                first = named[section][name].locate()
                msg = f"{section[:-1]} {name!r} is defined twice (first at {first})"
                issues.append(ConfigIssue(source.locate((section, name)), msg))
                continue
            named[section][name] = Entry(name, item, source, (section, name))
    elif section in singles:
        first = singles[section].locate()
        issues.append(ConfigIssue(key_pos, f"section {section!r} appears twice (first at {first})"))
    else:
        singles[section] = Entry(section, value if value is not None else {}, source, (section,))


def validate_single(
    raw: RawConfig, section: str, model: type[M], issues: list[ConfigIssue]
) -> M | None:
    entry = raw.singles.get(section)
    if entry is None:
        return model.model_validate({})
    return validate(model, entry, issues)


def collect(
    entries: dict[str, Entry], model: type[M], issues: list[ConfigIssue]
) -> dict[str, tuple[M, Entry]]:
    out: dict[str, tuple[M, Entry]] = {}
    for name, entry in entries.items():
        spec = validate(model, entry, issues)
        if spec is not None:
            out[name] = (spec, entry)
    return out
