"""The request path in process (httpx.ASGITransport, emulators on loopback): what the API
renders from the pipeline's outcome, what dispatch reports per attempt, the cache and single
flight, and a hot reload that moves a deployment."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from router.emulators import Behaviour, OpenAIEmulator
from support.inprocess import InProcess, in_process

CACHED = """
policies:
  cached:
    cache: {mode: "on", ttl_s: 60}
    rules:
      - name: all
        candidates: [gpt-4o@openai]
"""


def _body(model: str = "gpt-4o", text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def _events(raw: bytes) -> list[Any]:
    out: list[Any] = []
    for frame in raw.split(b"\n\n"):
        if frame.startswith(b"data: "):
            data = frame[6:]
            out.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))
    return out


def _attempts(app: InProcess, outcome: str) -> float:
    return app.metric(
        "router_upstream_attempts_total",
        deployment="gpt-4o@openai",
        provider="openai",
        outcome=outcome,
    )


async def test_a_completion_is_rendered_with_every_router_header(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        resp = await app.client.post("/v1/chat/completions", json=_body())
        assert resp.status_code == 200, resp.text
        assert resp.json()["model"] == "gpt-4o"  # the logical model, not the upstream's name
        h = resp.headers
        assert (h["x-router-policy"], h["x-router-model"]) == ("direct", "gpt-4o")
        assert h["x-router-deployment"] == "gpt-4o@openai"
        assert h["x-router-cost-basis"] == "actual"
        assert float(h["x-router-cost-usd"]) > 0
        assert h["x-router-cache"] == "bypass"
        assert h["x-router-reason"].startswith("direct: model gpt-4o -> gpt-4o@openai")
        assert len(app.openai.requests) == 1
        assert _attempts(app, "success") == 1
        labels = {"policy": "direct", "model": "gpt-4o", "status_class": "2xx", "cache": "bypass"}
        assert app.metric("router_requests_total", **labels) == 1


async def test_a_stream_reports_its_attempt_when_it_ends(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        resp = await app.client.post("/v1/chat/completions", json=_body(stream=True))
        assert resp.status_code == 200
        assert resp.headers["x-router-cost-basis"] == "estimate"
        events = _events(resp.content)
        assert events[-1] == "[DONE]"
        assert all(e["model"] == "gpt-4o" for e in events[:-1])
        assert not any("usage" in e for e in events[:-1])  # the client did not ask for it
        # The answer stream reported its own attempt, once, as a success.
        assert _attempts(app, "success") == 1
        assert (
            app.metric(
                "router_time_to_first_token_seconds_count",
                policy="direct",
                model="gpt-4o",
                deployment="gpt-4o@openai",
            )
            == 1
        )


async def test_a_stream_that_breaks_ends_with_an_error_event_and_a_failed_attempt(
    tmp_path: Path,
) -> None:
    async with in_process(tmp_path) as app:
        app.openai.default = Behaviour(chunk_count=6, drop_after_chunks=2)
        resp = await app.client.post("/v1/chat/completions", json=_body(stream=True))
        events = _events(resp.content)
        assert events[-1]["error"]["code"] == "stream_interrupted"
        assert _attempts(app, "protocol") == 1
        assert _attempts(app, "success") == 0
        assert (
            app.metric(
                "router_stream_interruptions_total", deployment="gpt-4o@openai", reason="protocol"
            )
            == 1
        )
        errors = {"policy": "direct", "model": "gpt-4o", "error_type": "stream_interrupted"}
        assert app.metric("router_request_errors_total", **errors) == 1


async def test_identical_requests_pay_upstream_once(tmp_path: Path) -> None:
    async with in_process(tmp_path, extra=CACHED) as app:
        app.openai.default = Behaviour(latency_s=0.3)  # long enough for both to overlap
        body = _body("cached", "the same question")
        first, second = await asyncio.gather(
            app.client.post("/v1/chat/completions", json=body),
            app.client.post("/v1/chat/completions", json=body),
        )
        assert {first.status_code, second.status_code} == {200}
        assert len(app.openai.requests) == 1  # the second joined the first's flight
        assert sorted(r.headers["x-router-cache"] for r in (first, second)) == ["hit", "stored"]
        assert first.json()["choices"] == second.json()["choices"]
        later = await app.client.post("/v1/chat/completions", json=body)
        assert later.headers["x-router-cache"] == "hit"
        assert later.headers["x-router-reason"].startswith("cache hit (")
        assert later.headers["x-router-cost-usd"] == "0"
        assert len(app.openai.requests) == 1


async def test_a_reload_that_moves_a_deployment_moves_its_traffic(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app:
        assert (await app.client.post("/v1/chat/completions", json=_body())).status_code == 200
        # gpt-4o@openai keeps its name but moves to a second OpenAI emulator.
        config = app.config_dir / "router.yaml"
        other = OpenAIEmulator()
        await other.start()
        try:
            text = config.read_text()
            config.write_text(text.replace(app.openai.url, other.url))
            assert app.state.reload()
            resp = await app.client.post("/v1/chat/completions", json=_body())
            assert resp.status_code == 200
            assert resp.headers["x-router-deployment"] == "gpt-4o@openai"
            assert len(app.openai.requests) == 1
            assert len(other.requests) == 1
        finally:
            await other.stop()
