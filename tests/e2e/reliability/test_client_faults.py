"""Faults a client causes never count against a deployment: its own deadline, a malformed
body, an upstream refusal of its request; and a request that would crash router's own code
(deep nesting, odd numbers in headers) is a 400, not a 500."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.emulators import Behaviour
from support.reliability import HELLO, JSON, Metrics, post, set_server
from support.stack import Emulators, RouterFactory, RunningRouter

CLAUDE: dict[str, Any] = {**HELLO, "model": "claude-sonnet"}


def test_a_client_deadline_never_opens_a_circuit(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.default = Behaviour(latency_s=0.2)
    try:
        for _ in range(10):
            r = post(router, HELLO, headers={"x-router-timeout": "0.0001"})
            assert r.status_code == 504, r.text
            assert r.json()["error"]["code"] == "deadline_exceeded"
        m = Metrics(router)
        assert m.value("router_circuit_transitions_total") == 0
        assert m.value("router_upstream_attempts_total", outcome="timeout") == 0
        assert m.value("router_retries_total") == 0  # nothing retried past its own deadline
        # Every other tenant is still served by the first deployment, circuits closed.
        emulators.openai.default = Behaviour()
        ok = post(router, HELLO)
        assert ok.status_code == 200
        assert ok.headers["x-router-deployment"] == "gpt-4o@openai"
    finally:
        emulators.openai.default = Behaviour()


def test_a_slow_upstream_cut_by_the_client_deadline_is_not_its_failure(
    start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    set_server(config_dir, circuit_failures=2)
    running = start_router(config_dir)
    emulators.openai.default = Behaviour(latency_s=1.0)
    try:
        for _ in range(3):
            r = post(running, HELLO, headers={"x-router-timeout": "0.3"})
            assert r.status_code == 504
        assert emulators.azure.requests == []  # no fallback past the client's deadline
        m = Metrics(running)
        assert m.value("router_circuit_state", deployment="gpt-4o@openai") == 0
        assert m.value("router_upstream_attempts_total", outcome="deadline") == 3
    finally:
        emulators.openai.default = Behaviour()


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"tools": [{"type": "function", "function": 5}]}, "tools.0.function"),
        ({"tools": [{"type": "function", "function": {"name": ""}}]}, "tools.0.function.name"),
        (
            {"response_format": {"type": "json_schema", "json_schema": 5}},
            "response_format.json_schema",
        ),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"messages": [{"role": "user", "content": [{}]}]}, "messages.0.content.0.type"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
            "messages.0.content.0.text",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages.0.content.0.image_url.url",
        ),
        ({"tool_choice": {"type": "function", "function": {}}}, "tool_choice.function.name"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f"}}]},
                ]
            },
            "messages.1.tool_calls.0.function.arguments",
        ),
    ],
)
def test_malformed_shapes_are_a_400_naming_the_field_before_any_upstream(
    router: RunningRouter, emulators: Emulators, patch: dict[str, Any], param: str
) -> None:
    r = post(router, {**CLAUDE, **patch})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == param
    assert "Traceback" not in error["message"]
    assert emulators.anthropic.requests == []
    assert Metrics(router).value("router_upstream_attempts_total") == 0


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "where",
    [
        lambda deep: {"messages": [{"role": "user", "content": "hi", "extra": deep}]},
        lambda deep: {
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"d": deep}}}]
        },
        lambda deep: {"metadata": deep},
        lambda deep: {"response_format": {"type": "json_object", "x": deep}},
    ],
)
def test_nesting_deeper_than_64_is_a_400_anywhere(
    router: RunningRouter, emulators: Emulators, where: Any
) -> None:
    # json, not orjson: orjson refuses to write what router must refuse to read.
    body = json.dumps({**HELLO, **where(_nested(300))}).encode()
    r = post(router, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "nesting_too_deep"
    explained = httpx.post(f"{router.v1}/router/explain", content=body, headers=JSON)
    assert explained.status_code == 400
    assert emulators.openai.requests == []


def test_nesting_within_the_limit_is_served(router: RunningRouter) -> None:
    r = post(router, {**HELLO, "messages": [{"role": "user", "content": "hi", "x": _nested(60)}]})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("cache-control", "max-age=²"),
        ("cache-control", "max-age=1e3"),
        ("x-router-timeout", "١"),
        ("x-router-timeout", "nan"),
        ("x-router-timeout", "1_0"),
        ("x-router-max-cost", "٣"),
        ("x-router-max-cost", "-1"),
        ("x-router-max-cost", "inf"),
    ],
)
def test_numbers_in_headers_are_ascii_digits_or_a_400(
    router: RunningRouter, name: str, value: str
) -> None:
    # Headers travel as latin-1 bytes: "²" (0xB2) passes str.isdigit(); an Arabic-Indic digit
    # arrives as UTF-8 bytes, which is what a client sending it would put on the wire.
    raw = value.encode("latin-1") if max(map(ord, value)) < 256 else value.encode()
    r = httpx.post(f"{router.v1}/chat/completions", json=HELLO, headers={name: raw})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == name


def test_a_good_max_age_and_deadline_still_work(router: RunningRouter) -> None:
    r = post(router, HELLO, headers={"cache-control": "max-age=60", "x-router-timeout": "30"})
    assert r.status_code == 200, r.text


def test_an_upstream_refusal_closes_a_half_open_circuit(
    start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    set_server(config_dir, circuit_failures=1, circuit_cool_down_s=0.5)
    running = start_router(config_dir)
    emulators.openai.plan(Behaviour(status=500), times=2)  # the try and its retry: open
    assert post(running, HELLO).headers["x-router-deployment"] == "gpt-4o@azure"
    assert Metrics(running).value("router_circuit_state", deployment="gpt-4o@openai") == 2
    time.sleep(0.6)  # cool-down over: the next request is the half-open probe
    emulators.openai.plan(Behaviour(status=400), times=1)
    refused = post(running, HELLO)
    assert refused.status_code == 400  # the client's request, refused: no fallback
    assert Metrics(running).value("router_circuit_state", deployment="gpt-4o@openai") == 0
    served = post(running, {**HELLO, "messages": [{"role": "user", "content": "again"}]})
    assert served.headers["x-router-deployment"] == "gpt-4o@openai"
