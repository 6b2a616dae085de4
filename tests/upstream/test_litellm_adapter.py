"""The litellm adapter against the Anthropic emulator: what litellm's real Anthropic code path
sends and what comes back, beyond the shared contract."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from router.emulators import Behaviour
from router.errors import AttemptFailed, InvalidRequest
from router.upstream.litellm_adapter import openai_chunk
from support.upstream import KEY_ENV, WEATHER_TOOL, Rig, ask


async def test_max_tokens_and_stop_reach_anthropic_and_shape_the_answer(claude: Rig) -> None:
    claude.emu.plan(Behaviour(reply="one two three four five six seven eight nine ten"))
    truncated = await claude.upstream.complete(claude.deployment(), ask(max_tokens=3))

    sent = claude.emu.requests[-1].body
    assert sent["max_tokens"] == 3
    assert truncated.body["choices"][0]["finish_reason"] == "length"
    assert truncated.body["usage"]["completion_tokens"] <= 3

    claude.emu.plan(Behaviour(reply="alpha bravo STOP charlie"))
    stopped = await claude.upstream.complete(claude.deployment(), ask(stop=["STOP"]))

    assert claude.emu.requests[-1].body["stop_sequences"] == ["STOP"]
    assert stopped.body["choices"][0]["finish_reason"] == "stop"
    assert stopped.body["choices"][0]["message"]["content"] == "alpha bravo"


async def test_system_message_becomes_anthropic_system(claude: Rig) -> None:
    body = ask()
    body["messages"].insert(0, {"role": "system", "content": "Be brief."})
    await claude.upstream.complete(claude.deployment(), body)

    sent = claude.emu.requests[-1].body
    assert [m["role"] for m in sent["messages"]] == ["user"]
    assert "Be brief." in orjson.dumps(sent["system"]).decode()


async def test_tool_round_trip(claude: Rig) -> None:
    first = await claude.upstream.complete(
        claude.deployment(),
        ask("weather in Paris?", tools=[WEATHER_TOOL], tool_choice="required"),
    )
    call = first.body["choices"][0]["message"]["tool_calls"][0]
    sent = claude.emu.requests[-1].body
    assert sent["tools"][0]["name"] == "get_weather"
    assert sent["tools"][0]["input_schema"]["required"] == ["city"]

    follow_up = ask("weather in Paris?", tools=[WEATHER_TOOL])
    follow_up["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"},
    ]
    second = await claude.upstream.complete(claude.deployment(), follow_up)

    last_turn = claude.emu.requests[-1].body["messages"][-1]
    result_block = next(b for b in last_turn["content"] if b["type"] == "tool_result")
    assert result_block["tool_use_id"] == call["id"]
    answer = second.body["choices"][0]["message"]["content"]
    assert "sunny, 21C" in answer
    assert second.body["choices"][0]["finish_reason"] == "stop"


async def test_stream_usage_arrives_without_the_client_asking(claude: Rig) -> None:
    stream = await claude.upstream.stream(claude.deployment(), ask())
    chunks = [chunk async for chunk in stream]

    assert "stream_options" not in ask()
    assert chunks[-1]["usage"]["prompt_tokens"] > 0
    assert "cost" not in chunks[-1]["usage"]  # litellm's estimate stays out of the wire shape


async def test_only_openai_parameters_reach_litellm(claude: Rig) -> None:
    """Keys litellm would obey (mock_response, api_base) are never passed on; parameters that
    only describe the request (metadata) may be dropped, and a no-op value asks nothing."""
    body = ask(
        mock_response="MOCKED",
        api_base="http://127.0.0.1:9",
        metadata={"tenant": "a"},
        presence_penalty=0,
        temperature=0.2,
    )
    result = await claude.upstream.complete(claude.deployment(), body)

    assert result.body["choices"][0]["message"]["content"] != "MOCKED"
    sent = claude.emu.requests[-1].body
    assert sent["temperature"] == 0.2
    for absent in ("metadata", "presence_penalty", "mock_response"):
        assert absent not in sent


@pytest.mark.parametrize(
    ("fields", "param"),
    [({"logit_bias": {"42": 1.0}}, "logit_bias"), ({"presence_penalty": 0.5}, "presence_penalty")],
)
async def test_a_parameter_anthropic_lacks_is_refused_not_dropped(
    claude: Rig, fields: dict[str, object], param: str
) -> None:
    # drop_params would answer without it, a different question than the one asked.
    with pytest.raises(InvalidRequest) as refused:
        await claude.upstream.complete(claude.deployment(), ask(**fields))
    assert (refused.value.param, refused.value.code) == (param, "unsupported_parameter")
    assert claude.emu.requests == []


@pytest.mark.parametrize("status", [429, 500, 529])
async def test_litellm_never_retries(claude: Rig, status: int) -> None:
    claude.emu.plan(Behaviour(status=status), times=3)

    with pytest.raises(AttemptFailed):
        await claude.upstream.complete(claude.deployment(), ask())

    assert len(claude.emu.requests) == 1


async def test_missing_key_variable_fails_without_calling(
    claude: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-must-not-be-used-0000")

    with pytest.raises(AttemptFailed) as caught:
        await claude.upstream.complete(claude.deployment(), ask())

    assert (caught.value.error.status, caught.value.error.retryable) == (401, False)
    assert KEY_ENV in caught.value.error.message
    assert not claude.emu.requests


async def test_malformed_frame_fails_the_stream(claude: Rig) -> None:
    claude.emu.plan(Behaviour(malformed_after_chunks=2))
    stream = await claude.upstream.stream(claude.deployment(), ask())

    with pytest.raises(AttemptFailed) as caught:
        async for _ in stream:
            pass

    assert caught.value.error.kind == "protocol"


async def test_aclose_is_idempotent_and_ends_iteration(claude: Rig) -> None:
    stream = await claude.upstream.stream(claude.deployment(), ask())
    await stream.aclose()
    await stream.aclose()

    assert [chunk async for chunk in stream] == []


async def test_adapter_aclose_then_reuse(claude: Rig) -> None:
    await claude.upstream.complete(claude.deployment(), ask())
    await claude.upstream.aclose()

    again = await claude.upstream.complete(claude.deployment(), ask())

    assert again.body["choices"][0]["message"]["content"]
    assert len(claude.emu.requests) == 2


def test_chunk_shape_keeps_openai_fields_only() -> None:
    class Fake:
        def model_dump(self, exclude_none: bool) -> dict[str, object]:
            assert exclude_none
            return {
                "id": "c1",
                "object": "chat.completion.chunk",
                "provider_specific_fields": {"x": 1},
                "choices": [{"index": 0, "delta": {"content": "hi", "citations": []}}],
            }

    chunk = openai_chunk(Fake())

    assert "provider_specific_fields" not in chunk
    assert chunk["choices"] == [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]


def test_importing_the_adapter_does_not_import_litellm() -> None:
    code = (
        "import sys, router.upstream.select, router.upstream.litellm_adapter as m; "
        "m.LitellmUpstream(); assert 'litellm' not in sys.modules, 'litellm imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
