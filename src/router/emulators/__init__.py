"""Loopback HTTP servers that speak LLM providers' wire formats, for tests and benchmarks.

Each emulator answers deterministically (see :mod:`router.emulators.tokenizer`
for how tokens are counted and :mod:`router.emulators.generation` for what is
said), records every request it receives, and can be told per request to be
slow or to fail (see :class:`Behaviour`).
"""

from router.emulators.anthropic_server import AnthropicEmulator
from router.emulators.behaviour import CONTROL_HEADER, Behaviour
from router.emulators.openai_servers import (
    AzureFoundryEmulator,
    AzureOpenAIEmulator,
    OpenAIEmulator,
)
from router.emulators.records import ReceivedRequest
from router.emulators.server import DEFAULT_API_KEY, EmulatorServer
from router.emulators.thread import EmulatorThread

PROVIDERS: dict[str, type[EmulatorServer]] = {
    "openai": OpenAIEmulator,
    "azure": AzureOpenAIEmulator,
    "foundry": AzureFoundryEmulator,
    "anthropic": AnthropicEmulator,
}

__all__ = [
    "CONTROL_HEADER",
    "DEFAULT_API_KEY",
    "PROVIDERS",
    "AnthropicEmulator",
    "AzureFoundryEmulator",
    "AzureOpenAIEmulator",
    "Behaviour",
    "EmulatorServer",
    "EmulatorThread",
    "OpenAIEmulator",
    "ReceivedRequest",
]
