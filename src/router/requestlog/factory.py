"""``request_log:`` config -> the process's ``RequestLog``; sinks are resolved by name, once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from router.config.load import Config
from router.config.schema import RequestLogSpec
from router.config.yamlsrc import ConfigError, ConfigIssue
from router.metrics import Metrics
from router.requestlog.redis_sink import RedisStreamSink, client_for
from router.requestlog.sinks import JsonlSink, Sink
from router.requestlog.writer import NO_REQUEST_LOG, QueuedLog, RequestLog

SINK_TIMEOUT_S = 2.0


def _jsonl(spec: RequestLogSpec, environ: Mapping[str, str]) -> Sink:
    assert spec.path is not None  # the schema requires it for this sink
    return JsonlSink(Path(spec.path), spec.rotate_bytes, spec.rotate_keep)


def _redis(spec: RequestLogSpec, environ: Mapping[str, str]) -> Sink:
    url = spec.redis_url or environ.get("REDIS_URL")
    if not url:
        raise ValueError("request_log sink 'redis' needs request_log.redis_url or REDIS_URL")
    return RedisStreamSink(
        client_for(url, SINK_TIMEOUT_S), spec.stream_key, spec.maxlen, SINK_TIMEOUT_S
    )


SINKS: Mapping[str, Callable[[RequestLogSpec, Mapping[str, str]], Sink]] = {
    "jsonl": _jsonl,
    "redis": _redis,
}


def create_request_log(config: Config, metrics: Metrics, environ: Mapping[str, str]) -> RequestLog:
    """The ``request_log`` section's log, read at start-up (a reload does not move it).
    Raises ``ConfigError`` at the section when its sink cannot be built: router refuses to
    start rather than run without the log it was told to keep."""
    spec = config.request_log
    if spec is None or not spec.enabled:
        return NO_REQUEST_LOG
    try:
        sink = SINKS[spec.sink](spec, environ)
    except (ValueError, OSError) as exc:
        entry = config.raw.singles["request_log"]
        raise ConfigError([ConfigIssue(entry.locate(("sink",)), str(exc))]) from exc
    return QueuedLog(sink, metrics, spec.queue_size)
