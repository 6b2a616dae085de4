"""Between the two shapes of one answer: a ``chat.completion`` and its ``chat.completion.chunk``
list. A cached stream can answer a non-streaming request and the reverse.

Aggregation is what an OpenAI client does with a stream: concatenate text (``content``,
``refusal`` and any other string field such as ``reasoning_content``), assemble tool calls by
their index, keep the last ``finish_reason`` and the usage. Splitting emits what OpenAI emits:
a role chunk, the content, one delta per tool call, a finish chunk, and a usage chunk when the
client asked for one. ``aggregate(split(c)) == c`` for a completion in that normal form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

JSON = dict[str, Any]

_ENVELOPE = ("id", "created", "model", "system_fingerprint", "service_tier")
_SPLIT_APART = frozenset({"role", "content", "tool_calls", "function_call"})


def is_usage_chunk(chunk: JSON) -> bool:
    """The trailing chunk ``stream_options.include_usage`` adds: no choices, only usage."""
    return not chunk.get("choices") and chunk.get("usage") is not None


class _Choice:
    """One choice's deltas, accumulated."""

    def __init__(self) -> None:
        self.message: JSON = {"role": "assistant"}
        self.saw_content = False
        self.tool_calls: dict[int, JSON] = {}
        self.function_call: JSON | None = None
        self.finish_reason: str | None = None
        self.logprobs: dict[str, list[Any]] | None = None

    def add(self, choice: JSON) -> None:
        delta: JSON = choice.get("delta") or {}
        for name, value in delta.items():
            if name == "tool_calls":
                for call in value or ():
                    self._add_tool_call(call)
            elif name == "function_call" and value:
                self.function_call = _merge_call(self.function_call, value)
            elif name == "content":
                self.saw_content = self.saw_content or value is not None
                self._add_text(name, value)
            elif name == "role":
                self.message["role"] = value or self.message["role"]
            else:
                self._add_text(name, value)
        if choice.get("finish_reason") is not None:
            self.finish_reason = choice["finish_reason"]
        logprobs = choice.get("logprobs")
        if logprobs:
            merged = self.logprobs if self.logprobs is not None else {}
            for part, tokens in logprobs.items():
                merged.setdefault(part, []).extend(tokens or ())
            self.logprobs = merged

    def _add_text(self, name: str, value: Any) -> None:
        current = self.message.get(name)
        if isinstance(value, str) and isinstance(current, str):
            self.message[name] = current + value
        elif value is not None or name not in self.message:
            self.message[name] = value

    def _add_tool_call(self, call: JSON) -> None:
        index = int(call.get("index", len(self.tool_calls)))
        merged = self.tool_calls.get(index)
        if merged is None:
            merged = self.tool_calls[index] = {
                "id": None,
                "type": "function",
                "function": {"name": "", "arguments": ""},
            }
        for name in ("id", "type"):
            if call.get(name):
                merged[name] = call[name]
        merged["function"] = _merge_call(merged["function"], call.get("function") or {})

    def build(self, index: int) -> JSON:
        message = dict(self.message)
        text = message.get("content")
        if not text and (self.tool_calls or self.function_call):
            message["content"] = None  # OpenAI's shape for a pure tool call
        elif not self.saw_content:
            message["content"] = None
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        if self.function_call is not None:
            message["function_call"] = self.function_call
        return {
            "index": index,
            "message": message,
            "logprobs": self.logprobs,
            "finish_reason": self.finish_reason,
        }


def _merge_call(current: JSON | None, delta: JSON) -> JSON:
    merged = dict(current or {"name": "", "arguments": ""})
    if delta.get("name"):
        merged["name"] = delta["name"]
    merged["arguments"] = merged.get("arguments", "") + (delta.get("arguments") or "")
    return merged


def chunks_to_completion(chunks: Sequence[JSON]) -> JSON:
    """Aggregate a complete stream into the ``chat.completion`` it stands for."""
    if not chunks:
        raise ValueError("cannot aggregate an empty stream")
    choices: dict[int, _Choice] = {}
    usage: JSON | None = None
    for chunk in chunks:
        if chunk.get("usage") is not None:
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            choices.setdefault(int(choice.get("index", 0)), _Choice()).add(choice)
    first = chunks[0]
    completion: JSON = {name: first[name] for name in _ENVELOPE if name in first}
    completion["object"] = "chat.completion"
    completion["choices"] = [choices[i].build(i) for i in sorted(choices)]
    if usage is not None:
        completion["usage"] = usage
    return completion


def completion_to_chunks(completion: JSON, *, include_usage: bool) -> list[JSON]:
    """Split a ``chat.completion`` into the chunks a stream of it would have carried."""
    envelope: JSON = {name: completion[name] for name in _ENVELOPE if name in completion}
    envelope["object"] = "chat.completion.chunk"

    def chunk(index: int, delta: JSON, finish: str | None = None, logprobs: Any = None) -> JSON:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return {**envelope, "choices": [choice]}

    chunks: list[JSON] = []
    for choice in completion.get("choices") or ():
        index = int(choice.get("index", 0))
        message: JSON = choice.get("message") or {}
        content = message.get("content")
        logprobs = choice.get("logprobs")
        # Non-text fields (annotations, audio, a null refusal) ride on the role chunk.
        opening: JSON = {"role": message.get("role", "assistant"), "content": None}
        texts: list[JSON] = []
        for name, value in message.items():
            if name in _SPLIT_APART:
                continue
            if isinstance(value, str):
                texts.append({name: value})
            else:
                opening[name] = value
        if isinstance(content, str):
            opening["content"] = ""
            if content:
                texts.insert(0, {"content": content})
        elif content is not None:
            opening["content"] = content  # content parts: passed through whole
        chunks.append(chunk(index, opening))
        for position, delta in enumerate(texts):
            chunks.append(chunk(index, delta, logprobs=logprobs if position == 0 else None))
        for position, call in enumerate(message.get("tool_calls") or ()):
            chunks.append(chunk(index, {"tool_calls": [{"index": position, **call}]}))
        if message.get("function_call"):
            chunks.append(chunk(index, {"function_call": message["function_call"]}))
        finish_logprobs = logprobs if not texts else None
        chunks.append(chunk(index, {}, choice.get("finish_reason"), finish_logprobs))
    usage = completion.get("usage")
    if include_usage and usage is not None:
        chunks.append({**envelope, "choices": [], "usage": usage})
    return chunks


def with_usage(chunks: list[JSON], *, include_usage: bool, usage: JSON | None) -> list[JSON]:
    """A recorded stream as this client asked for it: with the usage chunk only if it set
    ``stream_options.include_usage`` (which is not part of the cache key)."""
    recorded = any(chunk.get("usage") is not None for chunk in chunks)
    if include_usage:
        if recorded or usage is None or not chunks:
            return chunks
        envelope = {name: chunks[0][name] for name in _ENVELOPE if name in chunks[0]}
        envelope["object"] = "chat.completion.chunk"
        return [*chunks, {**envelope, "choices": [], "usage": usage}]
    if not recorded:
        return chunks
    return [
        {name: value for name, value in chunk.items() if name != "usage"}
        for chunk in chunks
        if not is_usage_chunk(chunk)
    ]


def finished(choices: Sequence[JSON], stream: bool) -> bool:
    """Every choice reached a ``finish_reason``: only then is an answer worth caching."""
    if stream:
        seen: dict[int, bool] = {}
        for chunk_choice in choices:
            index = int(chunk_choice.get("index", 0))
            seen[index] = seen.get(index, False) or chunk_choice.get("finish_reason") is not None
        return bool(seen) and all(seen.values())
    return bool(choices) and all(c.get("finish_reason") is not None for c in choices)
