"""Pick the adapter for a deployment: OpenAI-compatible providers take the aiohttp hot path,
Anthropic its own native aiohttp adapter, everything else goes through litellm.

litellm costs seconds and ~200 MiB to import, so it is imported only when a configured
deployment needs it, and then at start (``prepare``, from the app's lifespan and after a
reload), not on a request's time; a deployment first seen some other way still loads it on
first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from router.config.catalog import Deployment
from router.shapes import MessagesCall
from router.upstream import ChunkStream, Completion, MessagesUpstream, Upstream, over_chat


class Upstreams:
    """An ``Upstream`` and ``MessagesUpstream`` that delegates per deployment; the choice is a
    property of the deployment (``openai_compatible``, ``speaks_messages``)."""

    def __init__(
        self,
        openai: Upstream,
        anthropic: MessagesUpstream,
        other: Callable[[], Upstream],
        *,
        load_other: Callable[[Upstream], Any] | None = None,
    ) -> None:
        self._openai = openai
        self._anthropic = anthropic
        self._make_other = other
        self._load_other = load_other
        self._other: Upstream | None = None

    def _for(self, deployment: Deployment) -> Upstream:
        if deployment.openai_compatible:
            return self._openai
        if deployment.speaks_messages:
            return self._anthropic
        return self._litellm()

    def _litellm(self) -> Upstream:
        if self._other is None:
            self._other = self._make_other()
        return self._other

    @staticmethod
    def needs_litellm(deployments: Iterable[Deployment]) -> bool:
        return any(not (d.openai_compatible or d.speaks_messages) for d in deployments)

    async def prepare(self, deployments: Iterable[Deployment]) -> None:
        """Load litellm now if any deployment will need it (a no-op otherwise)."""
        if self._load_other is not None and self.needs_litellm(deployments):
            await self._load_other(self._litellm())

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        return await self._for(deployment).complete(deployment, body)

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChunkStream:
        return await self._for(deployment).stream(deployment, body)

    async def messages(self, deployment: Deployment, call: MessagesCall) -> Completion:
        if deployment.speaks_messages:
            return await self._anthropic.messages(deployment, call)
        return await over_chat.messages(self._for(deployment), deployment, call)

    async def messages_stream(self, deployment: Deployment, call: MessagesCall) -> ChunkStream:
        if deployment.speaks_messages:
            return await self._anthropic.messages_stream(deployment, call)
        return await over_chat.messages_stream(self._for(deployment), deployment, call)

    async def aclose(self) -> None:
        await self._openai.aclose()
        await self._anthropic.aclose()
        if self._other is not None:
            await self._other.aclose()


def default_upstreams(environ: Mapping[str, str] | None = None) -> Upstreams:
    """The adapters, reading deployment keys from ``environ`` (default: the process's)."""
    from router.upstream.anthropic import AnthropicUpstream
    from router.upstream.openai_compat import OpenAICompatUpstream

    def litellm() -> Upstream:
        from router.upstream.litellm_adapter import LitellmUpstream

        return LitellmUpstream(environ=environ)

    async def load(adapter: Upstream) -> None:
        from router.upstream.litellm_adapter import LitellmUpstream

        if isinstance(adapter, LitellmUpstream):
            await adapter.load()

    return Upstreams(
        OpenAICompatUpstream(environ=environ),
        AnthropicUpstream(environ=environ),
        litellm,
        load_other=load,
    )
