"""What an emulator received, kept so tests can assert on the gateway's traffic."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from router.emulators.behaviour import Behaviour


@dataclass(slots=True)
class ReceivedRequest:
    """One HTTP request as the emulator saw it, updated as the response progresses.

    ``cancelled`` becomes True when the client went away (closed the socket or
    reset the stream) before the emulator finished its response; ``completed``
    when the emulator finished writing it (including error responses and
    deliberate faults such as an in-stream error).  ``chunks_sent`` counts
    content chunks written to a stream.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    """Parsed JSON body, or None when absent or not JSON."""
    received_at: float = field(default_factory=time.monotonic)
    behaviour: Behaviour | None = None
    status: int | None = None
    stream: bool = False
    chunks_sent: int = 0
    completed: bool = False
    cancelled: bool = False
    finished_at: float | None = None

    @property
    def model(self) -> str | None:
        if isinstance(self.body, dict):
            model = self.body.get("model")
            return model if isinstance(model, str) else None
        return None

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        return self.headers.get(name.lower())

    def finish(self, *, cancelled: bool = False) -> None:
        if self.finished_at is not None:
            return
        self.finished_at = time.monotonic()
        self.cancelled = cancelled
        self.completed = not cancelled
