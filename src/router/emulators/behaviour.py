"""Per-request fault and latency controls, and the queue that hands them out.

A :class:`Behaviour` is resolved once per chat request, in this order:
the ``x-emulator-control`` request header (JSON object of Behaviour fields),
else the next matching entry queued with :meth:`Planner.plan`, else the
server's default.  Tail latency (``slow_fraction``/``slow_factor``) is then
applied with a per-server seeded RNG so benchmark runs are reproducible.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

CONTROL_HEADER = "x-emulator-control"


class ControlError(ValueError):
    """The control header could not be turned into a Behaviour."""


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the emulator answers one request.  All fields default to "normal".

    Chunk counts refer to *content* chunks of a stream (text pieces or
    tool-argument pieces), not to protocol framing events; a count past the
    end of a short answer fires just before the stream's closing events.

    Non-streaming requests wait ``latency_s`` plus the time the stream would
    have taken (``ttft_s``, the chunk intervals, any stall) before answering;
    ``drop_after_chunks`` aborts the connection before any response,
    ``malformed_after_chunks`` sends a truncated JSON body with status 200,
    and ``error_event_after_chunks`` is ignored.
    """

    latency_s: float = 0.0
    """Delay before response headers (time to first byte)."""
    ttft_s: float = 0.0
    """Extra delay, after headers, before the first content chunk of a stream."""
    chunk_count: int | None = None
    """How many content chunks to split the answer into (None: one per token)."""
    chunk_interval_s: float = 0.0
    """Pause between consecutive content chunks."""
    status: int | None = None
    """Fail with this HTTP status and the provider's error body."""
    retry_after: float | None = None
    """Seconds for the ``Retry-After`` header on an error response."""
    drop_after_chunks: int | None = None
    """Abort the TCP connection after this many content chunks (no terminator)."""
    error_event_after_chunks: int | None = None
    """Send a provider-shaped in-stream error after this many chunks, then end."""
    malformed_after_chunks: int | None = None
    """Send one SSE data line that is not valid JSON after this many chunks."""
    stall_after_chunks: int | None = None
    """Stop sending for ``stall_s`` after this many chunks, then carry on."""
    stall_s: float = 0.0
    reply: str | None = None
    """Answer text to use instead of the generated one."""
    reply_words: int | None = None
    """Length of the generated answer in tokens (server default otherwise)."""
    slow_fraction: float = 0.0
    """Fraction of requests whose delays are multiplied by ``slow_factor``."""
    slow_factor: float = 1.0

    @classmethod
    def from_json(cls, raw: str | bytes) -> Behaviour:
        """Parse the control header; unknown fields or bad types are errors."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ControlError(f"{CONTROL_HEADER} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ControlError(f"{CONTROL_HEADER} must be a JSON object")
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Behaviour:
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            kind = _FIELD_KINDS.get(key)
            if kind is None:
                raise ControlError(f"unknown {CONTROL_HEADER} field {key!r}")
            kwargs[key] = _coerce(key, value, kind)
        return cls(**kwargs)

    def slowed(self, factor: float) -> Behaviour:
        """Same behaviour with every delay multiplied by ``factor``."""
        return dataclasses.replace(
            self,
            latency_s=self.latency_s * factor,
            ttft_s=self.ttft_s * factor,
            chunk_interval_s=self.chunk_interval_s * factor,
        )


def _field_kinds() -> dict[str, str]:
    kinds: dict[str, str] = {}
    for field in dataclasses.fields(Behaviour):
        annotation = str(field.type)
        if "str" in annotation:
            kinds[field.name] = "str"
        elif "int" in annotation:
            kinds[field.name] = "int"
        else:
            kinds[field.name] = "float"
    return kinds


_FIELD_KINDS = _field_kinds()


def _coerce(key: str, value: object, kind: str) -> object:
    if value is None:
        return None
    if kind == "str" and isinstance(value, str):
        return value
    # bool is an int subclass; "status": true is a typo, not a status.
    if isinstance(value, bool):
        raise ControlError(f"{CONTROL_HEADER} field {key!r} must be a {kind}")
    if kind == "int" and isinstance(value, int):
        return value
    if kind == "float" and isinstance(value, int | float):
        return float(value)
    raise ControlError(f"{CONTROL_HEADER} field {key!r} must be a {kind}")


@dataclass(slots=True)
class _PlanEntry:
    behaviour: Behaviour
    remaining: int
    model: str | None


class Planner:
    """Hands out behaviours: queued plans first, then the default.

    Thread-safe because tests often plan from the main thread while the
    server runs in an :class:`EmulatorThread`.
    """

    def __init__(self, seed: int = 0) -> None:
        self.default = Behaviour()
        self._entries: deque[_PlanEntry] = deque()
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def plan(self, behaviour: Behaviour, times: int = 1, model: str | None = None) -> None:
        """Apply ``behaviour`` to the next ``times`` requests (for ``model`` only, if given)."""
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._entries.append(_PlanEntry(behaviour, times, model))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @property
    def pending(self) -> int:
        """Requests still covered by queued plans."""
        with self._lock:
            return sum(entry.remaining for entry in self._entries)

    def next_for(self, model: str, override: Behaviour | None = None) -> Behaviour:
        behaviour = override if override is not None else self._take(model)
        if behaviour.slow_fraction > 0.0 and self._rng.random() < behaviour.slow_fraction:
            return behaviour.slowed(behaviour.slow_factor)
        return behaviour

    def _take(self, model: str) -> Behaviour:
        if not self._entries:  # lock-free fast path for the benchmark case
            return self.default
        with self._lock:
            for entry in self._entries:
                if entry.model is None or entry.model == model:
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        self._entries.remove(entry)
                    return entry.behaviour
        return self.default
