"""Claude through the native Anthropic adapter: the official openai SDK in, Anthropic's wire out."""

from __future__ import annotations

import json

import openai
from test_openai_sdk import TOOLS

from support.stack import Emulators, RunningRouter


def _client(router: RunningRouter) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.v1, api_key="unused", max_retries=0)


def test_claude_non_streaming(router: RunningRouter, emulators: Emulators) -> None:
    reply = _client(router).chat.completions.create(
        model="claude-sonnet",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello claude"},
        ],
        max_tokens=50,
    )
    assert reply.model == "claude-sonnet"
    assert reply.choices[0].message.content
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0
    sent = emulators.anthropic.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.body["model"] == "claude-sonnet-4-5"
    assert sent.body["system"]  # the system message moved to Anthropic's top-level field


def test_claude_streaming_with_usage(router: RunningRouter) -> None:
    stream = _client(router).chat.completions.create(
        model="claude-sonnet",
        messages=[{"role": "user", "content": "stream it"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert all(c.model == "claude-sonnet" for c in chunks)
    assert [c.usage for c in chunks if c.usage][-1].completion_tokens > 0  # type: ignore[union-attr]


def test_claude_tool_round_trip(router: RunningRouter) -> None:
    client = _client(router)
    messages: list[dict[str, object]] = [{"role": "user", "content": "weather in Oslo?"}]
    first = client.chat.completions.create(
        model="claude-sonnet",
        messages=messages,
        tools=TOOLS,
        tool_choice="required",  # type: ignore[arg-type]
        max_tokens=100,
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    assert "city" in json.loads(call.function.arguments)  # type: ignore[union-attr]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "snow, -3C"})
    second = client.chat.completions.create(
        model="claude-sonnet",
        messages=messages,
        tools=TOOLS,
        max_tokens=100,  # type: ignore[arg-type]
    )
    assert "snow" in (second.choices[0].message.content or "")
