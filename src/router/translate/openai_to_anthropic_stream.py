"""Claude's stream events -> OpenAI ``chat.completion.chunk`` dicts, for an OpenAI client.

Every event type has its place:

- ``message_start``: the id, model and prompt usage; a role chunk goes out;
- ``content_block_start``: a ``tool_use`` block opens a tool call (id and name) at the next
  OpenAI tool index; text and thinking blocks wait for their deltas;
- ``content_block_delta``: ``text_delta`` -> ``content``, ``input_json_delta`` -> that tool
  call's ``arguments``, ``thinking_delta`` -> ``reasoning_content``, ``signature_delta`` is
  kept; ``citations_delta`` carries nothing OpenAI can show;
- ``content_block_stop``: a finished thinking block is kept whole (with its signature), to be
  sent as ``thinking_blocks`` with the finish chunk;
- ``message_delta``: the stop reason and the cumulative usage (it overwrites, as in
  Anthropic's own SDK);
- ``message_stop``: the finish chunk, then the usage chunk (``choices: []``), as OpenAI sends
  them with ``stream_options.include_usage``;
- ``ping``: nothing. An ``error`` event is the adapter's to raise before it gets here.
"""

from __future__ import annotations

from typing import Any

from router.shapes import Usage
from router.translate.openai_to_anthropic_answer import FINISH_REASON, router_usage, usage

JSON = dict[str, Any]


class EventsToChunks:
    """Feed events in order; each ``feed`` returns the chunks to pass on (often none)."""

    def __init__(self, *, created: int) -> None:
        self._created = created
        self._id = ""
        self._model = ""
        self._usage: JSON = {}
        self._stop: str | None = None
        self._tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool call index
        self._thinking: dict[int, JSON] = {}  # open thinking blocks by index
        self._thoughts: list[JSON] = []
        self.finished = False  # message_stop arrived: the stream is complete

    @property
    def usage(self) -> Usage | None:
        return router_usage(self._usage) if self._usage else None

    def feed(self, event: JSON) -> list[JSON]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self._id = message.get("id") or ""
            self._model = message.get("model") or ""
            self._usage = dict(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._start(int(event.get("index", 0)), event.get("content_block") or {})
        if kind == "content_block_delta":
            return self._delta(int(event.get("index", 0)), event.get("delta") or {})
        if kind == "content_block_stop":
            thought = self._thinking.pop(int(event.get("index", 0)), None)
            if thought is not None:
                self._thoughts.append(thought)
            return []
        if kind == "message_delta":
            delta = event.get("delta") or {}
            self._stop = delta.get("stop_reason") or self._stop
            for name, value in (event.get("usage") or {}).items():
                if value is not None:
                    self._usage[name] = value
            return []
        if kind == "message_stop":
            self.finished = True
            return self._finish()
        return []  # ping, and event types added after this was written

    def _start(self, index: int, block: JSON) -> list[JSON]:
        kind = block.get("type")
        if kind == "tool_use":
            position = self._tools[index] = len(self._tools)
            opening = {
                "index": position,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            return [self._chunk({"tool_calls": [opening]})]
        if kind == "thinking":
            self._thinking[index] = {
                "type": "thinking",
                "thinking": block.get("thinking") or "",
                "signature": block.get("signature") or "",
            }
        elif kind == "redacted_thinking":
            self._thoughts.append(block)
        elif kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        return []

    def _delta(self, index: int, delta: JSON) -> list[JSON]:
        kind = delta.get("type")
        if kind == "text_delta":
            return [self._chunk({"content": delta.get("text") or ""})]
        if kind == "input_json_delta" and index in self._tools:
            call = {"index": self._tools[index], "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        thought = self._thinking.get(index)
        if kind == "thinking_delta" and thought is not None:
            thought["thinking"] += delta.get("thinking") or ""
            return [self._chunk({"reasoning_content": delta.get("thinking") or ""})]
        if kind == "signature_delta" and thought is not None:
            thought["signature"] = delta.get("signature") or ""
        return []

    def _finish(self) -> list[JSON]:
        final: JSON = {}
        if self._thoughts:
            final["thinking_blocks"] = self._thoughts
        finish = FINISH_REASON.get(str(self._stop), "stop")
        closing = self._chunk(final, finish)
        tail = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [],
            "usage": usage(self._usage),
        }
        return [closing, tail]

    def _chunk(self, delta: JSON, finish: str | None = None) -> JSON:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
