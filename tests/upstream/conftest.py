"""Fixtures: a ``rig`` per contract target (adapter + running emulator), and ``claude`` for
litellm's Anthropic code path alone against the Anthropic emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from support.upstream import KEY_ENV, LITELLM_CLAUDE, SECRET, TARGETS, Rig, Target


async def _rig(target: Target, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.setenv(KEY_ENV, SECRET)
    emu = target.emulator()
    await emu.start()
    upstream = target.upstream()
    try:
        yield Rig(target, emu, upstream)
    finally:
        await upstream.aclose()
        await emu.stop()


@pytest.fixture(params=TARGETS, ids=[t.name for t in TARGETS])
async def rig(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Rig]:
    async for made in _rig(request.param, monkeypatch):
        yield made


@pytest.fixture
async def claude(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    async for made in _rig(LITELLM_CLAUDE, monkeypatch):
        yield made
