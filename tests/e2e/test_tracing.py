"""Traces, read back with the SDK's in-memory exporter: one span per request continuing the
client's W3C trace, child spans for the decision, the cache and each upstream attempt, GenAI
attributes and router's own; the attempt's traceparent reaches the provider. Off: nothing."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from router.emulators import Behaviour
from router.tracing import Tracing, tracing_from_env
from support.stack import Emulators, RouterFactory, RunningRouter
from support.traffic import append_yaml, set_server

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"


@pytest.fixture
def exported() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(
    start_router: RouterFactory, config_dir: Path, exported: InMemorySpanExporter
) -> RunningRouter:
    tracing = Tracing.with_processor(SimpleSpanProcessor(exported), "memory")
    return start_router(config_dir, tracing=tracing)


def _chat(
    router: RunningRouter, model: str, exported: InMemorySpanExporter | None, **extra: object
) -> httpx.Response:
    """One request; returns once its span has ended too (just after the last byte went)."""
    before = _servers(exported) if exported is not None else 0
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}], **extra}
    resp = httpx.post(
        f"{router.v1}/chat/completions",
        json=body,
        headers={"traceparent": TRACEPARENT},
        timeout=30,
    )
    deadline = time.monotonic() + 5
    while exported is not None and _servers(exported) == before:
        assert time.monotonic() < deadline, "the request span never ended"
        time.sleep(0.01)
    return resp


def _servers(exported: InMemorySpanExporter) -> int:
    return sum(1 for s in exported.get_finished_spans() if s.kind is SpanKind.SERVER)


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        out.setdefault(span.name, []).append(span)
    return out


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def test_one_request_is_one_trace_continuing_the_clients(
    traced: RunningRouter, exported: InMemorySpanExporter, emulators: Emulators
) -> None:
    resp = _chat(traced, "gpt-4o", exported, max_tokens=50, temperature=0.2)
    assert resp.status_code == 200
    spans = _by_name(exported.get_finished_spans())
    [request] = [s for s in spans["chat gpt-4o"] if s.kind is SpanKind.SERVER]
    assert request.context is not None
    assert _hex(request.context.trace_id, 32) == CLIENT_TRACE
    assert request.parent is not None
    assert _hex(request.parent.span_id, 16) == CLIENT_SPAN
    attrs = dict(request.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.response.model"] == "gpt-4o"
    assert attrs["gen_ai.system"] == "openai"
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["router.policy"] == "direct"
    assert attrs["router.deployment"] == "gpt-4o@openai"
    assert attrs["router.cache"] == "bypass"
    assert attrs["router.attempts"] == 1
    assert attrs["router.cost_usd"] == pytest.approx(float(resp.headers["x-router-cost-usd"]))
    # Rounded as the access log rounds it, not a sum's float noise (5.9999999999999995e-05).
    assert attrs["router.cost_usd"] == round(attrs["router.cost_usd"], 12)
    assert attrs["http.response.status_code"] == 200
    assert attrs["router.request_id"] == resp.headers["x-request-id"]

    # The steps are children of the request span.
    [decide], [cache] = spans["router.decide"], spans["router.cache"]
    for child in (decide, cache):
        assert child.parent is not None
        assert child.parent.span_id == request.context.span_id
    assert dict(decide.attributes or {})["router.chain"] == ("gpt-4o@openai", "gpt-4o@azure")
    # The attempt: a CLIENT span under the request, named by the upstream's model.
    attempts = [s for s in exported.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert len(attempts) == 1
    call = attempts[0]
    assert call.parent is not None
    assert call.parent.span_id == request.context.span_id
    call_attrs = dict(call.attributes or {})
    assert call_attrs["router.deployment"] == "gpt-4o@openai"
    assert call_attrs["gen_ai.provider.name"] == "openai"
    assert call_attrs["server.address"] == "127.0.0.1"
    assert call_attrs["gen_ai.usage.output_tokens"] == attrs["gen_ai.usage.output_tokens"]
    assert call.name == "chat gpt-4o"  # the upstream's model name

    # The provider was called with the attempt's traceparent: same trace, the attempt as parent.
    [received] = emulators.openai.requests
    sent = received.headers["traceparent"]
    assert call.context is not None
    assert sent == f"00-{CLIENT_TRACE}-{_hex(call.context.span_id, 16)}-01"


def test_a_stream_and_its_attempt_end_with_usage(
    traced: RunningRouter, exported: InMemorySpanExporter
) -> None:
    resp = _chat(traced, "mai-code-1-flash", exported, stream=True)
    assert resp.status_code == 200
    assert resp.text.endswith("data: [DONE]\n\n")
    spans = exported.get_finished_spans()
    [request] = [s for s in spans if s.kind is SpanKind.SERVER]
    [call] = [s for s in spans if s.kind is SpanKind.CLIENT]
    attrs = dict(request.attributes or {})
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert attrs["gen_ai.system"] == "azure.ai.inference"  # Azure AI Foundry
    assert dict(call.attributes or {})["gen_ai.usage.output_tokens"] > 0
    assert [e.name for e in call.events] == ["first chunk"]
    assert call.end_time is not None
    assert request.end_time is not None
    assert call.end_time <= request.end_time


def test_each_attempt_is_a_span_and_failures_say_why(
    start_router: RouterFactory,
    config_dir: Path,
    emulators: Emulators,
    exported: InMemorySpanExporter,
) -> None:
    set_server(config_dir, circuit_failures=10)
    running = start_router(
        config_dir, tracing=Tracing.with_processor(SimpleSpanProcessor(exported), "memory")
    )
    emulators.openai.plan(Behaviour(status=500), times=5)  # gpt-4o@openai fails, retried
    resp = _chat(running, "gpt-4o", exported)
    assert resp.status_code == 200
    calls = [s for s in exported.get_finished_spans() if s.kind is SpanKind.CLIENT]
    deployments = [dict(c.attributes or {})["router.deployment"] for c in calls]
    assert deployments[-1] == "gpt-4o@azure"  # the fallback answered
    failed = [c for c in calls if c.status.status_code is StatusCode.ERROR]
    assert len(failed) == len(calls) - 1 >= 1
    assert {dict(c.attributes or {})["error.type"] for c in failed} == {"status"}
    assert {dict(c.attributes or {})["http.response.status_code"] for c in failed} == {500}
    [request] = [s for s in exported.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert dict(request.attributes or {})["router.attempts"] == len(calls)


def test_a_refused_request_is_an_error_span(
    traced: RunningRouter, exported: InMemorySpanExporter
) -> None:
    assert _chat(traced, "no-such-model", exported).status_code == 404
    [request] = [s for s in exported.get_finished_spans() if s.kind is SpanKind.SERVER]
    attrs = dict(request.attributes or {})
    assert attrs["http.response.status_code"] == 404
    assert attrs["error.type"] == "model_not_found"
    assert not [s for s in exported.get_finished_spans() if s.kind is SpanKind.CLIENT]


def test_cached_answers_say_so(
    start_router: RouterFactory, config_dir: Path, exported: InMemorySpanExporter
) -> None:
    append_yaml(
        config_dir,
        'policies:\n  cached:\n    cache: {mode: "on"}\n'
        "    rules: [{name: any, candidates: [gpt-4o]}]\n",
    )
    running = start_router(
        config_dir, tracing=Tracing.with_processor(SimpleSpanProcessor(exported), "memory")
    )
    assert _chat(running, "cached", exported).headers["x-router-cache"] == "stored"
    exported.clear()
    assert _chat(running, "cached", exported).headers["x-router-cache"] == "hit"
    spans = _by_name(exported.get_finished_spans())
    [request] = spans["chat cached"]  # named by the model (here a policy) the client asked for
    assert dict(request.attributes or {})["router.cache"] == "hit"
    assert dict(spans["router.cache"][0].attributes or {})["router.cache"] == "hit"
    assert not [s for s in exported.get_finished_spans() if s.kind is SpanKind.CLIENT]


def test_off_means_no_tracer_no_span_and_no_traceparent_upstream(
    start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    assert tracing_from_env({}) is None
    assert tracing_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}) is None
    running = start_router(config_dir)  # no tracing handed in
    resp = _chat(running, "gpt-4o", None)
    assert resp.status_code == 200
    [received] = emulators.openai.requests
    assert "traceparent" not in received.headers  # nothing to continue: the client's stays here
    pipeline = running.app.state.router.pipeline
    assert pipeline.tracing is None


def test_claude_gets_the_traceparent_too(
    traced: RunningRouter, exported: InMemorySpanExporter, emulators: Emulators
) -> None:
    assert _chat(traced, "claude-sonnet", exported).status_code == 200
    [call] = [s for s in exported.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert dict(call.attributes or {})["gen_ai.system"] == "anthropic"
    assert call.context is not None
    [received] = emulators.anthropic.requests
    assert (
        received.headers["traceparent"] == f"00-{CLIENT_TRACE}-{_hex(call.context.span_id, 16)}-01"
    )


@pytest.mark.parametrize("model", ["claude-sonnet", "mai-code-1-flash"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_messages_request_is_traced_like_a_chat(
    traced: RunningRouter,
    exported: InMemorySpanExporter,
    emulators: Emulators,
    model: str,
    stream: bool,
) -> None:
    body = {
        "model": model,
        "max_tokens": 100,
        "stream": stream,
        "messages": [{"role": "user", "content": "hello"}],
    }
    resp = httpx.post(
        f"{traced.base_url}/v1/messages",
        json=body,
        headers={"traceparent": TRACEPARENT},
        timeout=30,
    )
    deadline = time.monotonic() + 5
    while _servers(exported) == 0:
        assert time.monotonic() < deadline, "the request span never ended"
        time.sleep(0.01)

    assert resp.status_code == 200, resp.text
    spans = exported.get_finished_spans()
    [call] = [s for s in spans if s.kind is SpanKind.CLIENT]
    attrs = dict(call.attributes or {})
    assert attrs["router.model"] == model
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["gen_ai.usage.output_tokens"] > 0
    assert _hex(call.context.trace_id, 32) == CLIENT_TRACE
    upstream = emulators.anthropic if model == "claude-sonnet" else emulators.foundry
    assert upstream.requests[-1].headers["traceparent"].split("-")[1] == CLIENT_TRACE
