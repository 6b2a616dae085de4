"""``Upstreams``: the adapter per deployment, Anthropic Messages calls for every deployment
(natively to Claude, translated to everyone else), and litellm loaded only when needed."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from router.config.catalog import Deployment
from router.emulators import AnthropicEmulator, AzureFoundryEmulator
from router.errors import InvalidRequest
from router.shapes import MessagesCall
from router.upstream import Upstream
from router.upstream.anthropic import AnthropicUpstream
from router.upstream.openai_compat import OpenAICompatUpstream
from router.upstream.select import Upstreams, default_upstreams
from support.upstream import KEY_ENV, SECRET, TARGETS, deployment_for

FOUNDRY = next(t for t in TARGETS if t.name == "foundry")
CLAUDE = next(t for t in TARGETS if t.name == "anthropic")
TOOL = {
    "name": "Bash",
    "description": "Run a command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}


@pytest.fixture
async def upstreams(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Upstreams]:
    monkeypatch.setenv(KEY_ENV, SECRET)
    made = default_upstreams()
    yield made
    await made.aclose()


@pytest.fixture
async def foundry() -> AsyncIterator[AzureFoundryEmulator]:
    emu = AzureFoundryEmulator(api_key=SECRET)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def claude() -> AsyncIterator[AnthropicEmulator]:
    emu = AnthropicEmulator(api_key=SECRET)
    await emu.start()
    yield emu
    await emu.stop()


def messages(**extra: Any) -> MessagesCall:
    body = {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 32000,
        "system": [{"type": "text", "text": "You are a coding agent."}],
        "messages": [{"role": "user", "content": "run ls"}],
        **extra,
    }
    return MessagesCall(body, ("claude-code-20250219",))


async def test_messages_to_an_openai_side_model_are_translated_both_ways(
    upstreams: Upstreams, foundry: AzureFoundryEmulator
) -> None:
    deployment = dataclasses.replace(deployment_for(FOUNDRY, foundry.url), max_output_tokens=16384)
    call = messages(tools=[TOOL], tool_choice={"type": "any"})
    result = await upstreams.messages(deployment, call)

    sent = foundry.requests[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "You are a coding agent."}
    assert sent["tool_choice"] == "required"
    assert sent["max_tokens"] == 16384
    assert "anthropic-beta" not in foundry.requests[-1].headers
    assert result.body["type"] == "message"
    assert result.body["stop_reason"] == "tool_use"
    block = result.body["content"][0]
    assert (block["type"], block["name"]) == ("tool_use", "Bash")
    assert isinstance(block["input"]["command"], str)
    assert result.usage is not None
    assert result.usage.completion_tokens == result.body["usage"]["output_tokens"]


async def test_a_messages_stream_from_an_openai_side_model_is_anthropic_events(
    upstreams: Upstreams, foundry: AzureFoundryEmulator
) -> None:
    deployment = deployment_for(FOUNDRY, foundry.url)
    stream = await upstreams.messages_stream(deployment, messages(stream=True))
    events = [event async for event in stream]

    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text.startswith("Answer from MAI-Code-1-Flash")
    assert events[-2]["usage"]["input_tokens"] > 0
    assert foundry.requests[-1].body["stream"] is True


async def test_what_an_openai_side_model_cannot_honour_is_refused_unsent(
    upstreams: Upstreams, foundry: AzureFoundryEmulator
) -> None:
    deployment = deployment_for(FOUNDRY, foundry.url)
    with pytest.raises(InvalidRequest) as caught:
        await upstreams.messages(deployment, messages(top_k=3))

    assert caught.value.param == "top_k"
    assert not foundry.requests


async def test_claude_gets_the_messages_request_natively(
    upstreams: Upstreams, claude: AnthropicEmulator
) -> None:
    deployment = deployment_for(CLAUDE, claude.url)
    result = await upstreams.messages(deployment, messages(top_k=3))

    assert claude.requests[-1].body["top_k"] == 3
    assert claude.requests[-1].headers["anthropic-beta"] == "claude-code-20250219"
    assert result.body["content"][0]["type"] == "text"


class _Recorder:
    def __init__(self) -> None:
        self.loaded: list[Upstream] = []

    async def __call__(self, adapter: Upstream) -> None:
        self.loaded.append(adapter)


def _deployment(provider: str) -> Deployment:
    return dataclasses.replace(deployment_for(CLAUDE, "http://127.0.0.1:1"), provider=provider)


@pytest.mark.parametrize(
    ("providers", "loads"),
    [
        (["openai", "azure", "azure_ai", "anthropic"], False),
        (["openai", "deepseek"], True),
    ],
)
async def test_litellm_is_loaded_at_start_only_when_a_deployment_needs_it(
    providers: list[str], loads: bool
) -> None:
    made: list[str] = []
    recorder = _Recorder()

    def other() -> Upstream:
        made.append("litellm")
        return OpenAICompatUpstream()  # stands in: only whether it is made and loaded counts

    chosen = Upstreams(OpenAICompatUpstream(), AnthropicUpstream(), other, load_other=recorder)
    await chosen.prepare([_deployment(p) for p in providers])

    assert bool(recorder.loaded) is loads
    assert bool(made) is loads
    await chosen.aclose()
