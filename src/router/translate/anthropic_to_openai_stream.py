"""OpenAI ``chat.completion.chunk`` dicts -> Anthropic stream events, for a Messages client
answered by an OpenAI-side model.

The events come in the order Anthropic sends them, with block indexes counted from 0 as its
SDK expects: ``message_start`` (with the first chunk), then per content block
``content_block_start``, its ``content_block_delta``s (``text_delta``, or
``input_json_delta`` for a tool call's arguments) and ``content_block_stop``; at the end one
``message_delta`` (stop reason and the usage, whose counts are cumulative and overwrite the
start's, as in Anthropic's own SDK) and ``message_stop``.

OpenAI's ``reasoning_content`` is not passed on: a thinking block without Claude's signature
would be refused if the client sent it back to Claude on its next turn.
"""

from __future__ import annotations

from typing import Any

from router.translate.anthropic_to_openai import STOP_REASON, tool_use_id, usage

JSON = dict[str, Any]


class ChunksToEvents:
    """Feed chunks in order; ``finish`` once the chunk stream ended cleanly."""

    def __init__(self) -> None:
        self._started = False
        self._blocks = 0  # content blocks opened so far
        self._text: int | None = None  # index of the open text block
        self._tools: dict[int, int] = {}  # OpenAI tool call index -> block index
        self._open: list[int] = []
        self._finish: str | None = None
        self._usage: Any = None

    def feed(self, chunk: JSON) -> list[JSON]:
        events: list[JSON] = []
        if not self._started:
            self._started = True
            events.append(_message_start(chunk))
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # one choice: a Messages request cannot ask for more
            delta = choice.get("delta") or {}
            text = delta.get("content") or delta.get("refusal")
            if text:
                events.extend(self._text_delta(str(text)))
            for call in delta.get("tool_calls") or ():
                events.extend(self._tool_delta(call))
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return events

    def finish(self) -> list[JSON]:
        """The closing events: open blocks stop, then the stop reason, usage, message_stop."""
        events = [] if self._started else [_message_start({})]
        events.extend(self._close_all())
        final = {
            "type": "message_delta",
            "delta": {
                "stop_reason": STOP_REASON.get(str(self._finish), "end_turn"),
                "stop_sequence": None,
            },
            "usage": usage(self._usage),
        }
        events.append(final)
        events.append({"type": "message_stop"})
        return events

    def _text_delta(self, text: str) -> list[JSON]:
        events: list[JSON] = []
        if self._text is None:
            events.extend(self._close_all())
            self._text = self._open_block({"type": "text", "text": ""}, events)
        delta = {"type": "text_delta", "text": text}
        events.append({"type": "content_block_delta", "index": self._text, "delta": delta})
        return events

    def _tool_delta(self, call: JSON) -> list[JSON]:
        events: list[JSON] = []
        position = int(call.get("index", 0))
        function = call.get("function") or {}
        index = self._tools.get(position)
        if index is None:
            # Anthropic closes a block before the next starts; OpenAI streams parallel calls
            # one after the other, so the previous call is complete here.
            events.extend(self._close_all())
            block: JSON = {
                "type": "tool_use",
                "id": tool_use_id(call.get("id")),
                "name": function.get("name") or "",
                "input": {},
            }
            index = self._tools[position] = self._open_block(block, events)
        arguments = function.get("arguments")
        if arguments:
            delta = {"type": "input_json_delta", "partial_json": arguments}
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        return events

    def _open_block(self, block: JSON, events: list[JSON]) -> int:
        index = self._blocks
        self._blocks += 1
        self._open.append(index)
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        return index

    def _close_all(self) -> list[JSON]:
        events = [{"type": "content_block_stop", "index": i} for i in self._open]
        self._open.clear()
        self._text = None
        return events


def _message_start(chunk: JSON) -> JSON:
    return {
        "type": "message_start",
        "message": {
            "id": str(chunk.get("id") or ""),
            "type": "message",
            "role": "assistant",
            "model": str(chunk.get("model") or ""),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # Known only at the end of an OpenAI stream: the message_delta carries it.
            "usage": {"input_tokens": 0, "output_tokens": 0},
        },
    }
