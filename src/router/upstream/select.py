"""Pick the adapter for a deployment: OpenAI-compatible providers take the aiohttp hot path,
everything else goes through litellm (imported only when first needed: it costs seconds)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from router.config.catalog import Deployment
from router.upstream import ChunkStream, Completion, Upstream


class Upstreams:
    """An ``Upstream`` that delegates per deployment; the choice is a property of the
    deployment, made once in the catalog (``Deployment.openai_compatible``)."""

    def __init__(self, openai: Upstream, other: Callable[[], Upstream]) -> None:
        self._openai = openai
        self._make_other = other
        self._other: Upstream | None = None

    def _for(self, deployment: Deployment) -> Upstream:
        if deployment.openai_compatible:
            return self._openai
        if self._other is None:
            self._other = self._make_other()
        return self._other

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        return await self._for(deployment).complete(deployment, body)

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChunkStream:
        return await self._for(deployment).stream(deployment, body)

    async def aclose(self) -> None:
        await self._openai.aclose()
        if self._other is not None:
            await self._other.aclose()


def default_upstreams() -> Upstreams:
    from router.upstream.openai_compat import OpenAICompatUpstream

    def litellm() -> Upstream:
        from router.upstream.litellm_adapter import LitellmUpstream

        return LitellmUpstream()

    return Upstreams(OpenAICompatUpstream(), litellm)
