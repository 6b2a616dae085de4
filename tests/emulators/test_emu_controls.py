"""Fault and latency controls, via header, plan() and default, for both SSE dialects."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from router.emulators import CONTROL_HEADER, AnthropicEmulator, Behaviour, OpenAIEmulator
from support.emulators import ANTHROPIC_HEADERS, KEY

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
BODY: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
AUTH = {"Authorization": f"Bearer {KEY}"}


def control(**fields: Any) -> dict[str, str]:
    return {**AUTH, CONTROL_HEADER: orjson.dumps(fields).decode()}


def client(emu: OpenAIEmulator, retries: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=emu.url, api_key=KEY, max_retries=retries)


async def timed_lines(
    emu: OpenAIEmulator, headers: dict[str, str], body: dict[str, Any] = BODY
) -> list[tuple[float, str]]:
    """(seconds since request, line) for every non-empty SSE line."""
    start = time.monotonic()
    lines = []
    async with (
        httpx.AsyncClient() as http,
        http.stream("POST", f"{emu.url}/chat/completions", json=body, headers=headers) as response,
    ):
        async for line in response.aiter_lines():
            if line:
                lines.append((time.monotonic() - start, line))
    return lines


def content_times(lines: list[tuple[float, str]]) -> list[float]:
    times = []
    for at, line in lines:
        if line.startswith("data: {"):
            choices = json.loads(line[6:]).get("choices") or [{}]
            if choices[0].get("delta", {}).get("content"):
                times.append(at)
    return times


async def test_latency_header_applies_to_one_request(openai_emu: OpenAIEmulator) -> None:
    async with httpx.AsyncClient() as http:
        start = time.monotonic()
        slow = await http.post(
            f"{openai_emu.url}/chat/completions",
            headers=control(latency_s=1.0),
            json={**BODY, "stream": False},
        )
        slow_s = time.monotonic() - start
        start = time.monotonic()
        await http.post(
            f"{openai_emu.url}/chat/completions", headers=AUTH, json={**BODY, "stream": False}
        )
        fast_s = time.monotonic() - start
    assert slow.status_code == 200
    assert slow_s >= 1.0
    assert fast_s < 0.9
    assert openai_emu.requests[0].behaviour == Behaviour(latency_s=1.0)


async def test_ttft_delays_first_content_not_headers(openai_emu: OpenAIEmulator) -> None:
    lines = await timed_lines(openai_emu, control(ttft_s=1.0))
    first_frame_at = lines[0][0]
    first_content_at = content_times(lines)[0]
    assert first_frame_at < 0.9
    assert first_content_at >= 1.0


async def test_chunk_count_and_interval(openai_emu: OpenAIEmulator) -> None:
    lines = await timed_lines(openai_emu, control(chunk_count=3, chunk_interval_s=0.1))
    times = content_times(lines)
    assert len(times) == 3
    assert times[-1] - times[0] >= 0.18
    assert lines[-1][1] == "data: [DONE]"


async def test_stall_pauses_mid_stream(openai_emu: OpenAIEmulator) -> None:
    lines = await timed_lines(openai_emu, control(chunk_count=4, stall_after_chunks=2, stall_s=1.0))
    times = content_times(lines)
    assert len(times) == 4
    assert times[2] - times[1] >= 0.95
    assert times[1] - times[0] < 0.8


async def test_status_with_retry_after(openai_emu: OpenAIEmulator) -> None:
    openai_emu.plan(Behaviour(status=429, retry_after=2))
    async with client(openai_emu) as api:
        with pytest.raises(openai.RateLimitError) as limited:
            await api.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        ok = await api.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.code == "rate_limit_exceeded"
    assert ok.choices[0].finish_reason == "stop"
    assert [r.status for r in openai_emu.requests] == [429, 200]


async def test_sdk_retries_honour_retry_after(openai_emu: OpenAIEmulator) -> None:
    openai_emu.plan(Behaviour(status=503, retry_after=0.05), times=2)
    async with client(openai_emu, retries=2) as api:
        ok = await api.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert ok.choices[0].message.content
    assert [r.status for r in openai_emu.requests] == [503, 503, 200]
    assert openai_emu.pending_plans == 0


async def test_plan_filters_by_model_and_default(openai_emu: OpenAIEmulator) -> None:
    openai_emu.plan(Behaviour(status=500), times=2, model="gpt-4o-mini")
    openai_emu.default = Behaviour(reply="fixed reply")
    async with client(openai_emu) as api:
        other = await api.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                await api.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        after = await api.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert other.choices[0].message.content == "fixed reply"
    assert after.choices[0].message.content == "fixed reply"
    openai_emu.reset()
    assert openai_emu.default == Behaviour()
    assert openai_emu.requests == []


async def read_until_failure(
    emu: OpenAIEmulator, headers: dict[str, str], received: list[str]
) -> None:
    async with (
        httpx.AsyncClient() as http,
        http.stream("POST", f"{emu.url}/chat/completions", json=BODY, headers=headers) as response,
    ):
        async for line in response.aiter_lines():
            if line:
                received.append(line)


async def drain(stream: openai.AsyncStream[ChatCompletionChunk], seen: list[str]) -> None:
    async for chunk in stream:
        seen.append(chunk.choices[0].delta.content or "")


async def test_drop_mid_stream(openai_emu: OpenAIEmulator) -> None:
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        await read_until_failure(openai_emu, control(drop_after_chunks=3), received)
    # role chunk + 3 content chunks, and never the terminator
    assert len(received) == 4
    assert "data: [DONE]" not in received
    assert openai_emu.requests[0].chunks_sent == 3


async def test_drop_without_stream_resets_connection(openai_emu: OpenAIEmulator) -> None:
    async with client(openai_emu) as api:
        with pytest.raises(openai.APIConnectionError):
            await api.chat.completions.create(
                model="gpt-4o",
                messages=MESSAGES,
                extra_headers={CONTROL_HEADER: '{"drop_after_chunks": 0}'},
            )


async def test_error_event_mid_stream_openai(openai_emu: OpenAIEmulator) -> None:
    openai_emu.plan(Behaviour(error_event_after_chunks=2))
    seen: list[str] = []
    async with client(openai_emu) as api:
        stream = await api.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            stream=True,
        )
        with pytest.raises(openai.APIError, match="server had an error"):
            await drain(stream, seen)
    assert len([s for s in seen if s]) == 2


async def test_malformed_chunk_breaks_sdk_parsing(openai_emu: OpenAIEmulator) -> None:
    lines = await timed_lines(openai_emu, control(malformed_after_chunks=1))
    bad = [line for _, line in lines if line.startswith("data: {") and not _is_json(line[6:])]
    assert len(bad) == 1
    assert lines[-1][1] == "data: [DONE]"
    async with client(openai_emu) as api:
        stream = await api.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            stream=True,
            extra_headers={CONTROL_HEADER: '{"malformed_after_chunks": 1}'},
        )
        with pytest.raises(json.JSONDecodeError):
            await drain(stream, [])


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


async def test_anthropic_status_and_error_event(anthropic_emu: AnthropicEmulator) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 50, "stream": True, "messages": MESSAGES}
    async with httpx.AsyncClient() as http:
        overloaded = await http.post(
            f"{anthropic_emu.url}/v1/messages",
            json=body,
            headers={**ANTHROPIC_HEADERS, CONTROL_HEADER: '{"status": 529, "retry_after": 3}'},
        )
        broken = await http.post(
            f"{anthropic_emu.url}/v1/messages",
            json=body,
            headers={**ANTHROPIC_HEADERS, CONTROL_HEADER: '{"error_event_after_chunks": 1}'},
        )
    assert overloaded.status_code == 529
    assert overloaded.headers["retry-after"] == "3"
    assert overloaded.json()["error"]["type"] == "overloaded_error"
    frames = [f for f in broken.text.split("\n\n") if f]
    names = [f.split("\n")[0] for f in frames]
    assert names == [
        "event: message_start",
        "event: content_block_start",
        "event: ping",
        "event: content_block_delta",
        "event: error",
    ]
    assert json.loads(frames[-1].split("\n")[1][6:])["error"]["type"] == "overloaded_error"


async def test_bad_control_header_is_rejected(openai_emu: OpenAIEmulator) -> None:
    async with httpx.AsyncClient() as http:
        typo = await http.post(
            f"{openai_emu.url}/chat/completions",
            headers={**AUTH, CONTROL_HEADER: '{"latency": 1}'},
            json=BODY,
        )
        wrong_type = await http.post(
            f"{openai_emu.url}/chat/completions",
            headers={**AUTH, CONTROL_HEADER: '{"status": true}'},
            json=BODY,
        )
    assert typo.status_code == 400
    assert "latency" in typo.json()["error"]["message"]
    assert wrong_type.status_code == 400


async def test_tail_latency_is_seeded() -> None:
    patterns = []
    for _ in range(2):
        emu = OpenAIEmulator(api_key=KEY, seed=7)
        emu.default = Behaviour(latency_s=0.001, slow_fraction=0.5, slow_factor=5)
        await emu.start()
        try:
            async with httpx.AsyncClient() as http:
                for _ in range(16):
                    await http.post(
                        f"{emu.url}/chat/completions", headers=AUTH, json={**BODY, "stream": False}
                    )
        finally:
            await emu.stop()
        patterns.append([r.behaviour.latency_s > 0.002 for r in emu.requests if r.behaviour])
    assert patterns[0] == patterns[1]
    assert len(patterns[0]) == 16
    assert 0 < sum(patterns[0]) < 16


async def test_non_streaming_waits_for_whole_generation(openai_emu: OpenAIEmulator) -> None:
    openai_emu.plan(Behaviour(ttft_s=0.1, chunk_count=3, chunk_interval_s=0.1))
    async with client(openai_emu) as api:
        start = time.monotonic()
        result = await api.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        elapsed = time.monotonic() - start
    # ttft + two intervals between three chunks
    assert elapsed >= 0.3
    assert result.choices[0].finish_reason == "stop"


async def test_malformed_non_streaming_body(openai_emu: OpenAIEmulator) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{openai_emu.url}/chat/completions",
            headers=control(malformed_after_chunks=0),
            json={**BODY, "stream": False},
        )
    assert response.status_code == 200
    assert not _is_json(response.text)
