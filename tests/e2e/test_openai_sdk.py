"""The official ``openai`` SDK, unchanged, against router in front of the emulators."""

from __future__ import annotations

import json

import openai
import pytest

from support.stack import Emulators, RunningRouter

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"],
            },
        },
    }
]

MODELS = ["gpt-4o", "mai-code-1-flash"]


def _client(router: RunningRouter) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.v1, api_key="unused", max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_non_streaming_answers_with_logical_model_and_headers(
    router: RunningRouter, emulators: Emulators, model: str
) -> None:
    raw = _client(router).chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "write a haiku about tests"}]
    )
    reply = raw.parse()
    assert reply.model == model
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.completion_tokens > 0
    assert raw.headers["x-router-model"] == model
    assert raw.headers["x-router-policy"] == "direct"
    assert raw.headers["x-request-id"]
    assert float(raw.headers["x-router-cost-usd"]) > 0
    # The upstream saw its own model name, not the logical one.
    upstream = emulators.openai if model == "gpt-4o" else emulators.foundry
    assert upstream.requests[-1].body["model"] in ("gpt-4o", "MAI-Code-1-Flash")


def test_parameters_pass_through_untouched(router: RunningRouter, emulators: Emulators) -> None:
    _client(router).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        temperature=0.3,
        top_p=0.9,
        max_tokens=5,
        stop=["zzz"],
        seed=7,
        user="alice",
    )
    sent = emulators.openai.requests[-1].body
    for key, value in {
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 5,
        "stop": ["zzz"],
        "seed": 7,
        "user": "alice",
    }.items():
        assert sent[key] == value


def test_max_tokens_is_honoured_end_to_end(router: RunningRouter) -> None:
    reply = _client(router).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "tell me a story"}], max_tokens=3
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 3


@pytest.mark.parametrize("include_usage", [True, False])
def test_streaming_with_and_without_usage(router: RunningRouter, include_usage: bool) -> None:
    stream = _client(router).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        stream_options={"include_usage": include_usage},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert all(c.model == "gpt-4o" for c in chunks)
    usage = [c.usage for c in chunks if c.usage is not None]
    if include_usage:
        assert len(usage) == 1
        assert usage[0].completion_tokens > 0
        assert chunks[-1].choices == []
    else:
        assert usage == []
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"


def test_tool_round_trip(router: RunningRouter) -> None:
    client = _client(router)
    messages: list[dict[str, object]] = [{"role": "user", "content": "weather in Paris?"}]
    first = client.chat.completions.create(
        model="gpt-4o",
        messages=messages,
        tools=TOOLS,
        tool_choice="required",  # type: ignore[arg-type]
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    args = json.loads(call.function.arguments)  # type: ignore[union-attr]
    assert set(args) >= {"city", "days"}
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"})
    second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert second.choices[0].finish_reason == "stop"
    assert "sunny" in (second.choices[0].message.content or "")


def test_streaming_tool_call(router: RunningRouter) -> None:
    stream = _client(router).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "weather?"}],
        tools=TOOLS,  # type: ignore[arg-type]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    arguments = ""
    names = []
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                if delta.function and delta.function.name:
                    names.append(delta.function.name)
                if delta.function and delta.function.arguments:
                    arguments += delta.function.arguments
    assert names == ["get_weather"]
    assert "city" in json.loads(arguments)


def test_json_mode(router: RunningRouter) -> None:
    reply = _client(router).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "give me json"}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_image_content_parts_pass_through(router: RunningRouter, emulators: Emulators) -> None:
    parts = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    _client(router).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": parts}],  # type: ignore[list-item]
    )
    assert emulators.openai.requests[-1].body["messages"][0]["content"] == parts


async def test_async_client_streaming_and_not(router: RunningRouter) -> None:
    client = openai.AsyncOpenAI(base_url=router.v1, api_key="unused", max_retries=0)
    reply = await client.chat.completions.create(
        model="mai-code-1-flash", messages=[{"role": "user", "content": "def f(): pass"}]
    )
    assert reply.model == "mai-code-1-flash"
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text
    await client.close()


def test_models_list_and_get(router: RunningRouter) -> None:
    client = _client(router)
    ids = {m.id for m in client.models.list()}
    assert {"gpt-4o", "mai-code-1-flash", "claude-sonnet"} <= ids
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_azure_deployment_serves_as_fallback(router: RunningRouter, emulators: Emulators) -> None:
    from router.emulators import Behaviour

    emulators.openai.plan(Behaviour(status=500), times=5)
    reply = _client(router).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.headers["x-router-deployment"] == "gpt-4o@azure"
    assert reply.parse().model == "gpt-4o"
    assert emulators.azure.requests[-1].path.startswith("/openai/deployments/gpt-4o/")
