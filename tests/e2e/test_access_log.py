"""The access log: one structured line per request with what routing did, on by default and
switchable off; never a key, never prompt text unless asked for."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import httpx
import pytest

from router.logs import JsonFormatter, LogSettings, fields_of
from router.tenancy.keys import key_hash
from support.stack import RouterFactory, RunningRouter
from support.traffic import append_yaml

KEY = "sk-access-log-test-5e1f0c"
MARKER = "zebra-quartz-marker-71"  # prompt text no log line may carry unless asked

REQUIRED = (
    "request_id", "key", "team", "policy", "rule", "model", "deployment", "status",
    "attempts", "cache", "input_tokens", "output_tokens", "cost_usd", "latency_s", "ttft_s",
)  # fmt: skip


def _keyed(config_dir: Path) -> Path:
    append_yaml(
        config_dir,
        f"auth:\n  keys:\n    - {{name: ana, team: research, hash: '{key_hash(KEY)}'}}\n",
    )
    return config_dir


def _chat(router: RunningRouter, model: str, **extra: object) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": f"hi {MARKER}"}], **extra}
    return httpx.post(
        f"{router.v1}/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {KEY}"},
        timeout=30,
    )


def _lines(caplog: pytest.LogCaptureFixture, count: int) -> list[logging.LogRecord]:
    """The access lines, once ``count`` of them are there (each is written just after its
    response's last byte, which the client may see first)."""
    deadline = time.monotonic() + 5
    while True:
        found = [r for r in caplog.records if r.name == "router.access"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def test_one_json_line_per_request_with_the_routing_facts(
    start_router: RouterFactory, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    running = start_router(_keyed(config_dir))
    resp = _chat(running, "gpt-4o")
    assert resp.status_code == 200
    [record] = _lines(caplog, 1)
    line = json.loads(JsonFormatter().format(record))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert line["level"] == "info"
    for name in REQUIRED:
        assert name in line, name
    assert line["request_id"] == resp.headers["x-request-id"]
    assert (line["key"], line["team"]) == ("ana", "research")
    assert (line["policy"], line["rule"], line["model"]) == ("direct", "model", "gpt-4o")
    assert line["deployment"] == "gpt-4o@openai"
    assert (line["status"], line["attempts"], line["cache"]) == (200, 1, "bypass")
    assert line["input_tokens"] > 0
    assert line["output_tokens"] > 0
    assert line["cost_usd"] == pytest.approx(float(resp.headers["x-router-cost-usd"]))
    assert 0 < line["latency_s"] < 30
    assert line["ttft_s"] is None  # not a stream


def test_a_stream_has_its_time_to_first_token(
    start_router: RouterFactory, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    running = start_router(_keyed(config_dir))
    assert _chat(running, "mai-code-1-flash", stream=True).status_code == 200
    [record] = _lines(caplog, 1)
    fields = fields_of(record)
    assert fields["stream"] is True
    assert fields["deployment"] == "mai-code-1-flash@foundry"
    ttft, latency = fields["ttft_s"], fields["latency_s"]
    assert isinstance(ttft, float)
    assert isinstance(latency, float)
    assert 0 < ttft <= latency
    assert fields["output_tokens"]


def test_refusals_are_logged_without_routing_and_without_the_key(
    start_router: RouterFactory, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    running = start_router(_keyed(config_dir))
    wrong = httpx.post(
        f"{running.v1}/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
        headers={"authorization": "Bearer sk-wrong-key-9d8e7f"},
        timeout=30,
    )
    assert wrong.status_code == 401
    assert _chat(running, "no-such-model").status_code == 404
    unauthorised, unknown = _lines(caplog, 2)
    assert fields_of(unauthorised)["status"] == 401
    assert fields_of(unauthorised)["key"] is None
    assert "policy" not in fields_of(unauthorised)
    assert fields_of(unknown)["status"] == 404
    assert fields_of(unknown)["error"] == "model_not_found"
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for secret in (KEY, "sk-wrong-key-9d8e7f", MARKER):
        assert secret not in logged


def test_prompts_only_when_asked(
    start_router: RouterFactory, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    running = start_router(_keyed(config_dir), logs=LogSettings(prompts=True))
    assert _chat(running, "gpt-4o").status_code == 200
    [record] = _lines(caplog, 1)
    assert fields_of(record)["prompt"] == f"hi {MARKER}"


def test_the_access_log_can_be_turned_off(
    start_router: RouterFactory, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    running = start_router(_keyed(config_dir), logs=LogSettings(access_log=False))
    assert _chat(running, "gpt-4o").status_code == 200
    time.sleep(0.2)
    assert not [r for r in caplog.records if r.name == "router.access"]
    assert [r for r in caplog.records if fields_of(r).get("event") == "startup"]  # others stay
