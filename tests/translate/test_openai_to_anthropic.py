"""OpenAI chat client -> Claude, as tables: the request out, the answer and the stream back."""

from __future__ import annotations

from typing import Any

import pytest

from router.errors import InvalidRequest
from router.translate.openai_to_anthropic import FALLBACK_MAX_TOKENS, request, unsupported
from router.translate.openai_to_anthropic_answer import completion, router_usage
from router.translate.openai_to_anthropic_stream import EventsToChunks

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
USER = {"role": "user", "content": "hi"}


def out(limit: int | None = 64000, **body: Any) -> dict[str, Any]:
    body.setdefault("messages", [USER])
    return request(body, model="claude-x", max_tokens_limit=limit)


def test_system_and_developer_messages_become_the_system_blocks_in_order() -> None:
    sent = out(
        messages=[
            {"role": "system", "content": "be brief"},
            USER,
            {"role": "developer", "content": [{"type": "text", "text": "no emoji"}]},
        ]
    )
    assert sent["system"] == [
        {"type": "text", "text": "be brief"},
        {"type": "text", "text": "no emoji"},
    ]
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert sent["model"] == "claude-x"


def test_multi_turn_with_parallel_tool_calls_and_their_results() -> None:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": '{"x":1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{}"}},
    ]
    sent = out(
        messages=[
            USER,
            {"role": "assistant", "content": "checking", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "call_1", "content": "one"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "2"}]},
            {"role": "user", "content": "and?"},
        ]
    )
    assert [t["role"] for t in sent["messages"]] == ["user", "assistant", "user"]
    assistant = sent["messages"][1]["content"]
    assert assistant == [
        {"type": "text", "text": "checking"},
        {"type": "tool_use", "id": "call_1", "name": "a", "input": {"x": 1}},
        {"type": "tool_use", "id": "call_2", "name": "b", "input": {}},
    ]
    results = sent["messages"][2]["content"]
    assert results[0] == {"type": "tool_result", "tool_use_id": "call_1", "content": "one"}
    assert results[1]["content"] == [{"type": "text", "text": "2"}]
    assert results[2] == {"type": "text", "text": "and?"}  # merged: Anthropic alternates


def test_images_by_data_url_and_by_url_are_never_fetched() -> None:
    parts = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "text", "text": "which is bigger?"},
    ]
    blocks = out(messages=[{"role": "user", "content": parts}])["messages"][0]["content"]
    assert blocks[0]["source"] == {"type": "base64", "media_type": "image/png", "data": "AAAA"}
    assert blocks[1]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}
    bad = [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]
    with pytest.raises(InvalidRequest) as caught:
        out(messages=[{"role": "user", "content": bad}])
    assert caught.value.param == "messages[0].content[0].image_url"


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, None, None),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice(choice: Any, parallel: Any, expected: Any) -> None:
    body: dict[str, Any] = {"tools": [WEATHER]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    sent = out(**body)
    if isinstance(choice, dict):
        expected = {"type": "tool", "name": "get_weather"}
    assert sent.get("tool_choice") == expected
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
        }
    ]


@pytest.mark.parametrize(
    ("fields", "limit", "expected"),
    [
        ({"max_tokens": 100}, 64000, 100),
        ({"max_completion_tokens": 50, "max_tokens": 100}, 64000, 50),
        ({}, 64000, 64000),  # required by Anthropic: the model's own limit
        ({}, None, FALLBACK_MAX_TOKENS),
        ({"max_tokens": 100000}, 64000, 64000),  # above the limit means the limit
        ({"max_tokens": 100, "reasoning_effort": "low"}, 64000, 100 + 2048),
    ],
)
def test_max_tokens(fields: dict[str, Any], limit: int | None, expected: int) -> None:
    assert out(limit, **fields)["max_tokens"] == expected


def test_sampling_stop_user_schema_and_reasoning() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    sent = out(
        temperature=0.2,
        top_p=0.9,
        stop="END",
        user="u-1",
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        reasoning_effort="medium",
        store=False,
        metadata={"k": "v"},
    )
    assert (sent["temperature"], sent["top_p"]) == (0.2, 0.9)
    assert sent["stop_sequences"] == ["END"]
    assert sent["metadata"] == {"user_id": "u-1"}
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert "store" not in sent  # store: false and OpenAI's metadata change no answer


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"seed": 7}, "seed"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"frequency_penalty": -1}, "frequency_penalty"),
        ({"logit_bias": {"1": 2}}, "logit_bias"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"temperature": 1.5}, "temperature"),
        ({"store": True}, "store"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"functions": [{"name": "f"}]}, "functions"),
    ],
)
def test_what_claude_cannot_honour_is_refused_by_name(fields: dict[str, Any], param: str) -> None:
    assert unsupported({"messages": [USER], **fields}) == [param]
    with pytest.raises(InvalidRequest) as caught:
        out(**fields)
    assert caught.value.param == param
    assert caught.value.status == 400
    assert param in caught.value.message


def test_harmless_defaults_are_not_refused() -> None:
    body = {"n": 1, "logprobs": False, "presence_penalty": 0, "modalities": ["text"]}
    assert unsupported({"messages": [USER], **body}) == []


def test_cache_control_passes_through_on_parts_messages_and_tools() -> None:
    ephemeral = {"type": "ephemeral"}
    sent = out(
        messages=[
            {"role": "system", "content": "big prompt", "cache_control": ephemeral},
            {
                "role": "user",
                "content": [{"type": "text", "text": "doc", "cache_control": ephemeral}],
            },
        ],
        tools=[{**WEATHER, "cache_control": ephemeral}],
    )
    assert sent["system"][0]["cache_control"] == ephemeral
    assert sent["messages"][0]["content"][0]["cache_control"] == ephemeral
    assert sent["tools"][0]["cache_control"] == ephemeral


def test_echoed_thinking_blocks_lead_the_assistant_turn() -> None:
    thought = {"type": "thinking", "thinking": "hmm", "signature": "sig"}
    turn = {"role": "assistant", "content": "ok", "thinking_blocks": [thought]}
    sent = out(messages=[USER, turn, {"role": "user", "content": "go on"}])
    assert sent["messages"][1]["content"][0] == thought


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [
        {"type": "thinking", "thinking": "let me see", "signature": "s1"},
        {"type": "text", "text": "Calling."},
        {"type": "tool_use", "id": "toolu_1", "name": "a", "input": {"x": 1}},
        {"type": "tool_use", "id": "toolu_2", "name": "b", "input": {}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 5,
        "output_tokens": 20,
    },
}


def test_message_becomes_a_completion_with_parallel_calls_thinking_and_cached_usage() -> None:
    body = completion(MESSAGE, created=1)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    reply = choice["message"]
    assert reply["content"] == "Calling."
    assert [c["function"]["name"] for c in reply["tool_calls"]] == ["a", "b"]
    assert reply["tool_calls"][0]["function"]["arguments"] == '{"x":1}'
    assert reply["reasoning_content"] == "let me see"
    assert reply["thinking_blocks"] == [MESSAGE["content"][0]]  # type: ignore[index]
    assert body["usage"]["prompt_tokens"] == 115
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 100}
    assert body["usage"]["completion_tokens"] == 20
    assert router_usage(MESSAGE["usage"]).prompt_tokens == 115


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_stop_reason_to_finish_reason(stop: str, finish: str) -> None:
    body = completion({**MESSAGE, "stop_reason": stop}, created=1)
    assert body["choices"][0]["finish_reason"] == finish


def _start(index: int, **block: Any) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, **delta: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def _stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def _events() -> list[dict[str, Any]]:
    start_usage = {"input_tokens": 7, "cache_read_input_tokens": 3, "output_tokens": 1}
    return [
        {"type": "message_start", "message": {"id": "msg_9", "model": "m", "usage": start_usage}},
        _start(0, type="thinking"),
        {"type": "ping"},
        _delta(0, type="thinking_delta", thinking="hm"),
        _delta(0, type="signature_delta", signature="S"),
        _stop(0),
        _start(1, type="text", text=""),
        _delta(1, type="text_delta", text="Hi"),
        _stop(1),
        _start(2, type="tool_use", id="t1", name="a", input={}),
        _delta(2, type="input_json_delta", partial_json='{"x"'),
        _delta(2, type="input_json_delta", partial_json=":1}"),
        _stop(2),
        _start(3, type="tool_use", id="t2", name="b", input={}),
        _stop(3),
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
        {"type": "message_stop"},
    ]


def test_every_stream_event_has_its_place() -> None:
    translate = EventsToChunks(created=5)
    chunks = [c for e in _events() for c in translate.feed(e)]

    assert translate.finished
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert {"reasoning_content": "hm"} in deltas
    assert {"content": "Hi"} in deltas
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    opened = [(c["index"], c.get("id")) for c in calls]
    assert opened == [(0, "t1"), (0, None), (0, None), (1, "t2")]
    arguments = "".join(c["function"].get("arguments", "") for c in calls if c["index"] == 0)
    assert arguments == '{"x":1}'
    finish = chunks[-2]["choices"][0]
    assert finish["finish_reason"] == "tool_calls"
    assert finish["delta"]["thinking_blocks"] == [
        {"type": "thinking", "thinking": "hm", "signature": "S"}
    ]
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (10, 9)
    assert usage["prompt_tokens_details"] == {"cached_tokens": 3}
    assert translate.usage is not None
    assert translate.usage.prompt_tokens == 10
    assert all(c["id"] == "msg_9" and c["created"] == 5 for c in chunks)
