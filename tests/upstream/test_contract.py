"""The adapter contract: every ``Upstream`` adapter, against its provider's emulator over real
HTTP, answers in the OpenAI shape and fails in router's terms (``AttemptFailed``)."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson
import pytest

from router.config.catalog import Deployment
from router.emulators import Behaviour
from router.errors import AttemptError, AttemptFailed
from router.upstream import Upstream
from support.upstream import (
    SECRET,
    WEATHER_TOOL,
    Rig,
    ask,
    closed_port,
    deployment_for,
)


async def collect(
    upstream: Upstream, deployment: Deployment, body: dict[str, Any]
) -> list[dict[str, Any]]:
    stream = await upstream.stream(deployment, body)
    try:
        return [chunk async for chunk in stream]
    finally:
        await stream.aclose()


async def failure_of(
    upstream: Upstream, deployment: Deployment, body: dict[str, Any], *, stream: bool
) -> tuple[AttemptError, int]:
    """The ``AttemptError`` of one attempt, whether raised opening or reading a stream, and
    how many chunks arrived before it."""
    received = 0

    async def attempt() -> None:
        nonlocal received
        if not stream:
            await upstream.complete(deployment, body)
            return
        chunks = await upstream.stream(deployment, body)
        try:
            async for _ in chunks:
                received += 1
        finally:
            await chunks.aclose()

    with pytest.raises(AttemptFailed) as caught:
        await attempt()
    return caught.value.error, received


def tool_arguments(chunks: list[dict[str, Any]]) -> tuple[str, str]:
    name, arguments = "", ""
    for chunk in chunks:
        for choice in chunk["choices"]:
            for call in choice.get("delta", {}).get("tool_calls") or ():
                name += call.get("function", {}).get("name") or ""
                arguments += call.get("function", {}).get("arguments") or ""
    return name, arguments


async def test_complete_is_an_openai_completion_with_usage(rig: Rig) -> None:
    result = await rig.upstream.complete(rig.deployment(), ask(max_tokens=64))

    body = result.body
    assert body["object"] == "chat.completion"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert isinstance(message["content"], str)
    assert message["content"]
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] > 0
    assert body["usage"]["completion_tokens"] > 0
    assert result.usage is not None
    assert result.usage.completion_tokens == body["usage"]["completion_tokens"]
    assert rig.emu.requests[-1].status == 200


async def test_stream_is_openai_chunks_ending_with_finish_and_usage(rig: Rig) -> None:
    chunks = await collect(rig.upstream, rig.deployment(), ask())

    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text
    answered = [c for c in chunks if c["choices"]]
    assert all(c["object"] == "chat.completion.chunk" for c in answered)
    assert answered[-1]["choices"][0]["finish_reason"] == "stop"
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    # Usage was asked for upstream even though the client did not ask for it.
    assert rig.emu.requests[-1].completed


async def test_complete_returns_a_tool_call_with_json_arguments(rig: Rig) -> None:
    body = ask("weather in Paris?", tools=[WEATHER_TOOL], tool_choice="required")
    result = await rig.upstream.complete(rig.deployment(), body)

    choice = result.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function"
    assert call["id"]
    assert call["function"]["name"] == "get_weather"
    assert isinstance(orjson.loads(call["function"]["arguments"])["city"], str)


async def test_stream_delivers_tool_call_deltas_with_json_arguments(rig: Rig) -> None:
    rig.emu.plan(Behaviour(chunk_count=3))
    body = ask("weather in Paris?", tools=[WEATHER_TOOL], tool_choice="required")
    chunks = await collect(rig.upstream, rig.deployment(), body)

    name, arguments = tool_arguments(chunks)
    assert name == "get_weather"
    assert "city" in orjson.loads(arguments)
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "tool_calls"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 18},
        "langs": {"type": "array", "items": {"enum": ["py", "go"]}, "minItems": 1},
    },
    "required": ["name", "age", "langs"],
    "additionalProperties": False,
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}


async def test_json_schema_answer_is_valid_against_the_schema(rig: Rig) -> None:
    body = ask("describe a person", response_format=JSON_SCHEMA)
    result = await rig.upstream.complete(rig.deployment(), body)
    chunks = await collect(rig.upstream, rig.deployment(), body)

    content = result.body["choices"][0]["message"]["content"]
    jsonschema.validate(orjson.loads(content), PERSON)
    streamed = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
    )
    assert orjson.loads(streamed) == orjson.loads(content)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(400, None), (429, 3.0), (500, None), ("overloaded", None)],
    ids=["400", "429", "500", "overloaded"],
)
async def test_error_status_becomes_attempt_failed(
    rig: Rig, stream: bool, status: int | str, retry_after: float | None
) -> None:
    code = rig.target.overloaded if status == "overloaded" else int(status)
    rig.emu.plan(Behaviour(status=code, retry_after=retry_after))

    error, _ = await failure_of(rig.upstream, rig.deployment(), ask(), stream=stream)

    assert (error.kind, error.status) == ("status", code)
    assert error.retry_after == retry_after
    assert error.deployment == rig.deployment().name
    assert error.retryable is (code != 400)
    assert SECRET not in error.message


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_rejected_key_is_a_401_without_the_key(
    rig: Rig, stream: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = SECRET + "-wrong"
    monkeypatch.setenv("ROUTER_TEST_UPSTREAM_KEY", wrong)

    error, _ = await failure_of(rig.upstream, rig.deployment(), ask(), stream=stream)

    assert (error.kind, error.status) == ("status", 401)
    assert wrong not in error.message
    assert SECRET not in error.message
    assert "sk-test" not in error.message


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_slow_first_byte_is_a_timeout(rig: Rig, stream: bool) -> None:
    rig.emu.plan(Behaviour(latency_s=2.0))
    deployment = rig.deployment(connect_s=0.2, ttft_s=0.2, total_s=0.4)

    error, _ = await failure_of(rig.upstream, deployment, ask(), stream=stream)

    assert (error.kind, error.status) == ("timeout", None)
    assert error.retryable


async def test_silence_inside_a_stream_is_an_idle_timeout(rig: Rig) -> None:
    rig.emu.plan(Behaviour(stall_after_chunks=2, stall_s=2.0))
    deployment = rig.deployment(idle_s=0.3)

    error, received = await failure_of(rig.upstream, deployment, ask(), stream=True)

    assert (error.kind, error.status) == ("timeout", None)
    assert received >= 1


async def test_dropped_connection_mid_stream_is_a_protocol_failure(rig: Rig) -> None:
    rig.emu.plan(Behaviour(drop_after_chunks=3))

    error, received = await failure_of(rig.upstream, rig.deployment(), ask(), stream=True)

    assert (error.kind, error.status) == ("protocol", None)
    assert received >= 1  # the stream had opened: this failed while iterating


async def test_error_event_mid_stream_is_a_protocol_failure(rig: Rig) -> None:
    rig.emu.plan(Behaviour(error_event_after_chunks=2))

    error, received = await failure_of(rig.upstream, rig.deployment(), ask(), stream=True)

    assert error.kind == "protocol"
    assert received >= 1
    assert SECRET not in error.message


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_refused_connection_is_a_connect_failure(rig: Rig, stream: bool) -> None:
    deployment = deployment_for(rig.target, f"http://127.0.0.1:{closed_port()}")

    error, _ = await failure_of(rig.upstream, deployment, ask(), stream=stream)

    assert (error.kind, error.status) == ("connect", None)
    assert not rig.emu.requests


async def test_aclose_cancels_the_upstream_request(rig: Rig) -> None:
    rig.emu.plan(Behaviour(reply_words=200, chunk_interval_s=0.05))
    stream = await rig.upstream.stream(rig.deployment(), ask())
    first = await anext(aiter(stream))
    assert first["choices"] is not None

    await stream.aclose()
    await rig.wait_finished()

    record = rig.emu.requests[-1]
    assert record.cancelled
    assert not record.completed
    assert record.chunks_sent < 200


async def test_adapter_is_reusable_after_failures(rig: Rig) -> None:
    """A failed attempt leaves nothing behind that spoils the next one on the same adapter."""
    rig.emu.plan(Behaviour(drop_after_chunks=1))
    await failure_of(rig.upstream, rig.deployment(), ask(), stream=True)
    rig.emu.plan(Behaviour(status=500))
    await failure_of(rig.upstream, rig.deployment(), ask(), stream=False)

    result = await rig.upstream.complete(rig.deployment(), ask())

    assert result.body["choices"][0]["message"]["content"]
    assert result.usage is not None
    assert result.usage.completion_tokens > 0
