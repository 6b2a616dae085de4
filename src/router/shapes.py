"""Shapes that several packages share, below all of them: the caller (``Principal``), token
``Usage``, the ``Clock`` every timed part is given, and the client-closed status. Nothing here
does I/O or imports anything of router's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

Clock = Callable[[], float]
"""Seconds as a float; injected (``time.perf_counter`` in the app), never read from ``time``
where a test would want to move it."""

CircuitState = Literal["closed", "half_open", "open"]
"""A deployment's breaker (see ``router.signals``)."""

CLIENT_CLOSED: Final = 499
"""nginx's "client closed request": the status a request is counted under when its client left
before the answer; no client ever sees it."""


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def from_openai(cls, usage: Any) -> Usage | None:
        if not isinstance(usage, dict):
            return None
        return cls(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as policies and the cache see it: never the key itself."""

    name: str
    team: str | None = None
    tags: frozenset[str] = frozenset()
    is_master: bool = False

    @property
    def namespace(self) -> str:
        """Cache tenant: a team shares entries, otherwise each key has its own."""
        return f"team:{self.team}" if self.team else f"key:{self.name}"


ANONYMOUS = Principal("anonymous")
