"""The one place router calls providers.

``Upstream`` is the seam: ``complete`` for a whole answer, ``stream`` for OpenAI-shaped chunks.
Two adapters implement it: ``openai_compat`` (OpenAI, Azure OpenAI, Azure AI Foundry, straight
over a pooled aiohttp client: the hot path) and ``litellm_adapter`` (every other provider
litellm speaks, Anthropic first). ``Upstreams`` picks one per deployment, resolved once.

Both adapters raise ``AttemptFailed`` for any failure of one attempt, with foreign exceptions
translated in ``upstream.failures``; nothing else in router sees aiohttp or litellm errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from router.config.catalog import Deployment
from router.shapes import Usage


@dataclass(slots=True)
class Completion:
    """A whole ``chat.completion`` object as the upstream sent it (OpenAI shape)."""

    body: dict[str, Any]
    usage: Usage | None


class ChunkStream(Protocol):
    """OpenAI ``chat.completion.chunk`` objects; ``aclose`` cancels the upstream request."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def aclose(self) -> None: ...


class Upstream(Protocol):
    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        """One attempt; raises ``AttemptFailed``."""
        ...

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChunkStream:
        """Open a stream (status checked, nothing read yet); raises ``AttemptFailed``. Reading
        it may raise ``AttemptFailed`` too (error event, malformed chunk, dropped connection,
        idle timeout)."""
        ...

    async def aclose(self) -> None: ...
