"""A hot reload that keeps a deployment's name but moves it (another base_url, another key)
moves its traffic: the native adapters rebuild that deployment's target."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from router.emulators import AnthropicEmulator, EmulatorServer, OpenAIEmulator
from router.upstream import Upstream
from router.upstream.anthropic import AnthropicUpstream
from router.upstream.openai_compat import OpenAICompatUpstream
from support.upstream import TARGETS, Target, ask, deployment_for

NATIVE = [
    (next(t for t in TARGETS if t.name == "openai"), OpenAIEmulator, OpenAICompatUpstream),
    (next(t for t in TARGETS if t.name == "anthropic"), AnthropicEmulator, AnthropicUpstream),
]


@pytest.mark.parametrize(("target", "emulator", "adapter"), NATIVE, ids=["openai", "anthropic"])
async def test_a_reloaded_deployment_with_the_same_name_calls_its_new_target(
    target: Target,
    emulator: Callable[..., EmulatorServer],
    adapter: Callable[..., Upstream],
) -> None:
    env = {"OLD_KEY": "sk-old-0123456789", "NEW_KEY": "sk-new-0123456789"}
    old, new = emulator(api_key=env["OLD_KEY"]), emulator(api_key=env["NEW_KEY"])
    await old.start()
    await new.start()
    upstream = adapter(environ=env)
    try:
        before = dataclasses.replace(deployment_for(target, old.url), api_key_env="OLD_KEY")
        await upstream.complete(before, ask())
        # What a reload builds: a new Deployment under the same name.
        after = dataclasses.replace(before, base_url=new.url, api_key_env="NEW_KEY")
        answer = await upstream.complete(after, ask())
        assert answer.body["choices"]  # the new key was accepted by the new target
        stream = await upstream.stream(after, ask())
        assert [chunk async for chunk in stream]
        assert len(old.requests) == 1
        assert len(new.requests) == 2
    finally:
        await upstream.aclose()
        await old.stop()
        await new.stop()
