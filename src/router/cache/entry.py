"""What the response cache keeps and what a lookup returns.

An entry is one finished answer, as a ``chat.completion`` or as its ``chat.completion.chunk``
list, with what it cost, so a hit can report the spend it avoided. It is stored as one orjson
document: a hit is one GET and one ``orjson.loads``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import ClassVar, Protocol

import orjson

from router.cache.replay import JSON, finished
from router.translate.anthropic_events import (
    events_complete,
    is_event,
    is_message,
    message_complete,
)

_FORMAT = 1  # bump when the stored shape changes; older entries then read as misses


class CacheResult(StrEnum):
    """The ``x-router-cache`` header value, and the ``result`` metric label."""

    HIT = "hit"
    MISS = "miss"
    BYPASS = "bypass"
    STORED = "stored"


@dataclass(frozen=True, slots=True)
class CachedUsage:
    prompt_tokens: int
    completion_tokens: int

    def as_openai(self) -> JSON:
        total = self.prompt_tokens + self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": total,
        }


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """Exactly one of ``completion`` (a ``chat.completion`` body) or ``chunks`` (the
    ``chat.completion.chunk`` bodies of a stream, in order) is set; for an Anthropic Messages
    client, an Anthropic ``message`` or the events of its stream."""

    model: str  # the logical model that answered
    deployment: str
    usage: CachedUsage | None
    cost_usd: float | None
    completion: JSON | None = None
    chunks: list[JSON] | None = None
    created_at: float = 0.0  # wall-clock seconds, set by the cache when stored

    def __post_init__(self) -> None:
        if (self.completion is None) == (self.chunks is None):
            raise ValueError("a cache entry holds either a completion or chunks")

    @property
    def streamed(self) -> bool:
        return self.chunks is not None

    @property
    def complete(self) -> bool:
        """Every choice finished: partial or failed answers are never cached."""
        if self.chunks is not None and self.chunks and is_event(self.chunks[0]):
            return events_complete(self.chunks)
        if self.completion is not None and is_message(self.completion):
            return message_complete(self.completion)
        if self.chunks is not None:
            return finished([c for chunk in self.chunks for c in chunk.get("choices") or ()], True)
        assert self.completion is not None
        return finished(self.completion.get("choices") or [], False)

    def stamped(self, created_at: float) -> CacheEntry:
        return replace(self, created_at=created_at)

    def encode(self) -> bytes:
        usage = self.usage
        return orjson.dumps(
            {
                "v": _FORMAT,
                "model": self.model,
                "deployment": self.deployment,
                "usage": None if usage is None else [usage.prompt_tokens, usage.completion_tokens],
                "cost_usd": self.cost_usd,
                "completion": self.completion,
                "chunks": self.chunks,
                "created_at": self.created_at,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> CacheEntry | None:
        """None for anything unreadable (another format version, a foreign value)."""
        try:
            doc = orjson.loads(raw)
            if not isinstance(doc, dict) or doc.get("v") != _FORMAT:
                return None
            usage = doc["usage"]
            return cls(
                model=str(doc["model"]),
                deployment=str(doc["deployment"]),
                usage=None if usage is None else CachedUsage(int(usage[0]), int(usage[1])),
                cost_usd=None if doc["cost_usd"] is None else float(doc["cost_usd"]),
                completion=doc["completion"],
                chunks=doc["chunks"],
                created_at=float(doc["created_at"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
            return None


@dataclass(frozen=True, slots=True)
class Hit:
    """A cached answer in the shape this request wants: ``chunks`` for a streaming request
    (the API layer frames each as an SSE event), ``completion`` otherwise. Read-only: the
    bodies may be shared with other requests served the same answer."""

    entry: CacheEntry
    age_s: float
    completion: JSON | None = None
    chunks: list[JSON] | None = None
    result: ClassVar[CacheResult] = CacheResult.HIT


@dataclass(frozen=True, slots=True)
class Miss:
    result: ClassVar[CacheResult] = CacheResult.MISS


@dataclass(frozen=True, slots=True)
class Bypass:
    """The cache was not consulted: ``reason`` is ``mode``, ``directive`` or ``store``."""

    reason: str = field(default="mode")
    result: ClassVar[CacheResult] = CacheResult.BYPASS


Lookup = Hit | Miss | Bypass


class CacheObserver(Protocol):
    """How the cache reports what it did; the app forwards these to its metrics."""

    def on_result(self, scope: str, result: CacheResult) -> None:
        """Once per lookup (hit, miss or bypass) and once per entry written (stored)."""

    def on_write_failed(self, scope: str) -> None:
        """An answer that should have been stored was not: the store failed."""

    def on_coalesced(self, scope: str) -> None:
        """A request waited for an identical one in flight and was served its answer (its
        lookup was already counted as a miss)."""

    def on_avoided_cost(self, scope: str, model: str, usd: float) -> None:
        """Spend a hit or a coalesced answer avoided: what the original answer cost."""

    def on_store_error(self, operation: str) -> None:
        """A store call failed (not counted while the store is skipped after a failure)."""
