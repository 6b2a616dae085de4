"""The official ``anthropic`` SDK, unchanged, through router's Messages API to all three models.

Claude answers natively; GPT-4o and MAI-Code-1-Flash answer by translation to chat
completions and back. The emulators' answers are deterministic ("Answer from <upstream
model>: ..."), so each assertion also says which upstream answered.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic.types import MessageParam, ToolParam, ToolUseBlock

from support.stack import Emulators, RouterFactory, RunningRouter

KEY = "sk-router-anthropic-sdk"

# router model -> the model name its emulator sees (and puts in its answer)
UPSTREAM = {
    "claude-sonnet": "claude-sonnet-4-5",
    "gpt-4o": "gpt-4o",
    "mai-code-1-flash": "MAI-Code-1-Flash",
}
MODELS = list(UPSTREAM)

WEATHER: ToolParam = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
CLOCK: ToolParam = {
    "name": "get_time",
    "description": "Local time in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def router(start_router: RouterFactory, config_dir: Path) -> RunningRouter:
    # With a key configured, the SDK's x-api-key header is what lets it in.
    return start_router(config_dir, environ={**os.environ, "ROUTER_MASTER_KEY": KEY})


def _client(router: RunningRouter) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=router.base_url, api_key=KEY, max_retries=0)


def _text(message: anthropic.types.Message) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


@pytest.mark.parametrize("model", MODELS)
def test_sync_create(router: RunningRouter, model: str) -> None:
    raw = _client(router).messages.with_raw_response.create(
        model=model,
        max_tokens=200,
        system="be brief",
        messages=[{"role": "user", "content": "write a haiku about tests"}],
    )
    message = raw.parse()
    assert message.type == "message"
    assert message.role == "assistant"
    assert _text(message).startswith(f"Answer from {UPSTREAM[model]}: write a haiku about tests")
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert raw.headers["x-router-model"] == model


@pytest.mark.parametrize("model", MODELS)
async def test_async_create_and_stream(router: RunningRouter, model: str) -> None:
    client = anthropic.AsyncAnthropic(base_url=router.base_url, api_key=KEY, max_retries=0)
    async with client:
        message = await client.messages.create(
            model=model, max_tokens=200, messages=[{"role": "user", "content": "async please"}]
        )
        assert _text(message).startswith(f"Answer from {UPSTREAM[model]}: async please")
        async with client.messages.stream(
            model=model, max_tokens=200, messages=[{"role": "user", "content": "async please"}]
        ) as stream:
            pieces = [piece async for piece in stream.text_stream]
            final = await stream.get_final_message()
    assert len(pieces) > 1  # it really streamed
    assert "".join(pieces) == _text(final) == _text(message)


@pytest.mark.parametrize("model", MODELS)
def test_streaming_text_and_usage(router: RunningRouter, model: str) -> None:
    with _client(router).messages.stream(
        model=model, max_tokens=200, messages=[{"role": "user", "content": "stream it"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == _text(final)
    assert _text(final).startswith(f"Answer from {UPSTREAM[model]}: stream it")
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_max_tokens_and_stop_sequences(router: RunningRouter, model: str) -> None:
    client = _client(router)
    short = client.messages.create(
        model=model, max_tokens=3, messages=[{"role": "user", "content": "one two three four"}]
    )
    assert short.stop_reason == "max_tokens"
    assert short.usage.output_tokens <= 3
    stopped = client.messages.create(
        model=model,
        max_tokens=200,
        stop_sequences=["three"],
        messages=[{"role": "user", "content": "one two three four"}],
    )
    assert "three" not in _text(stopped)
    assert _text(stopped).endswith("one two")
    if model == "claude-sonnet":  # chat completions do not say which stop sequence matched
        assert stopped.stop_reason == "stop_sequence"
        assert stopped.stop_sequence == "three"


@pytest.mark.parametrize("model", MODELS)
def test_tool_round_trip(router: RunningRouter, model: str) -> None:
    client = _client(router)
    messages: list[MessageParam] = [{"role": "user", "content": "weather in Oslo?"}]
    first = client.messages.create(
        model=model, max_tokens=200, messages=messages, tools=[WEATHER], tool_choice={"type": "any"}
    )
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if isinstance(b, ToolUseBlock))
    assert call.name == "get_weather"
    assert isinstance(call.input, dict)
    assert set(call.input) == {"city", "days"}
    assert call.id
    messages.append({"role": "assistant", "content": first.content})
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "snow, -3C"}],
        }
    )
    second = client.messages.create(model=model, max_tokens=200, messages=messages, tools=[WEATHER])
    assert second.stop_reason == "end_turn"
    assert _text(second) == f"Answer from {UPSTREAM[model]} using tool result: snow, -3C"


@pytest.mark.parametrize("model", MODELS)
def test_named_tool_streamed(router: RunningRouter, model: str) -> None:
    """A forced tool call arrives as a streamed tool_use block (input_json_delta pieces)."""
    with _client(router).messages.stream(
        model=model,
        max_tokens=200,
        messages=[{"role": "user", "content": "weather in Oslo?"}],
        tools=[WEATHER, CLOCK],
        tool_choice={"type": "tool", "name": "get_time"},
    ) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert "input_json" in events
    assert final.stop_reason == "tool_use"
    calls = [b for b in final.content if isinstance(b, ToolUseBlock)]
    assert [c.name for c in calls] == ["get_time"]
    assert isinstance(calls[0].input, dict)
    assert set(calls[0].input) == {"city"}


@pytest.mark.parametrize("model", MODELS)
def test_count_tokens(router: RunningRouter, model: str) -> None:
    client = _client(router)

    def count(text: str, **extra: Any) -> int:
        counted = client.messages.count_tokens(
            model=model, messages=[{"role": "user", "content": text}], **extra
        )
        return counted.input_tokens

    short = count("hello")
    longer = count("hello " * 200)
    assert 0 < short < longer
    assert count("hello", tools=[WEATHER]) > short  # tools are part of the prompt


def test_errors_have_anthropics_shape(router: RunningRouter, emulators: Emulators) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        _client(router).messages.create(
            model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert missing.value.body["type"] == "error"  # type: ignore[index]
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    wrong = anthropic.Anthropic(base_url=router.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as refused:
        wrong.messages.create(
            model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert not emulators.openai.requests  # refused before any upstream call
