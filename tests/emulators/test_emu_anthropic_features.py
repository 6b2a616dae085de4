"""The Anthropic emulator beyond plain chat: structured outputs, thinking, prompt caching,
``count_tokens``, and refusal of fields the real API would refuse."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema

from router.emulators import AnthropicEmulator
from support.emulators import ANTHROPIC_HEADERS, MODEL, TOOL, parse_sse, post

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "score": {"type": "integer", "minimum": 3},
    },
    "required": ["name", "tags", "score"],
    "additionalProperties": False,
}
ASK = [{"role": "user", "content": "describe a cat"}]


def body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 2000, "messages": ASK, **extra}


async def test_output_config_format_answers_json_valid_against_the_schema(
    anthropic_emu: AnthropicEmulator,
) -> None:
    fmt = {"type": "json_schema", "schema": SCHEMA}
    plain = await post(anthropic_emu, body(output_config={"format": fmt}))
    streamed = await post(anthropic_emu, body(output_config={"format": fmt}, stream=True))

    text = plain.json()["content"][0]["text"]
    jsonschema.validate(json.loads(text), SCHEMA)
    deltas = [d["delta"]["text"] for n, d in parse_sse(streamed.text) if n == "content_block_delta"]
    assert json.loads("".join(deltas)) == json.loads(text)


async def test_beta_output_format_needs_its_beta_header(anthropic_emu: AnthropicEmulator) -> None:
    fmt = {"type": "json_schema", "schema": SCHEMA}
    refused = await post(anthropic_emu, body(output_format=fmt))
    beta = {**ANTHROPIC_HEADERS, "anthropic-beta": "structured-outputs-2025-11-13"}
    accepted = await post(anthropic_emu, body(output_format=fmt), headers=beta)

    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "output_format: Extra inputs are not permitted"
    jsonschema.validate(json.loads(accepted.json()["content"][0]["text"]), SCHEMA)


async def test_unknown_fields_are_refused_like_the_real_api(
    anthropic_emu: AnthropicEmulator,
) -> None:
    openai_field = await post(anthropic_emu, body(response_format={"type": "json_object"}))

    assert openai_field.status_code == 400
    assert openai_field.json()["error"]["type"] == "invalid_request_error"
    assert "response_format" in openai_field.json()["error"]["message"]


async def test_thinking_comes_first_with_a_signature(anthropic_emu: AnthropicEmulator) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    plain = await post(anthropic_emu, body(thinking=thinking))
    streamed = await post(anthropic_emu, body(thinking=thinking, stream=True))
    too_big = await post(anthropic_emu, body(thinking={**thinking, "budget_tokens": 4000}))

    blocks = plain.json()["content"]
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert blocks[0]["thinking"] == "Thinking about: describe a cat"
    assert blocks[0]["signature"].startswith("emu-sig-")
    events = parse_sse(streamed.text)
    starts = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert starts == ["thinking", "text"]
    kinds = [d["delta"]["type"] for n, d in events if n == "content_block_delta"]
    assert kinds[:2] == ["thinking_delta", "signature_delta"]
    assert {d["index"] for n, d in events if n == "content_block_delta"} == {0, 1}
    final = events[-2][1]["usage"]["output_tokens"]
    assert final == plain.json()["usage"]["output_tokens"] > 12  # the thinking is billed
    assert too_big.status_code == 400  # the budget must stay below max_tokens


async def test_thinking_needs_a_thought_leading_the_last_tool_turn(
    anthropic_emu: AnthropicEmulator,
) -> None:
    use = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}
    thought = {"type": "thinking", "thinking": "", "signature": "s"}
    thinking = {"type": "enabled", "budget_tokens": 1024}

    def loop(first: list[dict[str, Any]]) -> dict[str, Any]:
        turns = [
            *ASK,
            {"role": "assistant", "content": first},
            {"role": "user", "content": [result]},
        ]
        return body(messages=turns, tools=[TOOL], thinking=thinking)

    refused = await post(anthropic_emu, loop([use]))
    accepted = await post(anthropic_emu, loop([thought, use]))
    unthinking = await post(anthropic_emu, {**loop([use]), "thinking": {"type": "disabled"}})

    assert refused.status_code == 400
    assert "must start with a thinking block" in refused.json()["error"]["message"]
    assert accepted.status_code == 200
    assert unthinking.status_code == 200


async def test_thinking_display_omitted_keeps_only_the_signature(
    anthropic_emu: AnthropicEmulator,
) -> None:
    # What Claude Code sends: a budget just below max_tokens, thinking text not displayed.
    thinking = {"type": "enabled", "budget_tokens": 1999, "display": "omitted"}
    plain = await post(anthropic_emu, body(thinking=thinking))
    streamed = await post(anthropic_emu, body(thinking=thinking, stream=True))

    block = plain.json()["content"][0]
    assert (block["type"], block["thinking"]) == ("thinking", "")
    assert block["signature"].startswith("emu-sig-")
    kinds = [d["delta"]["type"] for n, d in parse_sse(streamed.text) if n == "content_block_delta"]
    assert kinds[0] == "signature_delta"
    assert "thinking_delta" not in kinds


async def test_cache_control_writes_then_reads_the_prompt_cache(
    anthropic_emu: AnthropicEmulator,
) -> None:
    system = [
        {"type": "text", "text": "a long and stable system prompt " * 5},
        {"type": "text", "text": "cached up to here", "cache_control": {"type": "ephemeral"}},
    ]
    first = (await post(anthropic_emu, body(system=system))).json()["usage"]
    second = (await post(anthropic_emu, body(system=system, stream=True))).text
    uncached = (await post(anthropic_emu, body())).json()["usage"]

    assert first["cache_creation_input_tokens"] == 34
    assert first["cache_read_input_tokens"] == 0
    assert first["input_tokens"] == 3  # "describe a cat": after the breakpoint
    start = parse_sse(second)[0][1]["message"]["usage"]
    assert start["cache_read_input_tokens"] == 34
    assert start["cache_creation_input_tokens"] == 0
    assert start["input_tokens"] == 3
    assert uncached["cache_read_input_tokens"] == uncached["cache_creation_input_tokens"] == 0


async def test_count_tokens_matches_the_messages_usage(anthropic_emu: AnthropicEmulator) -> None:
    request = {"model": MODEL, "system": "be brief", "messages": ASK, "tools": [TOOL]}
    async with httpx.AsyncClient() as http:
        counted = await http.post(
            f"{anthropic_emu.url}/v1/messages/count_tokens",
            json=request,
            headers=ANTHROPIC_HEADERS,
        )
        bad = await http.post(
            f"{anthropic_emu.url}/v1/messages/count_tokens",
            json={"model": MODEL},
            headers=ANTHROPIC_HEADERS,
        )
    answered = await post(anthropic_emu, {**request, "max_tokens": 50})

    assert counted.status_code == 200
    assert counted.json() == {"input_tokens": answered.json()["usage"]["input_tokens"]}
    assert counted.json()["input_tokens"] == 5
    assert bad.status_code == 400
    assert anthropic_emu.requests[0].path == "/v1/messages/count_tokens"
