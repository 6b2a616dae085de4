"""Helpers for the adapter contract: each target is one adapter against one emulator, over
real loopback HTTP, with a deployment that names the emulator's URL and a key env var."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from router.config.catalog import Deployment, Price
from router.config.schema import Timeouts
from router.emulators import (
    AnthropicEmulator,
    AzureFoundryEmulator,
    AzureOpenAIEmulator,
    EmulatorServer,
    OpenAIEmulator,
)
from router.upstream import Upstream
from router.upstream.anthropic import AnthropicUpstream
from router.upstream.litellm_adapter import LitellmUpstream
from router.upstream.openai_compat import OpenAICompatUpstream

# Shaped like a real key, so the scrubbing of both the exact value and key shapes is exercised.
SECRET = "sk-test-0123456789abcdefSECRET"
KEY_ENV = "ROUTER_TEST_UPSTREAM_KEY"


@dataclass(frozen=True)
class Target:
    name: str
    provider: str  # Deployment.provider
    model: str
    emulator: Callable[[], EmulatorServer]
    upstream: Callable[[], Upstream]
    overloaded: int  # the provider's "busy, come back later" status


TARGETS = [
    Target(
        "openai",
        "openai",
        "gpt-4o-mini",
        lambda: OpenAIEmulator(api_key=SECRET),
        OpenAICompatUpstream,
        503,
    ),
    Target(
        "azure",
        "azure",
        "gpt-4o",
        lambda: AzureOpenAIEmulator(api_key=SECRET),
        OpenAICompatUpstream,
        503,
    ),
    Target(
        "foundry",
        "azure_ai",
        "MAI-Code-1-Flash",
        lambda: AzureFoundryEmulator(api_key=SECRET),
        OpenAICompatUpstream,
        503,
    ),
    Target(
        "anthropic",
        "anthropic",
        "claude-haiku-4-5",
        lambda: AnthropicEmulator(api_key=SECRET),
        AnthropicUpstream,
        529,
    ),
    # A provider router has no native adapter for: litellm's own code path for it, against an
    # OpenAI-wire emulator at the base URL the deployment names.
    Target(
        "litellm-deepseek",
        "deepseek",
        "deepseek-chat",
        lambda: OpenAIEmulator(api_key=SECRET, models=None),
        LitellmUpstream,
        503,
    ),
]
# litellm's Anthropic code path, kept under test for deployments that choose it by provider
# name (e.g. Claude behind a litellm-only gateway); router's own Claude path is native.
LITELLM_CLAUDE = Target(
    "litellm-anthropic",
    "anthropic",
    "claude-haiku-4-5",
    lambda: AnthropicEmulator(api_key=SECRET),
    LitellmUpstream,
    529,
)


@dataclass
class Rig:
    """One adapter, one running emulator, and a way to make deployments pointing at it."""

    target: Target
    emu: EmulatorServer
    upstream: Upstream

    def deployment(self, **timeouts: float) -> Deployment:
        return deployment_for(self.target, self.emu.url, **timeouts)

    async def wait_finished(self, timeout_s: float = 3.0) -> None:
        """Until the emulator saw the last request end (it notices a disconnect on its own
        schedule): a bounded poll."""
        for _ in range(int(timeout_s / 0.02)):
            if self.emu.requests[-1].finished_at is not None:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the emulator saw no end of the request in {timeout_s}s")


def deployment_for(target: Target, base_url: str, **timeouts: float) -> Deployment:
    return Deployment(
        name=f"{target.name}-test",
        logical_model="test-model",
        provider=target.provider,
        model=target.model,
        base_url=base_url,
        api_key_env=KEY_ENV,
        api_version=None,
        price=Price(0.0, 0.0, "test"),
        timeouts=Timeouts(**timeouts),
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def ask(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "test-model", "messages": [{"role": "user", "content": text}], **extra}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
