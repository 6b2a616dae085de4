"""Log lines: JSON by default (time, level, logger, message, the event's fields), text for
people; one handler on the root logger, uvicorn's loggers included."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from router.logs import LogSettings, configure, event


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_json_line_has_time_level_logger_message_and_fields(restore_logging: None) -> None:
    out = io.StringIO()
    configure(LogSettings(format="json"), out)
    logging.getLogger("router.events").warning(
        "circuit of %s is now %s", "a@b", "open", extra=event("circuit", deployment="a@b")
    )
    line = json.loads(out.getvalue())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert line["level"] == "warning"
    assert line["logger"] == "router.events"
    assert line["message"] == "circuit of a@b is now open"
    assert line["event"] == "circuit"
    assert line["deployment"] == "a@b"


def test_text_line_is_for_people(restore_logging: None) -> None:
    out = io.StringIO()
    configure(LogSettings(format="text"), out)
    logging.getLogger("router.access").info(
        "POST /v1/chat/completions 200",
        extra=event(
            "request",
            model="gpt-4o",
            cost_usd=0.00005925,
            reason="two words",
            ttft_s=None,
            stream=False,
        ),
    )
    line = out.getvalue().strip()
    head = r"^\d{4}-\d\d-\d\dT\S+Z INFO +router.access POST /v1/chat/completions 200 "
    assert re.match(head, line)
    assert "model=gpt-4o" in line
    assert "cost_usd=0.00005925" in line  # a plain decimal, not 5.925e-05
    assert "stream=false" in line
    assert 'reason="two words"' in line  # quoted when it has spaces
    assert "ttft_s=-" in line
    assert "event=" not in line  # the message already says what happened


def test_exceptions_are_kept_in_one_json_line(restore_logging: None) -> None:
    out = io.StringIO()
    configure(LogSettings(), out)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("router").exception("unhandled error")
    [raw] = out.getvalue().splitlines()  # a multi-line traceback stays inside the one object
    assert "ValueError: boom" in json.loads(raw)["exception"]


def test_configure_twice_keeps_one_handler_and_takes_uvicorn_in(restore_logging: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure(LogSettings(level="warning"), first)
    configure(LogSettings(level="info"), second)
    logging.getLogger("uvicorn.error").info("Started server process")
    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["logger"] == "uvicorn.error"
    assert logging.getLogger().level == logging.INFO
