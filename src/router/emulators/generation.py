"""Provider-neutral answer generation: what the fake model "says".

Wire modules translate a provider request into a :class:`Prompt`, call
:func:`generate`, and render the resulting :class:`Completion` in their own
format.  Everything here is a pure function of its inputs, so answers and
usage are reproducible across runs and providers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from router.emulators.schema_values import example_value
from router.emulators.tokenizer import count_tokens, truncate

FinishReason = Literal["stop", "length", "tool_use", "stop_sequence"]
ToolMode = Literal["auto", "none", "required", "forced"]
_WORD = re.compile(r"[\w-]+")

_FILLER = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliett", "kilo", "lima", "mike", "november", "oscar", "papa",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Prompt:
    """The parts of a chat request that decide the answer."""

    model: str
    last_user_text: str = ""
    tool_result: str | None = None
    """Text of the tool result(s) when the conversation ends with one."""
    prompt_tokens: int = 0
    tool_to_call: ToolSpec | None = None
    """Set by the wire parser (see :func:`choose_tool`) when the answer is a tool call."""
    json_schema: Mapping[str, Any] | None = None
    json_object: bool = False
    max_tokens: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """JSON text of the arguments object."""


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    tool_call: ToolCall | None
    finish: FinishReason
    stop_sequence: str | None
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def choose_tool(
    tools: Sequence[ToolSpec],
    mode: ToolMode,
    forced_name: str | None,
    last_is_user: bool,
    last_user_text: str,
) -> ToolSpec | None:
    """Decide whether the answer is a tool call, and to which tool.

    Forced and required choices always call a tool; ``auto`` calls one only
    when the user spoke last (after a tool result the model answers in text).
    Among candidates, a tool whose name appears as a word in the user's text wins,
    otherwise the first tool.
    """
    if not tools or mode == "none":
        return None
    if mode == "forced":
        return next((t for t in tools if t.name == forced_name), None)
    if mode == "auto" and not last_is_user:
        return None
    words = set(_WORD.findall(last_user_text.lower()))
    return next((t for t in tools if t.name.lower() in words), tools[0])


def generate(
    prompt: Prompt,
    call_id: str,
    words: int,
    reply: str | None = None,
) -> Completion:
    """Produce the answer for ``prompt``; ``reply`` overrides the text verbatim."""
    if prompt.tool_to_call is not None and reply is None:
        arguments = orjson.dumps(example_value(prompt.tool_to_call.schema)).decode()
        return Completion(
            text="",
            tool_call=ToolCall(call_id, prompt.tool_to_call.name, arguments),
            finish="tool_use",
            stop_sequence=None,
            prompt_tokens=prompt.prompt_tokens,
            completion_tokens=max(1, count_tokens(arguments)),
        )
    text = reply if reply is not None else _content(prompt, words)
    text, finish, matched = _apply_limits(text, prompt.max_tokens, prompt.stop)
    return Completion(
        text=text,
        tool_call=None,
        finish=finish,
        stop_sequence=matched,
        prompt_tokens=prompt.prompt_tokens,
        completion_tokens=count_tokens(text),
    )


def answer_text(model: str, last_user_text: str, tool_result: str | None, words: int) -> str:
    """The plain-text answer: an attributed echo of the user, padded to ``words`` tokens."""
    if tool_result is not None:
        return f"Answer from {model} using tool result: {tool_result}"
    head = f"Answer from {model}:"
    room = max(0, words - count_tokens(head))
    body = last_user_text.split()[:room]
    body.extend(_FILLER[i % len(_FILLER)] for i in range(room - len(body)))
    return " ".join([head, *body]) if body else head


def _content(prompt: Prompt, words: int) -> str:
    text = answer_text(prompt.model, prompt.last_user_text, prompt.tool_result, words)
    if prompt.json_schema is not None:
        return orjson.dumps(example_value(prompt.json_schema)).decode()
    if prompt.json_object:
        return orjson.dumps({"answer": text, "model": prompt.model}).decode()
    return text


def _apply_limits(
    text: str, max_tokens: int | None, stops: Sequence[str]
) -> tuple[str, FinishReason, str | None]:
    """Cut at the earliest stop sequence, then at ``max_tokens``; report which won."""
    matched: str | None = None
    cut = len(text)
    for stop in stops:
        index = text.find(stop) if stop else -1
        if index != -1 and index < cut:
            cut, matched = index, stop
    # Trailing whitespace is dropped so streamed pieces (token-based) rejoin
    # to exactly the non-streamed content.
    text = text[:cut].rstrip()
    if max_tokens is not None and count_tokens(text) > max_tokens:
        return truncate(text, max_tokens), "length", None
    if matched is not None:
        return text, "stop_sequence", matched
    return text, "stop", None
