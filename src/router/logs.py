"""Logging: stdlib ``logging``, one handler on the root logger, JSON lines by default.

Every line has ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger`` and ``message``;
events add typed fields through :func:`event` (``log.info("...", extra=event("name", k=v))``),
which the JSON formatter writes as keys and the text formatter as ``k=v`` pairs, for people
reading a terminal. Loggers:

``router.access``   one line per request (see ``router.api.access``); on by default
``router.events``   start-up, config reloads (success and refusal), circuit changes
``router.store``    the cache store's health changes
``router``          everything else (unhandled errors, ...)

Nothing here reads secrets; callers pass names (a key's name, never the key), and prompt text
reaches the access log only when ``LogSettings.prompts`` is on.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TextIO

import orjson

LogFormat = Literal["json", "text"]
FORMATS: tuple[LogFormat, ...] = ("json", "text")
_FIELDS = "router_fields"  # the LogRecord attribute events put their fields in


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    format: LogFormat = "json"
    access_log: bool = True
    prompts: bool = False  # put the last user turn's text in access lines (off: never)


DEFAULT_LOGS = LogSettings()


def event(name: str, **fields: object) -> dict[str, Any]:
    """``extra=`` for a log call: an event name and its fields."""
    return {_FIELDS: {"event": name, **fields}}


def as_extra(fields: dict[str, object]) -> dict[str, Any]:
    """``extra=`` for fields already gathered (with their ``event``), without copying them."""
    return {_FIELDS: fields}


def fields_of(record: logging.LogRecord) -> Mapping[str, object]:
    found = getattr(record, _FIELDS, None)
    return found if isinstance(found, Mapping) else {}


class _Clock:
    """ISO 8601 UTC with milliseconds; the date and time up to the second are formatted once
    per second, not once per line."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        if seconds != self._second:
            self._second = seconds
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        return f"{self._prefix}.{int((record.created - seconds) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the event's fields."""

    def __init__(self) -> None:
        super().__init__()
        self._time = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": self._time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update(fields_of(record))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message k=v ...``: the same facts, for a terminal."""

    def __init__(self) -> None:
        super().__init__()
        self._time = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        parts = [self._time(record), f"{record.levelname:<7}", record.name, record.getMessage()]
        parts += [f"{k}={_text(v)}" for k, v in fields_of(record).items() if k != "event"]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):  # plain decimals: 0.00005925, not 5.925e-05
        return f"{value:.10f}".rstrip("0").rstrip(".") or "0"
    if isinstance(value, list | tuple):
        return _text(",".join(str(v) for v in value))
    text = str(value)
    return orjson.dumps(text).decode() if (" " in text or not text or "=" in text) else text


def configure(settings: LogSettings, stream: TextIO | None = None) -> logging.Handler:
    """Route every logger (router's, uvicorn's, libraries') through one handler and format.

    Idempotent: a second call replaces the handler this module installed before.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    handler.set_name("router")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "router"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
    # Per-record facts no formatter here prints; each costs lookups on every line.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # uvicorn configures its own loggers unless told not to; ours carry the same facts.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_log = logging.getLogger(name)
        uvicorn_log.handlers.clear()
        uvicorn_log.setLevel(logging.NOTSET)  # the root's level decides, as for every logger
        uvicorn_log.propagate = True
    return handler
