"""Tracing with the OpenTelemetry SDK: one span per request, child spans for the decision, the
cache and each upstream attempt, with GenAI semantic-convention attributes and router's own.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set: then spans go
over OTLP/HTTP (protobuf) to that endpoint; otherwise no provider, no exporter, no span and no
outbound call exist, and the request path only tests ``tracing is None``.

- :mod:`router.tracing.setup`: the provider and exporter, from the environment or for tests;
- :mod:`router.tracing.names`: attribute names and provider values, declared once;
- :mod:`router.tracing.upstream`: the attempt spans, around the upstream seam, and the W3C
  ``traceparent`` handed to the adapters;
- the request span is opened by ``router.api.tracing`` and filled in by the pipeline's
  per-request report (``router.report``).
"""

from router.tracing.setup import Tracing, tracing_from_env

__all__ = ["Tracing", "tracing_from_env"]
