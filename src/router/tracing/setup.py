"""The tracer provider and its exporter: from the environment, or handed in by a test.

No global state: the provider is router's own (``trace.set_tracer_provider`` is never called),
so two apps in one process (as in the tests) trace independently, and a library's tracing does
not mix with router's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the SDK is imported only when tracing is on
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Tracer

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
SERVICE_NAME = "router"


@dataclass(frozen=True, slots=True)
class Tracing:
    """router's tracer, its provider, and where its spans go (for the start-up event)."""

    provider: TracerProvider
    tracer: Tracer
    destination: str
    # W3C trace context: ``traceparent`` (and ``tracestate``) in from clients, out to upstreams.
    propagator: TextMapPropagator

    @classmethod
    def with_processor(
        cls, processor: SpanProcessor, destination: str, environ: Mapping[str, str] | None = None
    ) -> Tracing:
        """A provider sending every span to ``processor`` (tests: an in-memory exporter)."""
        from opentelemetry.sdk.resources import OTELResourceDetector, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        env = os.environ if environ is None else environ
        resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or SERVICE_NAME})
        resource = resource.merge(OTELResourceDetector().detect())  # OTEL_RESOURCE_ATTRIBUTES
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("router")
        return cls(provider, tracer, destination, TraceContextTextMapPropagator())

    def shutdown(self) -> None:
        """Flush what is queued and stop the exporter (at the app's shutdown)."""
        self.provider.shutdown()


def tracing_from_env(environ: Mapping[str, str] | None = None) -> Tracing | None:
    """OTLP/HTTP export when an endpoint is configured; ``None`` (no SDK even imported)
    otherwise. The exporter reads the rest of the standard ``OTEL_EXPORTER_OTLP_*`` settings
    (headers, timeout, compression) itself."""
    env = os.environ if environ is None else environ
    traces = env.get(TRACES_ENDPOINT_ENV, "").strip()
    base = env.get(ENDPOINT_ENV, "").strip()
    if not traces and not base:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The exporter appends /v1/traces to the base endpoint, as the specification says.
    endpoint = traces or base.rstrip("/") + "/v1/traces"
    exporter = OTLPSpanExporter(endpoint=endpoint)
    return Tracing.with_processor(BatchSpanProcessor(exporter), endpoint, env)
