"""The native Anthropic adapter against the Anthropic emulator, beyond the shared contract: what
goes on the wire, thinking and prompt caching both ways, and the Messages passthrough."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from router.emulators import Behaviour
from router.errors import AttemptFailed, InvalidRequest
from router.shapes import MessagesCall
from router.upstream.anthropic import AnthropicUpstream
from support.upstream import KEY_ENV, SECRET, TARGETS, WEATHER_TOOL, Rig, ask

NATIVE = next(t for t in TARGETS if t.name == "anthropic")


@pytest.fixture
async def native(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.setenv(KEY_ENV, SECRET)
    emu = NATIVE.emulator()
    await emu.start()
    upstream = AnthropicUpstream()
    try:
        yield Rig(NATIVE, emu, upstream)
    finally:
        await upstream.aclose()
        await emu.stop()


def adapter(rig: Rig) -> AnthropicUpstream:
    assert isinstance(rig.upstream, AnthropicUpstream)
    return rig.upstream


async def test_openai_request_reaches_anthropic_translated(native: Rig) -> None:
    body = ask("weather in Oslo?", tools=[WEATHER_TOOL], tool_choice="required", stop="END")
    body["messages"].insert(0, {"role": "system", "content": "Be brief."})
    deployment = dataclasses.replace(native.deployment(), max_output_tokens=8000)
    await native.upstream.complete(deployment, body)

    record = native.emu.requests[-1]
    sent = record.body
    assert record.path == "/v1/messages"
    assert record.headers["x-api-key"] == SECRET
    assert record.headers["anthropic-version"] == "2023-06-01"
    assert sent["model"] == "claude-haiku-4-5"
    assert sent["system"] == [{"type": "text", "text": "Be brief."}]
    assert sent["tool_choice"] == {"type": "any"}
    assert sent["tools"][0]["input_schema"]["required"] == ["city"]
    assert sent["stop_sequences"] == ["END"]
    assert sent["max_tokens"] == 8000  # none asked: the model's own limit


async def test_a_parameter_claude_cannot_honour_is_refused_before_sending(native: Rig) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await native.upstream.complete(native.deployment(), ask(seed=3))
    with pytest.raises(InvalidRequest):
        await native.upstream.stream(native.deployment(), ask(n=2))

    assert caught.value.param == "seed"
    assert not native.emu.requests


async def test_reasoning_effort_thinks_and_the_thinking_can_be_echoed(native: Rig) -> None:
    first = await native.upstream.complete(native.deployment(), ask(reasoning_effort="low"))
    reply = first.body["choices"][0]["message"]
    assert native.emu.requests[-1].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert reply["reasoning_content"] == "Thinking about: hello there"
    assert reply["thinking_blocks"][0]["signature"].startswith("emu-sig-")

    follow = ask(reasoning_effort="low")
    follow["messages"] += [reply, {"role": "user", "content": "and then?"}]
    await native.upstream.complete(native.deployment(), follow)

    echoed = native.emu.requests[-1].body["messages"][1]["content"]
    assert echoed[0] == reply["thinking_blocks"][0]
    assert echoed[1]["type"] == "text"


async def test_streamed_thinking_arrives_as_reasoning_then_blocks(native: Rig) -> None:
    stream = await native.upstream.stream(native.deployment(), ask(reasoning_effort="low"))
    chunks = [chunk async for chunk in stream]

    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    assert reasoning == "Thinking about: hello there"
    blocks = [d["thinking_blocks"] for d in deltas if "thinking_blocks" in d]
    assert blocks[0][0]["thinking"] == reasoning
    assert "".join(d.get("content") or "" for d in deltas).startswith("Answer from")


async def test_cache_control_reaches_anthropic_and_cache_reads_show_in_usage(native: Rig) -> None:
    system = {
        "role": "system",
        "content": [
            {"type": "text", "text": "stable instructions " * 20},
            {"type": "text", "text": "end", "cache_control": {"type": "ephemeral"}},
        ],
    }
    body = ask()
    body["messages"].insert(0, system)
    first = await native.upstream.complete(native.deployment(), body)
    second = await native.upstream.complete(native.deployment(), body)

    assert native.emu.requests[-1].body["system"][1]["cache_control"] == {"type": "ephemeral"}
    assert first.body["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert first.body["usage"]["cache_creation_input_tokens"] == 41
    assert second.body["usage"]["prompt_tokens_details"]["cached_tokens"] == 41
    assert second.body["usage"]["prompt_tokens"] == first.body["usage"]["prompt_tokens"]
    assert second.usage == first.usage  # cached or not, the prompt is the same size


def call(body: dict[str, Any], *betas: str) -> MessagesCall:
    return MessagesCall(body, betas)


MESSAGES_BODY = {
    "model": "whatever-the-client-said",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    "context_management": {"edits": []},
}


async def test_messages_pass_through_unchanged_with_the_clients_betas(native: Rig) -> None:
    betas = ("context-management-2025-06-27", "claude-code-20250219")
    result = await adapter(native).messages(native.deployment(), call(MESSAGES_BODY, *betas))

    record = native.emu.requests[-1]
    assert record.body == {**MESSAGES_BODY, "model": "claude-haiku-4-5"}
    assert record.headers["anthropic-beta"] == ",".join(betas)
    assert result.body["type"] == "message"
    assert result.body["content"][0]["type"] == "text"
    assert result.usage is not None
    assert result.usage.prompt_tokens == result.body["usage"]["input_tokens"]


async def test_a_beta_field_without_its_beta_is_the_clients_fault(native: Rig) -> None:
    with pytest.raises(AttemptFailed) as caught:
        await adapter(native).messages(native.deployment(), call(MESSAGES_BODY))

    assert caught.value.error.status == 400
    assert caught.value.error.client_fault
    assert "context_management" in caught.value.error.message


async def test_messages_stream_yields_anthropic_events(native: Rig) -> None:
    body = {**MESSAGES_BODY, "stream": True, "tools": [], "thinking": {"type": "disabled"}}
    body.pop("context_management")
    stream = await adapter(native).messages_stream(native.deployment(), call(body))
    events = [event async for event in stream]

    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start"
    assert "ping" in kinds
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert events[0]["message"]["model"] == "claude-haiku-4-5"
    assert native.emu.requests[-1].body["stream"] is True


@pytest.mark.parametrize(
    ("behaviour", "kind"),
    [
        (Behaviour(error_event_after_chunks=2), "protocol"),
        (Behaviour(drop_after_chunks=2), "protocol"),
        (Behaviour(stall_after_chunks=2, stall_s=2.0), "timeout"),
    ],
    ids=["error-event", "dropped", "stalled"],
)
async def test_messages_stream_failures_mid_way(
    native: Rig, behaviour: Behaviour, kind: str
) -> None:
    native.emu.plan(behaviour)
    body = {**MESSAGES_BODY, "stream": True}
    body.pop("context_management")
    deployment = native.deployment(idle_s=0.3)
    stream = await adapter(native).messages_stream(deployment, call(body))
    seen: list[str] = []

    async def read() -> None:
        async for event in stream:
            seen.append(event["type"])

    with pytest.raises(AttemptFailed) as caught:
        await read()

    assert caught.value.error.kind == kind
    assert seen[0] == "message_start"
    assert "message_stop" not in seen


async def test_overloaded_is_retryable_and_keeps_retry_after(native: Rig) -> None:
    native.emu.plan(Behaviour(status=529, retry_after=2.0))
    body = dict(MESSAGES_BODY)
    body.pop("context_management")
    with pytest.raises(AttemptFailed) as caught:
        await adapter(native).messages(native.deployment(), call(body))

    error = caught.value.error
    assert (error.status, error.retryable, error.retry_after) == (529, True, 2.0)
    assert error.message == "Overloaded"
