"""Shapes that several packages share, below all of them: the caller (``Principal``), token
``Usage``, the ``Clock`` every timed part is given, the client-closed status, and an Anthropic
Messages request (``MessagesCall``). Nothing here does I/O or imports anything of router's.
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


@dataclass(frozen=True, slots=True)
class MessagesCall:
    """An Anthropic Messages request as the client sent it: Claude deployments receive
    ``body`` unchanged (only ``model`` replaced) with the client's ``anthropic-beta`` values;
    every other deployment gets it translated to OpenAI chat, per attempt."""

    body: dict[str, Any]
    betas: tuple[str, ...] = ()

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True
