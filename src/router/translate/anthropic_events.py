"""What router reads from an Anthropic answer passing through to an Anthropic client, without
changing it: the usage (``message_start``, then ``message_delta``'s cumulative counts, which
overwrite), whether it is complete (worth caching), and the model name router puts in it (the
logical model, as in an OpenAI answer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from router.shapes import Usage
from router.translate.openai_to_anthropic_answer import router_usage

JSON = dict[str, Any]


class EventWatch:
    """Watches one stream of Anthropic events; ``see`` each event in order."""

    def __init__(self, model: str | None = None) -> None:
        self._model = model  # None: read only, the events stay as they are
        self._usage: JSON = {}
        self.start: JSON = {}  # the message_start's message

    def see(self, event: JSON) -> None:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                if self._model is not None:
                    message["model"] = self._model
                self._usage = dict(message.get("usage") or {})
                self.start = message
        elif kind == "message_delta":
            for name, value in (event.get("usage") or {}).items():
                if value is not None:
                    self._usage[name] = value

    @property
    def usage(self) -> Usage | None:
        return router_usage(self._usage) if self._usage else None


def is_message(body: JSON) -> bool:
    return body.get("type") == "message"


def is_event(chunk: JSON) -> bool:
    return chunk.get("type") == "message_start"


def message_complete(body: JSON) -> bool:
    """A whole message that ended for a reason (not cut off by an error)."""
    return body.get("stop_reason") is not None


def events_complete(events: Sequence[JSON]) -> bool:
    """A stream that reached ``message_stop`` after a stop reason."""
    stopped = any(
        e.get("type") == "message_delta" and (e.get("delta") or {}).get("stop_reason")
        for e in events
    )
    return stopped and bool(events) and events[-1].get("type") == "message_stop"
