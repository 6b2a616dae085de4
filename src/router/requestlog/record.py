"""``RequestRecord``: one request as the log keeps it, and its JSON form (one line per record).

The record is built once the request's outcome is known (``build``) and encoded on the
writer's background task, never on the request path. Decoding validates (pydantic), so a
malformed line in a log is reported with its place instead of surfacing later as a
``KeyError`` in replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

FORMAT: Final = 1  # bump when a field changes meaning; readers refuse other versions

# The record types are slotted but not frozen: a record is built once per request on the
# request path, where a frozen dataclass's per-field object.__setattr__ made building it
# several times slower. Nothing changes a record once built.


@dataclass(slots=True)
class LoggedFeatures:
    """What ``classify`` found: the inputs ``decide()`` read besides headers and caller."""

    task: str
    prompt_tokens: int  # router's estimate, as routing saw it
    max_output_tokens: int | None = None
    has_tools: bool = False
    has_images: bool = False
    wants_json: bool = False
    stream: bool = False
    difficulty: float | None = None  # the learned signal, when one was configured
    difficulty_per_cost: float | None = None  # ... its gain per extra cost, when priced
    # Parameters set that not every provider honours (``classify.demands_of``), and ``n``:
    # replay leaves out the deployments that cannot honour them, and costs every choice.
    demands: tuple[str, ...] = ()
    choices: int = 1


# The fields logged as ``classify.Features`` has them; the others are converted on the way in
# (``difficulty`` rounded, ``demands`` a sorted tuple) and back (by replay).
AS_CLASSIFIED: Final = (
    "task",
    "prompt_tokens",
    "max_output_tokens",
    "has_tools",
    "has_images",
    "wants_json",
    "stream",
    "choices",
)


def as_classified(features: object) -> dict[str, Any]:
    """The ``AS_CLASSIFIED`` fields of a ``Features`` or a ``LoggedFeatures``, by name."""
    return {name: getattr(features, name) for name in AS_CLASSIFIED}


@dataclass(slots=True)
class LoggedCandidate:
    """A deployment in the decision's chain, with what the policy expected of it."""

    deployment: str
    model: str
    role: str  # ranked | split | fallback | direct
    expected_cost_usd: float | None = None
    expected_latency_s: float | None = None
    quality: float | None = None


@dataclass(slots=True)
class LoggedExclusion:
    deployment: str
    reason: str
    kind: str  # request | policy | signal | limit | config


@dataclass(slots=True)
class LoggedAttempt:
    """One try against one deployment: failures in order, then the one that answered."""

    deployment: str
    ok: bool
    error: str | None = None  # AttemptError.kind: status, timeout, connect, protocol, ...
    status: int | None = None  # the upstream's HTTP status, when it answered with one


@dataclass(slots=True)
class LoggedMessage:
    role: str
    text: str


@dataclass(slots=True)
class Text:
    """A prompt or an answer: always its hash (``sha256:`` + hex, to spot repeats), the text
    itself only when the request's policy has ``log: {capture: prompts}``."""

    sha256: str
    messages: tuple[LoggedMessage, ...] | None = None  # a prompt's turns (text parts only)
    text: str | None = None  # an answer


@dataclass(slots=True)
class RequestRecord:
    """One request, from the client's ``model`` to its status.

    ``policy`` is ``None`` when the request was refused before a decision (no rule matched,
    unknown model, a bad override header); ``model`` is ``None`` when nothing answered, and
    ``deployment`` also when the cache did. Times are seconds: ``latency_s`` is the whole
    request as router saw it, ``upstream_s`` the part spent waiting on upstreams, ``ttft_s``
    the first chunk of a stream.
    """

    time: str  # UTC, ISO 8601 with milliseconds
    request_id: str
    key: str  # the key's name, never the key
    requested: str  # the client's ``model``: a policy, an alias or a model
    status: int
    latency_s: float
    prompt: Text
    team: str | None = None
    tags: tuple[str, ...] = ()
    user: str | None = None  # the request's ``user``, hashed unless captured (sticky splits)
    headers: Mapping[str, str] = field(default_factory=dict)  # the ones routing reads
    error: str | None = None  # error code or type when the request failed
    policy: str | None = None
    rule: str | None = None
    task: str | None = None  # after a task override header
    objective: str | None = None
    split_arm: str | None = None
    features: LoggedFeatures | None = None
    difficulty_model: str | None = None  # which learned signal scored ``difficulty``
    chain: tuple[LoggedCandidate, ...] = ()
    excluded: tuple[LoggedExclusion, ...] = ()
    attempts: tuple[LoggedAttempt, ...] = ()
    model: str | None = None
    deployment: str | None = None
    prompt_tokens: int | None = None  # from the upstream's usage
    completion_tokens: int | None = None
    cost_usd: float | None = None
    upstream_s: float | None = None
    ttft_s: float | None = None
    cache: str = "bypass"  # x-router-cache: hit | miss | bypass | stored
    answer: Text | None = None
    v: int = FORMAT


_ADAPTER: Final = TypeAdapter(RequestRecord)


class RecordError(ValueError):
    """A line that is not a request record of this format."""


def encode(record: RequestRecord) -> bytes:
    """The record as one line of compact JSON (no newline), fields with no value left out."""
    return _ADAPTER.dump_json(record, exclude_none=True)


def decode(line: bytes | str) -> RequestRecord:
    try:
        record = _ADAPTER.validate_json(line)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise RecordError(f"{where}: {first['msg']}") from None
    if record.v != FORMAT:
        raise RecordError(f"record format {record.v}, this router reads {FORMAT}")
    return record
