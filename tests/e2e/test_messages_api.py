"""``POST /v1/messages`` through router with the official ``anthropic`` SDK: Claude natively,
MAI-Code-1-Flash and GPT-4o translated, routed by policy (including the ids Claude Code sends),
with router's headers, auth, errors, cache, fallback and ``count_tokens``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from router.demo import demo_config
from router.emulators import Behaviour
from support.routing import metric, scrape
from support.stack import Emulators, RouterFactory, RunningRouter

POLICIES = """
policies:
  claude-code:
    aliases: ["claude-*"]
    rules:
      - name: code
        when: {task: code}
        candidates: [mai-code-1-flash, claude-sonnet]
        objective: priority
      - name: rest
        candidates: [claude-sonnet]
  cached:
    cache: {mode: "on", ttl_s: 600}
    rules:
      - name: one
        candidates: [gpt-4o]
  hedged:
    hedge: {delay_s: 0.2}
    rules:
      - name: race
        objective: priority
        candidates: [mai-code-1-flash, claude-sonnet]
  chain:
    retry: {max_retries: 0}
    rules:
      - name: first-then-second
        candidates: [mai-code-1-flash]
        fallbacks: [claude-sonnet]
"""
BASH = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}
KEY = "sk-router-master-0123456789"


@pytest.fixture
def running(start_router: RouterFactory, tmp_path: Path, emulators: Emulators) -> RunningRouter:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "router.yaml").write_text(demo_config(emulators.endpoints), encoding="utf-8")
    (directory / "policies.yaml").write_text(POLICIES, encoding="utf-8")
    return start_router(directory)


SDK = Callable[..., anthropic.Anthropic]


@pytest.fixture
def client() -> Iterator[SDK]:
    """``client(router, key)``: an SDK client for a running router, closed after the test (no
    sockets left to the garbage collector)."""
    made: list[anthropic.Anthropic] = []

    def make(router: RunningRouter, key: str = "unused") -> anthropic.Anthropic:
        sdk = anthropic.Anthropic(base_url=router.base_url, api_key=key, max_retries=0)
        made.append(sdk)
        return sdk

    yield make
    for sdk in made:
        sdk.close()


def ask(text: str = "hello there") -> list[Any]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(
    ("model", "deployment"),
    [
        ("claude-sonnet", "claude-sonnet@anthropic"),
        ("mai-code-1-flash", "mai-code-1-flash@foundry"),
        ("gpt-4o", "gpt-4o@openai"),
    ],
)
def test_each_model_answers_as_an_anthropic_message(
    running: RunningRouter, model: str, deployment: str, client: SDK
) -> None:
    raw = client(running).messages.with_raw_response.create(
        model=model, max_tokens=200, system="be brief", messages=ask()
    )
    message = raw.parse()

    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == model
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("Answer from")
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert raw.headers["x-router-deployment"] == deployment
    assert raw.headers["x-router-model"] == model
    assert float(raw.headers["x-router-cost-usd"]) > 0


def test_claude_gets_the_body_unchanged_with_the_betas(
    running: RunningRouter, emulators: Emulators
) -> None:
    body = {
        "model": "claude-sonnet",
        "max_tokens": 300,
        "messages": ask(),
        "context_management": {"edits": []},
        "metadata": {"user_id": "u-1"},
    }
    betas = "context-management-2025-06-27,claude-code-20250219"
    reply = httpx.post(
        f"{running.base_url}/v1/messages?beta=true",
        json=body,
        headers={"anthropic-version": "2023-06-01", "anthropic-beta": betas},
    )

    assert reply.status_code == 200, reply.text
    sent = emulators.anthropic.requests[-1]
    assert sent.body == {**body, "model": "claude-sonnet-4-5"}
    assert sent.headers["anthropic-beta"] == betas


def test_streams_from_claude_and_from_an_openai_side_model(
    running: RunningRouter, client: SDK
) -> None:
    for model in ("claude-sonnet", "mai-code-1-flash"):
        with client(running).messages.stream(
            model=model, max_tokens=200, messages=ask("stream it")
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text.startswith("Answer from"), model
        assert final.content[0].text == text  # type: ignore[union-attr]
        assert final.model == model
        assert final.usage.output_tokens > 0
        assert final.usage.input_tokens > 0


def test_raw_stream_framing(running: RunningRouter) -> None:
    with httpx.stream(
        "POST",
        f"{running.base_url}/v1/messages",
        json={"model": "gpt-4o", "max_tokens": 50, "stream": True, "messages": ask()},
    ) as reply:
        text = reply.read().decode()

    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.headers["x-router-model"] == "gpt-4o"
    frames = [f.split("\n") for f in text.strip().split("\n\n")]
    kinds = [f[0].removeprefix("event: ") for f in frames]
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    data = [json.loads(f[1].removeprefix("data: ")) for f in frames]
    assert [d["type"] for d in data] == kinds
    assert "[DONE]" not in text


@pytest.mark.parametrize("model", ["mai-code-1-flash", "claude-sonnet"])
def test_tool_round_trip(running: RunningRouter, model: str, client: SDK) -> None:
    sdk = client(running)
    messages: list[Any] = ask("run ls in the repo")
    first = sdk.messages.create(
        model=model,
        max_tokens=300,
        messages=messages,
        tools=[BASH],  # type: ignore[list-item]
        tool_choice={"type": "any"},
    )
    use = first.content[-1]
    assert first.stop_reason == "tool_use"
    assert use.type == "tool_use"
    assert isinstance(use.input["command"], str)  # type: ignore[index]
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "a.py b.py"}],
        },
    ]
    second = sdk.messages.create(
        model=model,
        max_tokens=300,
        messages=messages,
        tools=[BASH],  # type: ignore[list-item]
    )
    assert second.stop_reason == "end_turn"
    assert "a.py b.py" in second.content[0].text  # type: ignore[union-attr]


def test_claude_code_model_ids_route_by_the_alias_pattern(
    running: RunningRouter, client: SDK
) -> None:
    sdk = client(running)
    code = sdk.messages.with_raw_response.create(
        model="claude-sonnet-4-5-20250929",
        max_tokens=300,
        messages=ask("fix the python function that raises a KeyError"),
        tools=[BASH],  # type: ignore[list-item]
    )
    chat = sdk.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=100, messages=ask("hi, how are you?")
    )

    assert code.headers["x-router-policy"] == "claude-code"
    assert code.headers["x-router-model"] == "mai-code-1-flash"  # the easy code turn
    assert chat.headers["x-router-policy"] == "claude-code"
    assert chat.headers["x-router-model"] == "claude-sonnet"


def test_hints_an_openai_side_model_did_not_get_are_named(
    running: RunningRouter, client: SDK
) -> None:
    raw = client(running).messages.with_raw_response.create(
        model="gpt-4o",
        max_tokens=3000,
        messages=ask(),
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    native = client(running).messages.with_raw_response.create(
        model="claude-sonnet",
        max_tokens=3000,
        messages=ask(),
        thinking={"type": "enabled", "budget_tokens": 1024},
    )

    assert raw.headers["x-router-omitted"] == "thinking"
    assert "x-router-omitted" not in native.headers
    thought = native.parse().content[0]
    assert thought.type == "thinking"
    assert thought.signature.startswith("emu-sig-")  # Claude's, passed through untouched


def test_structured_output_from_claude_and_gpt_4o(running: RunningRouter) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 2}},
        "required": ["city", "days"],
        "additionalProperties": False,
    }
    for model in ("claude-sonnet", "gpt-4o"):
        reply = httpx.post(
            f"{running.base_url}/v1/messages",
            json={
                "model": model,
                "max_tokens": 200,
                "messages": ask("plan a trip"),
                "output_config": {"format": {"type": "json_schema", "schema": schema}},
            },
        )
        value = json.loads(reply.json()["content"][0]["text"])
        assert value["days"] >= 2, model
        assert isinstance(value["city"], str)


def test_what_an_openai_side_model_cannot_take_is_a_named_400(
    running: RunningRouter, client: SDK
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client(running).messages.create(
            model="gpt-4o", max_tokens=50, messages=ask(), extra_body={"top_k": 5}
        )
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "top_k" in body["error"]["message"]


def test_errors_have_anthropic_shape(running: RunningRouter, client: SDK) -> None:
    sdk = client(running)
    with pytest.raises(anthropic.NotFoundError) as missing:
        sdk.messages.create(model="no-such-model", max_tokens=10, messages=ask())
    no_max = httpx.post(
        f"{running.base_url}/v1/messages", json={"model": "gpt-4o", "messages": ask()}
    )
    not_json = httpx.post(f"{running.base_url}/v1/messages", content=b"{nope")

    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert no_max.status_code == 400
    assert no_max.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    }
    assert not_json.json()["error"]["type"] == "invalid_request_error"
    # The OpenAI routes keep OpenAI's shape.
    openai_shape = httpx.post(f"{running.v1}/chat/completions", content=b"{nope")
    assert "type" not in openai_shape.json()
    assert openai_shape.json()["error"]["code"] == "invalid_json"


def test_x_api_key_is_accepted_and_a_missing_key_is_an_anthropic_401(
    start_router: RouterFactory,
    tmp_path: Path,
    emulators: Emulators,
    monkeypatch: pytest.MonkeyPatch,
    client: SDK,
) -> None:
    monkeypatch.setenv("ROUTER_MASTER_KEY", KEY)
    directory = tmp_path / "keyed"
    directory.mkdir()
    (directory / "router.yaml").write_text(demo_config(emulators.endpoints), encoding="utf-8")
    keyed = start_router(directory)

    ok = client(keyed, KEY).messages.create(model="gpt-4o", max_tokens=20, messages=ask())
    with pytest.raises(anthropic.AuthenticationError) as wrong:
        client(keyed, "sk-wrong-key-000000").messages.create(
            model="gpt-4o", max_tokens=20, messages=ask()
        )
    missing = httpx.post(
        f"{keyed.base_url}/v1/messages",
        json={"model": "gpt-4o", "max_tokens": 20, "messages": ask()},
    )

    assert ok.content[0].type == "text"
    assert wrong.value.status_code == 401
    assert missing.status_code == 401
    assert missing.json()["type"] == "error"
    assert missing.json()["error"]["type"] == "authentication_error"
    assert "x-api-key" in missing.json()["error"]["message"]


def test_count_tokens_is_routers_estimate(running: RunningRouter, client: SDK) -> None:
    raw = client(running).messages.with_raw_response.count_tokens(
        model="claude-sonnet-4-5-20250929",
        system="You are a coding agent.",
        messages=ask("count these words please"),
        tools=[BASH],
    )
    small = client(running).messages.count_tokens(model="gpt-4o", messages=ask("hi"))

    assert raw.headers["x-router-token-count"] == "estimate"
    counted = raw.parse().input_tokens
    assert counted > small.input_tokens > 0


def test_the_cache_serves_a_messages_answer_in_its_own_shape(
    running: RunningRouter, emulators: Emulators, client: SDK
) -> None:
    sdk = client(running)
    body: dict[str, Any] = {"model": "cached", "max_tokens": 100, "messages": ask("cache me")}
    first = sdk.messages.with_raw_response.create(**body)
    second = sdk.messages.with_raw_response.create(**body)
    url = f"{running.base_url}/v1/messages"
    streamed = httpx.post(url, json={**body, "stream": True})
    replayed = httpx.post(url, json={**body, "stream": True})

    assert first.headers["x-router-cache"] == "stored"
    assert second.headers["x-router-cache"] == "hit"
    assert second.parse().content == first.parse().content
    # A stream is its own entry (its headers leave before it is stored), replayed as events.
    assert streamed.headers["x-router-cache"] == "miss"
    assert replayed.headers["x-router-cache"] == "hit"
    assert replayed.text == streamed.text
    assert streamed.text.startswith("event: message_start")
    assert len([r for r in emulators.openai.requests if r.path.endswith("/completions")]) == 2


@pytest.mark.parametrize("stream", [False, True])
def test_fallback_to_claude_when_the_first_deployment_fails(
    running: RunningRouter, emulators: Emulators, stream: bool
) -> None:
    emulators.foundry.plan(Behaviour(status=500))
    body = {"model": "chain", "max_tokens": 100, "messages": ask(), "stream": stream}
    reply = httpx.post(f"{running.base_url}/v1/messages", json=body)

    assert reply.status_code == 200
    assert reply.headers["x-router-deployment"] == "claude-sonnet@anthropic"
    assert emulators.foundry.requests[-1].status == 500


def test_a_failure_mid_stream_ends_with_an_error_event(
    running: RunningRouter, emulators: Emulators
) -> None:
    emulators.foundry.plan(Behaviour(error_event_after_chunks=3))
    body = {"model": "mai-code-1-flash", "max_tokens": 100, "messages": ask(), "stream": True}
    reply = httpx.post(f"{running.base_url}/v1/messages", json=body)

    last = reply.text.strip().split("\n\n")[-1].split("\n")
    assert last[0] == "event: error"
    error = json.loads(last[1].removeprefix("data: "))
    assert error["type"] == "error"
    assert error["error"]["type"] == "api_error"
    assert "message_stop" not in reply.text


def claude_code_turn(model: str) -> dict[str, Any]:
    """A second turn shaped as Claude Code 2.x sends it: thinking on (display omitted),
    context management, cached system blocks, a thinking block and a tool use in the history,
    a tool result with is_error and cache_control."""
    cached = {"type": "ephemeral"}
    read = {
        "name": "Read",
        "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
    }
    return {
        "model": model,
        "max_tokens": 32000,
        "stream": True,
        "thinking": {"budget_tokens": 31999, "type": "enabled", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": json.dumps({"device_id": "d1", "session_id": "s1"})},
        "system": [
            {"type": "text", "text": "You are Claude Code, a CLI for software engineering."},
            {
                "type": "text",
                "text": "Use the tools to read and edit code.",
                "cache_control": cached,
            },
        ],
        "tools": [read, BASH],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what does main.py do?", "cache_control": cached}
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "", "signature": "sig-from-claude"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "Read",
                        "input": {"file_path": "main.py"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": "print('hello')",
                        "is_error": False,
                        "cache_control": cached,
                    }
                ],
            },
        ],
    }


CLAUDE_CODE_HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,"
    "context-management-2025-06-27",
    "x-api-key": "sk-test",
}


def test_a_claude_code_turn_goes_to_mai_translated(
    running: RunningRouter, emulators: Emulators
) -> None:
    reply = httpx.post(
        f"{running.base_url}/v1/messages?beta=true",
        json=claude_code_turn("claude-sonnet-4-5"),
        headers=CLAUDE_CODE_HEADERS,
    )

    assert reply.status_code == 200, reply.text
    assert reply.headers["x-router-policy"] == "claude-code"
    assert reply.headers["x-router-model"] == "mai-code-1-flash"
    assert reply.headers["x-router-omitted"] == "thinking,context_management"
    assert "Answer from MAI-Code-1-Flash using tool result: print('hello')" in "".join(
        json.loads(line[6:])["delta"].get("text", "")
        for line in reply.text.splitlines()
        if line.startswith("data: ") and '"content_block_delta"' in line
    )
    sent = emulators.foundry.requests[-1].body
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool"]
    assert sent["messages"][2]["tool_calls"][0]["function"]["name"] == "Read"
    assert "thinking" not in sent
    assert "anthropic-beta" not in emulators.foundry.requests[-1].headers


def test_a_claude_code_turn_to_claude_is_passed_through(
    running: RunningRouter, emulators: Emulators
) -> None:
    turn = claude_code_turn("claude-sonnet")
    reply = httpx.post(
        f"{running.base_url}/v1/messages?beta=true", json=turn, headers=CLAUDE_CODE_HEADERS
    )

    assert reply.status_code == 200, reply.text
    assert "x-router-omitted" not in reply.headers
    sent = emulators.anthropic.requests[-1]
    assert sent.body == {**turn, "model": "claude-sonnet-4-5"}
    assert sent.headers["anthropic-beta"] == CLAUDE_CODE_HEADERS["anthropic-beta"]
    assert "event: message_stop" in reply.text


@pytest.mark.parametrize("stream", [False, True])
def test_a_slow_first_answer_is_hedged(
    running: RunningRouter, emulators: Emulators, stream: bool
) -> None:
    emulators.foundry.plan(Behaviour(latency_s=3.0))
    body = {"model": "hedged", "max_tokens": 50, "messages": ask(), "stream": stream}
    reply = httpx.post(f"{running.base_url}/v1/messages", json=body, timeout=10)

    assert reply.status_code == 200
    assert reply.headers["x-router-deployment"] == "claude-sonnet@anthropic"
    assert reply.elapsed.total_seconds() < 2.0


def test_claude_takes_a_tool_loop_turn_another_model_answered(
    running: RunningRouter, emulators: Emulators
) -> None:
    """MAI answered the tool use (no thinking block); the tool result goes to Claude with
    thinking on: Claude would refuse it, so router turns thinking off for this turn and says
    so."""
    turn = claude_code_turn("claude-sonnet")
    turn["messages"][1]["content"] = turn["messages"][1]["content"][1:]  # MAI: no thinking
    reply = httpx.post(
        f"{running.base_url}/v1/messages?beta=true", json=turn, headers=CLAUDE_CODE_HEADERS
    )

    assert reply.status_code == 200, reply.text
    assert reply.headers["x-router-omitted"] == "thinking"
    sent = emulators.anthropic.requests[-1].body
    assert "thinking" not in sent
    assert "context_management" not in sent  # its only edit was about thinking
    assert sent["messages"] == turn["messages"]


def test_messages_requests_are_counted_like_any_other(running: RunningRouter) -> None:
    for stream in (False, True):
        body = {"model": "claude-code-x", "max_tokens": 50, "messages": ask(), "stream": stream}
        httpx.post(f"{running.base_url}/v1/messages", json=body).raise_for_status()
    text = scrape(running)

    labels = {"policy": "claude-code", "model": "claude-sonnet"}
    assert metric(text, "router_requests_total", status_class="2xx", **labels) == 2
    assert metric(text, "router_routing_decisions_total", rule="rest", **labels) == 2
    tokens = {"model": "claude-sonnet", "deployment": "claude-sonnet@anthropic"}
    assert metric(text, "router_tokens_total", direction="input", **tokens) > 0
    assert metric(text, "router_tokens_total", direction="output", **tokens) > 0
    assert metric(text, "router_time_to_first_token_seconds_count", **labels) == 1
