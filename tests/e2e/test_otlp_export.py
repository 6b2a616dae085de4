"""OTLP/HTTP export, end to end: `router demo` with OTEL_EXPORTER_OTLP_ENDPOINT set sends its
spans to a small receiver on loopback, which decodes the protobufs (opentelemetry-proto) the
way a collector would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

REPO = Path(__file__).resolve().parents[2]
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{CLIENT_TRACE}-b7ad6b7169203331-01"


class Receiver:
    """POST /v1/traces -> decoded ``ExportTraceServiceRequest``s, kept in order."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.paths.append(self.path)
                received.requests.append(ExportTraceServiceRequest.FromString(body))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """(resource attributes, span) for every span received so far."""
        out = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                resource = _attrs(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    out.extend((resource, span) for span in scope_spans.spans)
        return out


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    return getattr(value, kind) if kind else None


def _attrs(attributes: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in attributes}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()
        thread.join(timeout=5)


def _wait(probe: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_router_demo_exports_its_traces_over_otlp_http(receiver: Receiver) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROUTER_MASTER_KEY"}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
        OTEL_SERVICE_NAME="router-otlp-test",
        OTEL_BSP_SCHEDULE_DELAY="100",  # export within 0.1 s rather than 5 s
    )
    with subprocess.Popen(
        [sys.executable, "-m", "router.cli", "demo", "--port", "0", "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
    ) as proc:
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            while not any("base_url = " in line for line in lines):
                line = proc.stdout.readline()
                assert line, "".join(lines)
                lines.append(line)
            found = re.search(r"base_url = (http://\S+)", "".join(lines))
            assert found
            started = next(line for line in lines if '"event":"startup"' in line)
            assert f'"tracing":"http://127.0.0.1:{receiver.port}/v1/traces"' in started
            client = openai.OpenAI(
                base_url=found.group(1),
                api_key="not-needed",
                max_retries=0,
                default_headers={"traceparent": TRACEPARENT},
            )
            reply = client.chat.completions.create(
                model="auto",
                messages=[{"role": "user", "content": "Write a function that reverses a list"}],
            )
            assert reply.model == "mai-code-1-flash"

            def mine() -> list[tuple[dict[str, Any], Any]]:
                return [(r, s) for r, s in receiver.spans() if s.trace_id.hex() == CLIENT_TRACE]

            _wait(lambda: len(mine()) >= 4, "the request's spans")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(15)

    assert set(receiver.paths) == {"/v1/traces"}
    spans = {span.name: (resource, span) for resource, span in mine()}
    resource, request = spans["chat auto"]
    assert resource["service.name"] == "router-otlp-test"
    assert request.kind == request.SPAN_KIND_SERVER
    assert request.parent_span_id.hex() == "b7ad6b7169203331"  # the client's span
    attrs = _attrs(request.attributes)
    assert attrs["gen_ai.request.model"] == "auto"
    assert attrs["gen_ai.response.model"] == "mai-code-1-flash"
    assert attrs["gen_ai.system"] == "azure.ai.inference"
    assert attrs["router.policy"] == "coding"
    assert attrs["router.rule"] == "code"
    assert attrs["router.deployment"] == "mai-code-1-flash@azure_ai"
    assert attrs["gen_ai.usage.input_tokens"] > 0
    for child in ("router.decide", "router.cache", "chat MAI-Code-1-Flash"):
        assert spans[child][1].parent_span_id == request.span_id, child
    # The demo's own two requests at start-up were traced too, each in a trace of its own.
    others = {s.trace_id for _, s in receiver.spans() if s.trace_id.hex() != CLIENT_TRACE}
    assert len(others) >= 2
