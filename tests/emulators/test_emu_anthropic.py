"""Raw httpx against the Anthropic Messages emulator."""

from __future__ import annotations

import json

from router.emulators import AnthropicEmulator
from support.emulators import KEY, MODEL, TOOL, parse_sse, post


async def test_non_streaming_message(anthropic_emu: AnthropicEmulator) -> None:
    response = await post(
        anthropic_emu,
        {
            "model": MODEL,
            "max_tokens": 100,
            "system": [{"type": "text", "text": "You are terse."}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "count the apples"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                        },
                    ],
                }
            ],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["id"].startswith("msg_")
    assert body["content"] == [
        {
            "type": "text",
            "text": (
                f"Answer from {MODEL}: count the apples alpha bravo charlie delta echo foxtrot"
            ),
        }
    ]
    assert body["stop_reason"] == "end_turn"
    assert body["stop_sequence"] is None
    # 3 system words + 3 user words + 1 image
    assert body["usage"]["input_tokens"] == 7
    assert body["usage"]["output_tokens"] == 12


async def test_stream_event_order(anthropic_emu: AnthropicEmulator) -> None:
    response = await post(
        anthropic_emu,
        {
            "model": MODEL,
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names == (
        ["message_start", "content_block_start", "ping"]
        + ["content_block_delta"] * 12
        + ["content_block_stop", "message_delta", "message_stop"]
    )
    assert all(name == data["type"] for name, data in events)
    start = events[0][1]["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert start["usage"]["input_tokens"] == 1
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text.startswith(f"Answer from {MODEL}: hi")
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {"output_tokens": 12}


async def test_tool_use_and_tool_result(anthropic_emu: AnthropicEmulator) -> None:
    first = await post(
        anthropic_emu,
        {
            "model": MODEL,
            "max_tokens": 100,
            "tools": [TOOL],
            "tool_choice": {"type": "tool", "name": "lookup"},
            "messages": [{"role": "user", "content": "find cats"}],
        },
    )
    block = first.json()["content"][0]
    assert first.json()["stop_reason"] == "tool_use"
    assert block["type"] == "tool_use"
    assert block["name"] == "lookup"
    assert block["input"] == {"q": "example"}
    assert block["id"].startswith("toolu_")
    second = await post(
        anthropic_emu,
        {
            "model": MODEL,
            "max_tokens": 100,
            "tools": [TOOL],
            "messages": [
                {"role": "user", "content": "find cats"},
                {"role": "assistant", "content": [block]},
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": block["id"],
                            "content": [{"type": "text", "text": "42 cats"}],
                        }
                    ],
                },
            ],
        },
    )
    assert second.json()["stop_reason"] == "end_turn"
    assert "42 cats" in second.json()["content"][0]["text"]


async def test_streamed_tool_use_input_json_delta(anthropic_emu: AnthropicEmulator) -> None:
    response = await post(
        anthropic_emu,
        {
            "model": MODEL,
            "max_tokens": 100,
            "tools": [TOOL],
            "stream": True,
            "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "go"}],
        },
    )
    events = parse_sse(response.text)
    assert events[1][1]["content_block"]["type"] == "tool_use"
    assert events[1][1]["content_block"]["input"] == {}
    partial = [d["delta"] for n, d in events if n == "content_block_delta"]
    assert all(p["type"] == "input_json_delta" for p in partial)
    assert json.loads("".join(p["partial_json"] for p in partial)) == {"q": "example"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_stop_sequences_and_max_tokens(anthropic_emu: AnthropicEmulator) -> None:
    stopped = await post(
        anthropic_emu,
        {
            "model": MODEL,
            "max_tokens": 100,
            "stop_sequences": ["bravo"],
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    capped = await post(
        anthropic_emu,
        {
            "model": MODEL,
            "max_tokens": 2,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert stopped.json()["stop_reason"] == "stop_sequence"
    assert stopped.json()["stop_sequence"] == "bravo"
    assert stopped.json()["content"][0]["text"] == f"Answer from {MODEL}: x alpha"
    assert capped.json()["stop_reason"] == "max_tokens"
    assert capped.json()["content"][0]["text"] == "Answer from"
    assert capped.json()["usage"]["output_tokens"] == 2


async def test_errors_have_anthropic_shape(anthropic_emu: AnthropicEmulator) -> None:
    good = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    no_key = await post(anthropic_emu, good, headers={"anthropic-version": "2023-06-01"})
    wrong_key = await post(
        anthropic_emu, good, headers={"x-api-key": "bad", "anthropic-version": "2023-06-01"}
    )
    no_version = await post(anthropic_emu, good, headers={"x-api-key": KEY})
    no_max = await post(anthropic_emu, {"model": MODEL, "messages": good["messages"]})
    system_role = await post(
        anthropic_emu,
        {
            **good,
            "messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "x"}],
        },
    )
    unknown = await post(anthropic_emu, {**good, "model": "claude-0"})
    assert (no_key.status_code, wrong_key.status_code) == (401, 401)
    assert no_key.json()["error"]["type"] == "authentication_error"
    assert no_key.json()["type"] == "error"
    assert no_key.json()["request_id"] == no_key.headers["request-id"]
    assert no_version.status_code == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]
    assert no_max.status_code == 400
    assert no_max.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    assert system_role.status_code == 400
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "not_found_error"
