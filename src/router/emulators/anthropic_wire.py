"""Anthropic Messages API wire format: request parsing and response rendering."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from router.emulators.anthropic_features import (
    Extras,
    check_fields,
    extras,
    signature,
    thinking_text,
)
from router.emulators.generation import Completion, Prompt, ToolMode, ToolSpec, choose_tool
from router.emulators.server import ChatCall, Problem
from router.emulators.sse import StreamScript, event_frame
from router.emulators.tokenizer import count_tokens, split_chars, split_pieces

_STOP_REASON = {
    "stop": "end_turn",
    "length": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
}
_MALFORMED = (
    b"event: content_block_delta\n"
    b'data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_d\n\n'
)
_STREAM_ERROR = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


@dataclass(frozen=True, slots=True)
class ClaudeCall(ChatCall):
    """A Messages request: the chat call plus what only the Messages API has."""

    extras: Extras = field(default_factory=Extras)
    cache_read: int = 0  # prompt tokens read from the emulated prompt cache
    cache_write: int = 0  # prompt tokens written to it

    @property
    def thinking(self) -> str | None:
        if not self.extras.thinking:
            return None
        return thinking_text(self.prompt.last_user_text) if self.extras.thinking_shown else ""


def _bad(message: str) -> Problem:
    return Problem(400, message)


def _block_text(block: Mapping[str, Any]) -> tuple[str, int]:
    """Text carried by one content block, and how many non-text tokens it costs."""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", "")), 0
    if kind == "tool_use":
        return orjson.dumps(block.get("input", {})).decode(), 0
    if kind == "tool_result":
        return _content_text(block.get("content", ""))
    return "", 1  # image, document, ...: one token each


def _content_text(content: object) -> tuple[str, int]:
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        return "", 0
    texts: list[str] = []
    others = 0
    for block in content:
        if isinstance(block, Mapping):
            text, extra = _block_text(block)
            if text:
                texts.append(text)
            others += extra
    return " ".join(texts), others


def _tool_results(content: object) -> str | None:
    """Joined text of the tool_result blocks of a user turn, or None if it has none."""
    if not isinstance(content, list):
        return None
    results = [
        _content_text(block.get("content", ""))[0]
        for block in content
        if isinstance(block, Mapping) and block.get("type") == "tool_result"
    ]
    return " ".join(results) if results else None


def _plain_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = [b for b in content if isinstance(b, Mapping) and b.get("type") == "text"]
    return " ".join(str(b.get("text", "")) for b in texts)


def _tools(body: Mapping[str, Any]) -> list[ToolSpec] | Problem:
    raw = body.get("tools")
    if raw is None:
        return []
    if not isinstance(raw, list):
        return _bad("tools: Input should be a valid list")
    specs: list[ToolSpec] = []
    for index, tool in enumerate(raw):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            return _bad(f"tools.{index}.name: Field required")
        schema = tool.get("input_schema")
        if schema is None and "type" in tool:
            continue  # server tools (web search, ...) are not client tool calls
        if not isinstance(schema, Mapping):
            return _bad(f"tools.{index}.custom.input_schema: Field required")
        specs.append(ToolSpec(tool["name"], schema))
    return specs


def _tool_mode(body: Mapping[str, Any]) -> tuple[ToolMode, str | None] | Problem:
    choice = body.get("tool_choice")
    if choice is None:
        return "auto", None
    if not isinstance(choice, Mapping):
        return _bad("tool_choice: Input should be a valid dictionary")
    kind = choice.get("type")
    if kind == "tool":
        name = choice.get("name")
        return (
            ("forced", name)
            if isinstance(name, str)
            else _bad("tool_choice.tool.name: Field required")
        )
    if kind == "any":
        return "required", None
    if kind in ("auto", "none"):
        return ("auto" if kind == "auto" else "none"), None
    return _bad("tool_choice: Input tag does not match any of the expected tags")


def parse_messages(
    body: Any, betas: frozenset[str] = frozenset(), *, counting: bool = False
) -> ClaudeCall | Problem:
    """A Messages request, or a ``count_tokens`` one (``counting``: no ``max_tokens``)."""
    if not isinstance(body, Mapping):
        return _bad("Request body must be a JSON object")
    unknown = check_fields(body, betas)
    if unknown is not None:
        return unknown
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _bad("model: Field required")
    max_tokens = body.get("max_tokens")
    if max_tokens is None and not counting:
        return _bad("max_tokens: Field required")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        return _bad("max_tokens: Input should be a valid integer greater than or equal to 1")
    messages = body.get("messages")
    if not isinstance(messages, list):
        return _bad(
            "messages: Field required"
            if messages is None
            else "messages: Input should be a valid list"
        )
    if not messages:
        return _bad("messages: at least one message is required")
    system_text, system_other = _content_text(body.get("system", ""))
    prompt_tokens = count_tokens(system_text) + system_other
    last_user_text = ""
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, Mapping) else None
        if role == "system":
            return _bad(
                'messages: Unexpected role "system". The Messages API accepts a '
                'top-level `system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            return _bad(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        assert isinstance(message, Mapping)
        text, others = _content_text(message.get("content"))
        prompt_tokens += count_tokens(text) + others
        plain = _plain_text(message.get("content"))
        if role == "user" and plain:
            last_user_text = plain
    last = messages[-1]
    tool_result = _tool_results(last.get("content")) if last.get("role") == "user" else None
    tools = _tools(body)
    if isinstance(tools, Problem):
        return tools
    mode = _tool_mode(body)
    if isinstance(mode, Problem):
        return mode
    if mode[0] == "forced" and not any(t.name == mode[1] for t in tools):
        return _bad(f"tool_choice: tool '{mode[1]}' not found in tools")
    stops = body.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        return _bad("stop_sequences: Input should be a valid list of strings")
    last_is_user = last.get("role") == "user" and tool_result is None
    more = extras(body, max_tokens or 0)
    if isinstance(more, Problem):
        return more
    prompt = Prompt(
        model=model,
        last_user_text=last_user_text,
        tool_result=tool_result,
        prompt_tokens=prompt_tokens,
        tool_to_call=choose_tool(tools, mode[0], mode[1], last_is_user, last_user_text),
        json_schema=more.schema,
        max_tokens=max_tokens,
        stop=tuple(stops),
    )
    return ClaudeCall(
        prompt=prompt, stream=body.get("stream") is True, model_label=model, extras=more
    )


def _content_blocks(call: ChatCall, completion: Completion) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    thought = call.thinking if isinstance(call, ClaudeCall) else None
    if thought is not None:
        blocks.append({"type": "thinking", "thinking": thought, "signature": signature(thought)})
    tool = completion.tool_call
    if tool is not None:
        blocks.append(
            {
                "type": "tool_use",
                "id": tool.id,
                "name": tool.name,
                "input": orjson.loads(tool.arguments),
            }
        )
    elif completion.text:
        blocks.append({"type": "text", "text": completion.text})
    return blocks


def _output_tokens(call: ChatCall, completion: Completion) -> int:
    thought = call.thinking if isinstance(call, ClaudeCall) else None
    return completion.completion_tokens + (count_tokens(thought) if thought else 0)


def _usage(call: ChatCall, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    read = call.cache_read if isinstance(call, ClaudeCall) else 0
    written = call.cache_write if isinstance(call, ClaudeCall) else 0
    return {
        "input_tokens": input_tokens - read - written,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "output_tokens": output_tokens,
    }


def render_message(call: ChatCall, completion: Completion, message_id: str) -> dict[str, Any]:
    output = _output_tokens(call, completion)
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": call.model_label,
        "content": _content_blocks(call, completion),
        "stop_reason": _STOP_REASON[completion.finish],
        "stop_sequence": completion.stop_sequence,
        "usage": _usage(call, completion.prompt_tokens, output),
    }


def _thinking_frames(thought: str) -> list[bytes]:
    """A whole thinking block at index 0: start, one thinking delta (none when its display
    is omitted), its signature, stop."""
    start = {"type": "thinking", "thinking": "", "signature": ""}
    shown = [{"type": "thinking_delta", "thinking": thought}] if thought else []
    deltas = [*shown, {"type": "signature_delta", "signature": signature(thought)}]
    return [
        event_frame(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": start},
        ),
        *(
            event_frame(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d}
            )
            for d in deltas
        ),
        event_frame("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ]


def render_stream(
    call: ChatCall, completion: Completion, message_id: str, chunk_count: int | None
) -> StreamScript:
    """message_start, content_block_start, ping, deltas, content_block_stop,
    message_delta, message_stop: the order the real API uses."""
    start = {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": call.model_label,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(call, completion.prompt_tokens, 1),
        },
    }
    thought = call.thinking if isinstance(call, ClaudeCall) else None
    index = 0 if thought is None else 1
    tool = completion.tool_call
    if tool is None:
        block: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [
            {"type": "text_delta", "text": piece}
            for piece in split_pieces(completion.text, chunk_count)
        ]
    else:
        block = {"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in split_chars(tool.arguments, chunk_count)
        ]
    preamble = [
        event_frame("message_start", start),
        *(_thinking_frames(thought) if thought is not None else ()),
        event_frame(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        ),
        event_frame("ping", {"type": "ping"}),
    ]
    chunks = [
        event_frame(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )
        for delta in deltas
    ]
    finish = {
        "type": "message_delta",
        "delta": {
            "stop_reason": _STOP_REASON[completion.finish],
            "stop_sequence": completion.stop_sequence,
        },
        "usage": {"output_tokens": _output_tokens(call, completion)},
    }
    epilogue = [
        event_frame("content_block_stop", {"type": "content_block_stop", "index": index}),
        event_frame("message_delta", finish),
        event_frame("message_stop", {"type": "message_stop"}),
    ]
    return StreamScript(preamble, chunks, epilogue, event_frame("error", _STREAM_ERROR), _MALFORMED)
