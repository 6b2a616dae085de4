"""Fakes and sample answers for the cache tests (imported by the modules beside it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from router.cache.entry import CachedUsage, CacheEntry, CacheResult
from router.store import StoreError, StoreFailure, StoreHealth
from router.wire import ChatRequest

JSON = dict[str, Any]


def chat(text: str = "Say hi", **fields: Any) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "fast", "messages": [{"role": "user", "content": text}], **fields}
    )


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingObserver:
    results: list[tuple[str, CacheResult]] = field(default_factory=list)
    coalesced: list[str] = field(default_factory=list)
    avoided: list[tuple[str, str, float]] = field(default_factory=list)
    store_errors: list[str] = field(default_factory=list)
    write_failures: list[str] = field(default_factory=list)

    def on_result(self, scope: str, result: CacheResult) -> None:
        self.results.append((scope, result))

    def on_write_failed(self, scope: str) -> None:
        self.write_failures.append(scope)

    def on_coalesced(self, scope: str) -> None:
        self.coalesced.append(scope)

    def on_avoided_cost(self, scope: str, model: str, usd: float) -> None:
        self.avoided.append((scope, model, usd))

    def on_store_error(self, operation: str) -> None:
        self.store_errors.append(operation)

    def labels(self) -> list[str]:
        return [str(result) for _, result in self.results]


class BrokenStore:
    """Every call fails, as a Redis that is down does."""

    backend = "redis"

    def __init__(self, failure: StoreFailure = StoreFailure.CONNECTION) -> None:
        self.failure = failure
        self.calls: list[str] = []

    def _fail(self, operation: str) -> StoreError:
        self.calls.append(operation)
        return StoreError(operation, self.failure)

    async def get(self, key: str) -> bytes | None:
        raise self._fail("get")

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        raise self._fail("get_many")

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        raise self._fail("set")

    async def set_if_absent(self, key: str, value: bytes, ttl_s: float) -> bool:
        raise self._fail("set_if_absent")

    async def delete(self, key: str, *, if_value: bytes | None = None) -> bool:
        raise self._fail("delete")

    async def delete_prefix(self, prefix: str) -> int:
        raise self._fail("delete_prefix")

    async def incr(self, key: str, ttl_s: float) -> int:
        raise self._fail("incr")

    async def ping(self) -> None:
        raise self._fail("ping")

    def health(self) -> StoreHealth:
        return StoreHealth("redis", False, "down")

    async def aclose(self) -> None:
        return None


def completion(text: str = "Hello there!", *, usage: bool = True) -> JSON:
    body: JSON = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    return body


def _chunk(choices: list[JSON], **extra: Any) -> JSON:
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion.chunk",
        "created": 1_700_000_001,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_1",
        "choices": choices,
        **extra,
    }


def _delta(index: int, delta: JSON, finish: str | None = None) -> JSON:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}


def text_stream(
    pieces: Sequence[str] = ("Hel", "lo", " there", "!"), *, usage: bool = True
) -> list[JSON]:
    chunks = [_chunk([_delta(0, {"role": "assistant", "content": "", "refusal": None})])]
    chunks += [_chunk([_delta(0, {"content": piece})]) for piece in pieces]
    chunks.append(_chunk([_delta(0, {}, "stop")]))
    if usage:
        chunks.append(
            _chunk([], usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13})
        )
    return chunks


def _call(index: int, arguments: str, call_id: str | None = None, name: str = "") -> JSON:
    delta: JSON = {"index": index, "function": {"arguments": arguments}}
    if call_id is not None:
        delta.update(id=call_id, type="function", function={"name": name, "arguments": arguments})
    return _chunk([_delta(0, {"tool_calls": [delta]})])


def tool_stream() -> list[JSON]:
    """Two parallel tool calls whose arguments arrive in pieces, as OpenAI streams them."""
    return [
        _chunk([_delta(0, {"role": "assistant", "content": None})]),
        _call(0, "", "call_a", "get_weather"),
        _call(0, '{"city":'),
        _call(0, ' "Paris"}'),
        _call(1, "", "call_b", "get_time"),
        _call(1, "{}"),
        _chunk([_delta(0, {}, "tool_calls")]),
        _chunk([], usage={"prompt_tokens": 20, "completion_tokens": 15, "total_tokens": 35}),
    ]


def two_choice_stream() -> list[JSON]:
    """``n=2``: choices interleaved."""
    return [
        _chunk([_delta(0, {"role": "assistant", "content": ""})]),
        _chunk([_delta(1, {"role": "assistant", "content": ""})]),
        _chunk([_delta(0, {"content": "Left"})]),
        _chunk([_delta(1, {"content": "Right"})]),
        _chunk([_delta(1, {"content": " side"}, "stop")]),
        _chunk([_delta(0, {}, "length")]),
    ]


def entry(
    *,
    body: JSON | None = None,
    chunks: list[JSON] | None = None,
    cost: float | None = 0.002,
    usage: CachedUsage | None = None,
) -> CacheEntry:
    if body is None and chunks is None:
        body = completion()
    return CacheEntry(
        model="fast",
        deployment="openai/gpt-4o-mini",
        usage=usage if usage is not None else CachedUsage(9, 3),
        cost_usd=cost,
        completion=body,
        chunks=chunks,
    )


def stream_text(chunks: Sequence[JSON], index: int = 0) -> str:
    return "".join(
        (choice.get("delta") or {}).get("content") or ""
        for chunk in chunks
        for choice in chunk.get("choices") or ()
        if choice.get("index", 0) == index
    )
