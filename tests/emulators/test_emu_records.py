"""Request records, including cancellation by the client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from router.emulators import Behaviour, OpenAIEmulator, ReceivedRequest
from support.emulators import KEY

AUTH = {"Authorization": f"Bearer {KEY}"}
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


async def wait_for(predicate: Callable[[], bool], within_s: float = 3.0) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_record_fields(openai_emu: OpenAIEmulator) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{openai_emu.url}/chat/completions?trace=1",
            headers={**AUTH, "X-Custom": "v"},
            json={**BODY, "stream": True},
        )
        await http.get(f"{openai_emu.url}/models", headers=AUTH)
    chat, models = openai_emu.requests
    assert isinstance(chat, ReceivedRequest)
    assert (chat.method, chat.path, chat.query) == ("POST", "/v1/chat/completions", {"trace": "1"})
    assert chat.header("x-custom") == "v"
    assert chat.headers["authorization"] == f"Bearer {KEY}"
    assert chat.body["messages"] == BODY["messages"]
    assert chat.model == "gpt-4o"
    assert chat.stream
    assert chat.status == 200
    assert chat.chunks_sent == 12
    assert chat.completed
    assert not chat.cancelled
    assert chat.finished_at is not None
    assert chat.finished_at >= chat.received_at
    assert (models.method, models.path, models.status) == ("GET", "/v1/models", 200)


async def test_unauthorised_and_unknown_paths_are_recorded(openai_emu: OpenAIEmulator) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(f"{openai_emu.url}/chat/completions", json=BODY)
        missing = await http.post(f"{openai_emu.base_url}/nope", json={})
    assert missing.status_code == 404
    assert [(r.path, r.status) for r in openai_emu.requests] == [
        ("/v1/chat/completions", 401),
        ("/nope", 404),
    ]
    openai_emu.reset()
    assert openai_emu.requests == []


async def test_client_timeout_is_recorded_as_cancelled(openai_emu: OpenAIEmulator) -> None:
    openai_emu.plan(Behaviour(latency_s=5))
    async with httpx.AsyncClient(timeout=0.2) as http:
        try:
            await http.post(f"{openai_emu.url}/chat/completions", headers=AUTH, json=BODY)
        except httpx.ReadTimeout:
            pass
        else:
            raise AssertionError("expected a timeout")
    record = openai_emu.requests[0]
    await wait_for(lambda: record.cancelled)
    assert not record.completed
    assert record.status is None


async def test_stream_abandoned_midway_is_recorded_as_cancelled(
    openai_emu: OpenAIEmulator,
) -> None:
    openai_emu.plan(Behaviour(chunk_interval_s=0.1))
    async with (
        httpx.AsyncClient() as http,
        http.stream(
            "POST",
            f"{openai_emu.url}/chat/completions",
            headers=AUTH,
            json={**BODY, "stream": True},
        ) as response,
    ):
        seen = 0
        async for line in response.aiter_lines():
            seen += bool(line)
            if seen == 3:
                break
    record = openai_emu.requests[0]
    await wait_for(lambda: record.cancelled)
    assert 0 < record.chunks_sent < 12
    # nothing else arrived after the client went away
    await asyncio.sleep(0.3)
    assert record.chunks_sent < 12


async def test_recording_can_be_disabled() -> None:
    emu = OpenAIEmulator(api_key=KEY, record=False)
    await emu.start()
    try:
        async with httpx.AsyncClient() as http:
            ok = await http.post(f"{emu.url}/chat/completions", headers=AUTH, json=BODY)
    finally:
        await emu.stop()
    assert ok.status_code == 200
    assert emu.requests == []
