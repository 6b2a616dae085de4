"""Anthropic Messages client -> an OpenAI-side model, as tables: the request out, the answer
and the stream back."""

from __future__ import annotations

from typing import Any

import pytest

from router.errors import InvalidRequest
from router.translate.anthropic_to_openai import chat_request, message, unsupported
from router.translate.anthropic_to_openai_stream import ChunksToEvents

TOOL = {
    "name": "Bash",
    "description": "Run a command",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
    "cache_control": {"type": "ephemeral"},
}
USER = {"role": "user", "content": "hi"}


def chat(limit: int | None = None, **body: Any) -> dict[str, Any]:
    body.setdefault("model", "claude-sonnet-4-5")
    body.setdefault("max_tokens", 1024)
    body.setdefault("messages", [USER])
    return chat_request(body, max_tokens_limit=limit).body


def test_system_blocks_become_one_system_message() -> None:
    system = [
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Be terse."},
    ]
    sent = chat(system=system)
    assert sent["messages"][0] == {
        "role": "system",
        "content": "You are Claude Code.\n\nBe terse.",
    }
    assert sent["messages"][1] == USER
    assert chat(system="plain")["messages"][0] == {"role": "system", "content": "plain"}


def test_a_tool_loop_with_parallel_calls_results_and_an_image_result() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ"}}
    turns = [
        USER,
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "plan", "signature": "sig"},
                {"type": "text", "text": "Running two."},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Bash", "input": {"command": "pwd"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "/src"}, image],
                },
                {"type": "text", "text": "now what?"},
            ],
        },
    ]
    translated = chat_request({"model": "m", "max_tokens": 10, "messages": turns, "tools": [TOOL]})
    sent = translated.body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool", "user"]
    assert sent[1]["content"] == "Running two."
    assert [c["function"]["arguments"] for c in sent[1]["tool_calls"]] == [
        '{"command":"ls"}',
        '{"command":"pwd"}',
    ]
    assert sent[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "a.py"}
    assert sent[3] == {"role": "tool", "tool_call_id": "toolu_2", "content": "/src"}
    assert sent[4]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ"}},
        {"type": "text", "text": "now what?"},
    ]
    assert translated.omitted == ("thinking",)  # only Claude can read its thinking back
    assert translated.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Bash",
                "parameters": TOOL["input_schema"],
                "description": "Run a command",
            },
        }
    ]


def test_url_images_stay_urls() -> None:
    block = {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}
    sent = chat(messages=[{"role": "user", "content": [block]}])
    assert sent["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}
    ]


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, "auto", None),
        ({"type": "any"}, "required", None),
        ({"type": "none"}, "none", None),
        (
            {"type": "tool", "name": "Bash"},
            {"type": "function", "function": {"name": "Bash"}},
            None,
        ),
        ({"type": "auto", "disable_parallel_tool_use": True}, "auto", False),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any, parallel: Any) -> None:
    sent = chat(tools=[TOOL], tool_choice=choice)
    assert sent["tool_choice"] == expected
    assert sent.get("parallel_tool_calls") is parallel


def test_limits_sampling_user_and_structured_output() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    sent = chat(
        16384,
        max_tokens=32000,
        temperature=0.5,
        top_p=0.8,
        stop_sequences=["\n\nHuman:"],
        metadata={"user_id": "u-7"},
        output_config={"format": {"type": "json_schema", "schema": schema}},
        stream=True,
    )
    assert sent["max_tokens"] == 16384  # Claude Code's 32000 is above GPT-4o's own limit
    assert (sent["temperature"], sent["top_p"]) == (0.5, 0.8)
    assert sent["stop"] == ["\n\nHuman:"]
    assert sent["user"] == "u-7"
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }
    assert sent["stream"] is True
    assert chat(max_tokens=100)["max_tokens"] == 100


def test_hints_are_left_out_and_named() -> None:
    body = {
        "model": "m",
        "max_tokens": 5000,
        "messages": [USER],
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "context_management": {"edits": []},
        "output_config": {"effort": "high"},
        "cache_control": {"type": "ephemeral"},
    }
    translated = chat_request(body)
    assert translated.omitted == ("thinking", "context_management", "output_config.effort")
    assert "thinking" not in translated.body
    disabled = {**body, "thinking": {"type": "disabled"}, "output_config": {}}
    assert "thinking" not in chat_request(disabled).omitted


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"top_k": 5}, "top_k"),
        ({"mcp_servers": []}, "mcp_servers"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "messages[0].content[0].type",
        ),
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
def test_what_has_no_equivalent_is_refused_by_name_or_skipped_for_reading(
    fields: dict[str, Any], param: str
) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [USER], **fields}
    assert unsupported(body) == [param]
    with pytest.raises(InvalidRequest) as caught:
        chat_request(body)
    assert caught.value.param == param
    assert chat_request(body, reading=True).body["model"] == "m"  # never refuses


COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "Bash", "arguments": '{"command":"ls"}'},
                    },
                    {"id": "call_b", "type": "function", "function": {"name": "Read"}},
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 100},
    },
}


def test_completion_becomes_a_message() -> None:
    body = message(COMPLETION)
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["content"] == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "call_a", "name": "Bash", "input": {"command": "ls"}},
        {"type": "tool_use", "id": "call_b", "name": "Read", "input": {}},
    ]
    assert body["stop_reason"] == "tool_use"
    assert body["usage"] == {
        "input_tokens": 20,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 100,
        "output_tokens": 30,
    }


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal")],
)
def test_finish_reason_to_stop_reason(finish: str, stop: str) -> None:
    choice = {"index": 0, "message": {"role": "assistant", "content": "x"}}
    body = message({**COMPLETION, "choices": [{**choice, "finish_reason": finish}]})
    assert body["stop_reason"] == stop


def test_bad_tool_arguments_are_an_error_not_a_guess() -> None:
    call = {"id": "c", "function": {"name": "f", "arguments": "{not json"}}
    choice = {"message": {"tool_calls": [call]}, "finish_reason": "tool_calls"}
    with pytest.raises(ValueError, match="not JSON"):
        message({**COMPLETION, "choices": [choice]})


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c1", "model": "gpt-4o", "choices": [choice]}


def test_chunks_become_events_in_anthropic_order() -> None:
    call = {"index": 0, "id": "call|1", "function": {"name": "Bash", "arguments": ""}}
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Hel"}),
        _chunk({"content": "lo"}),
        _chunk({"tool_calls": [call]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"command":'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"ls"}'}}]}),
        _chunk({"tool_calls": [{"index": 1, "id": "call_2", "function": {"name": "Read"}}]}),
        _chunk({}, "tool_calls"),
        {"id": "c1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}},
    ]
    translate = ChunksToEvents()
    events = [e for c in chunks for e in translate.feed(c)] + translate.finish()

    kinds = [e["type"] for e in events]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0]["message"]["id"] == "c1"
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [s["index"] for s in starts] == [0, 1, 2]
    assert starts[1]["content_block"] == {
        "type": "tool_use",
        "id": "call_1",  # a tool_use id Claude would accept later
        "name": "Bash",
        "input": {},
    }
    partial = [e["delta"]["partial_json"] for e in events if e.get("index") == 1 and "delta" in e]
    assert "".join(partial) == '{"command":"ls"}'
    assert events[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[-2]["usage"]["input_tokens"] == 9
    assert events[-2]["usage"]["output_tokens"] == 4


def test_an_empty_stream_still_closes_properly() -> None:
    events = ChunksToEvents().finish()
    assert [e["type"] for e in events] == ["message_start", "message_delta", "message_stop"]
