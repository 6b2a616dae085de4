"""Fixtures: each emulator started on a free loopback port for one test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from router.emulators import (
    AnthropicEmulator,
    AzureFoundryEmulator,
    AzureOpenAIEmulator,
    OpenAIEmulator,
)
from support.emulators import KEY


@pytest.fixture
async def openai_emu() -> AsyncIterator[OpenAIEmulator]:
    emu = OpenAIEmulator(api_key=KEY)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def azure_emu() -> AsyncIterator[AzureOpenAIEmulator]:
    emu = AzureOpenAIEmulator(api_key=KEY, models=("gpt-4o-prod",))
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def foundry_emu() -> AsyncIterator[AzureFoundryEmulator]:
    emu = AzureFoundryEmulator(api_key=KEY)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def anthropic_emu() -> AsyncIterator[AnthropicEmulator]:
    emu = AnthropicEmulator(api_key=KEY)
    await emu.start()
    yield emu
    await emu.stop()
