"""The official openai SDK against the OpenAI emulator."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
)

from router.emulators import EmulatorThread, OpenAIEmulator
from support.emulators import KEY

WEATHER_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 3},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "verbose": {"type": "boolean"},
            },
            "required": ["city", "days", "unit"],
        },
    },
}


def client(emu: OpenAIEmulator) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=emu.url, api_key=KEY, max_retries=0)


def test_sync_client_in_thread_non_streaming_and_streaming() -> None:
    with EmulatorThread(OpenAIEmulator(api_key=KEY)) as (emu,):
        sync = openai.OpenAI(base_url=emu.url, api_key=KEY, max_retries=0)
        messages: list[ChatCompletionMessageParam] = [
            {"role": "user", "content": "tell me a story"}
        ]
        full = sync.chat.completions.create(model="gpt-4o", messages=messages)
        text = full.choices[0].message.content
        assert text == ("Answer from gpt-4o: tell me a story alpha bravo charlie delta echo")
        assert full.object == "chat.completion"
        assert full.choices[0].finish_reason == "stop"
        assert full.usage is not None
        assert (full.usage.prompt_tokens, full.usage.completion_tokens) == (4, 12)
        stream = sync.chat.completions.create(
            model="gpt-4o",
            messages=messages,
            stream=True,
        )
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
        sync.close()
        assert "".join(pieces) == text
        assert len(emu.requests) == 2
        assert emu.requests[1].stream is True


async def test_async_stream_with_usage_chunk(openai_emu: OpenAIEmulator) -> None:
    async with client(openai_emu) as api:
        stream = await api.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi there"},
            ],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    first, last = chunks[0], chunks[-1]
    assert first.choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == 4
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert last.usage.completion_tokens == len(content.split()) == 12
    # one content chunk per token: role chunk + 12 + finish + usage
    assert len(chunks) == 15
    assert all(c.usage is None for c in chunks[:-1])


async def test_raw_stream_ends_with_done(openai_emu: OpenAIEmulator) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{openai_emu.url}/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={
                "model": "gpt-4o",
                "stream": True,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = response.text.split("\n\n")
    assert frames[-2] == "data: [DONE]"
    assert all(f.startswith("data: ") for f in frames[:-1])


async def test_tool_round_trip(openai_emu: OpenAIEmulator) -> None:
    async with client(openai_emu) as api:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "user", "content": "What is the weather in Paris?"}
        ]
        first = await api.chat.completions.create(
            model="gpt-4o",
            messages=messages,
            tools=[WEATHER_TOOL],
        )
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None
        assert choice.message.tool_calls is not None
        call = choice.message.tool_calls[0]
        assert isinstance(call, ChatCompletionMessageFunctionToolCall)
        assert call.function.name == "get_weather"
        args = json.loads(call.function.arguments)
        assert args == {"city": "example", "days": 3, "unit": "celsius"}
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": call.function.arguments},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny 21C"})
        second = await api.chat.completions.create(
            model="gpt-4o",
            messages=messages,
            tools=[WEATHER_TOOL],
        )
    assert second.choices[0].finish_reason == "stop"
    assert "sunny 21C" in (second.choices[0].message.content or "")


async def test_streamed_tool_call_follows_delta_format(openai_emu: OpenAIEmulator) -> None:
    async with client(openai_emu) as api:
        stream = await api.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "anything"}],
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            stream=True,
        )
        deltas = [c.choices[0] async for c in stream if c.choices]
    opening = deltas[0].delta.tool_calls
    assert opening is not None
    assert opening[0].id
    assert opening[0].function is not None
    assert opening[0].function.name == "get_weather"
    fragments = []
    for choice in deltas[1:-1]:
        calls = choice.delta.tool_calls
        assert calls is not None
        assert calls[0].id is None
        assert calls[0].function is not None
        fragments.append(calls[0].function.arguments or "")
    assert len(fragments) > 1
    assert json.loads("".join(fragments))["unit"] == "celsius"
    assert deltas[-1].finish_reason == "tool_calls"


async def test_tool_choice_none_and_required(openai_emu: OpenAIEmulator) -> None:
    async with client(openai_emu) as api:
        plain = await api.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            tools=[WEATHER_TOOL],
            tool_choice="none",
        )
        forced = await api.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
            tools=[WEATHER_TOOL],
            tool_choice="required",
        )
    assert plain.choices[0].finish_reason == "stop"
    assert forced.choices[0].finish_reason == "tool_calls"


async def test_json_modes(openai_emu: OpenAIEmulator) -> None:
    schema: dict[str, object] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "score": {"type": "number", "maximum": 1},
            "nested": {"$ref": "#/$defs/n"},
        },
        "required": ["name", "tags", "score", "nested"],
        "$defs": {
            "n": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
        },
    }
    async with client(openai_emu) as api:
        obj = await api.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "json please"}],
            response_format={"type": "json_object"},
        )
        typed = await api.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "json please"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": schema, "strict": True},
            },
        )
    assert isinstance(json.loads(obj.choices[0].message.content or ""), dict)
    value = json.loads(typed.choices[0].message.content or "")
    assert value == {"name": "example", "tags": ["example"], "score": 1, "nested": {"ok": True}}


async def test_max_tokens_and_stop(openai_emu: OpenAIEmulator) -> None:
    async with client(openai_emu) as api:
        short = await api.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "one two three"}],
            max_tokens=4,
        )
        newer = await api.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "one two three"}],
            max_completion_tokens=2,
        )
        stopped = await api.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "one two three"}],
            stop=["three", "nothing"],
        )
    assert short.choices[0].message.content == "Answer from gpt-4o: one"
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None
    assert short.usage.completion_tokens == 4
    assert newer.choices[0].message.content == "Answer from"
    assert stopped.choices[0].message.content == "Answer from gpt-4o: one two"
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.usage is not None
    assert stopped.usage.completion_tokens == 5


async def test_image_parts_count_one_token(openai_emu: OpenAIEmulator) -> None:
    async with client(openai_emu) as api:
        result = await api.chat.completions.create(
            model="gpt-4o",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "describe this"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                }
            ],
        )
    assert result.usage is not None
    assert result.usage.prompt_tokens == 3
    assert "describe this" in (result.choices[0].message.content or "")


async def test_models_list(openai_emu: OpenAIEmulator) -> None:
    async with client(openai_emu) as api:
        models = [m.id async for m in api.models.list()]
    assert "gpt-4o" in models


async def test_errors_have_openai_shape(openai_emu: OpenAIEmulator) -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
    async with openai.AsyncOpenAI(
        base_url=openai_emu.url, api_key="wrong-key-123", max_retries=0
    ) as bad:
        with pytest.raises(openai.AuthenticationError) as auth:
            await bad.chat.completions.create(model="gpt-4o", messages=messages)
    assert auth.value.code == "invalid_api_key"
    async with client(openai_emu) as api:
        with pytest.raises(openai.NotFoundError) as missing:
            await api.chat.completions.create(model="gpt-9", messages=messages)
        with pytest.raises(openai.BadRequestError) as bad_request:
            await api.chat.completions.create(model="gpt-4o", messages=[])
    assert missing.value.code == "model_not_found"
    assert "gpt-9" in missing.value.message
    assert bad_request.value.code == "empty_array"
    async with httpx.AsyncClient() as http:
        no_key = await http.post(f"{openai_emu.url}/chat/completions", json={})
        no_messages = await http.post(
            f"{openai_emu.url}/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": "gpt-4o"},
        )
        no_model = await http.post(
            f"{openai_emu.url}/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"messages": messages},
        )
    assert no_key.status_code == 401
    assert no_messages.status_code == 400
    assert no_messages.json() == {
        "error": {
            "message": "Missing required parameter: 'messages'.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "missing_required_parameter",
        }
    }
    assert no_model.status_code == 400
    assert no_model.json()["error"]["param"] == "model"
