"""Property-based fuzzing of the chat request against the in-process app: whatever the body
and headers, router answers (no hang) with a 2xx or a 4xx in OpenAI's error shape, never 5xx.
The upstream is an in-memory fake, so every accepted request is also served end to end."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from router.app import create_app
from router.config.catalog import Deployment
from router.demo import DEMO_KEY_ENV, Endpoints, write_demo_config
from router.shapes import Usage
from router.upstream import Completion
from router.wire import ChatRequest

ROOT = Path(__file__).resolve().parents[2]


class FakeUpstream:
    """Answers every attempt at once: a fixed completion, or three chunks and usage."""

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        answer = {
            "id": "x",
            "object": "chat.completion",
            "model": deployment.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        }
        return Completion(answer, Usage(3, 1))

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> FakeStream:
        return FakeStream()

    async def aclose(self) -> None:
        return None


class FakeStream:
    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[dict[str, Any]]:
        for delta, finish in (
            ({"role": "assistant"}, None),
            ({"content": "ok"}, None),
            ({}, "stop"),
        ):
            yield {
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        yield {
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        }

    async def aclose(self) -> None:
        return None


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("fuzz")
    loopback = "http://127.0.0.1:9"  # never called: the fake upstream answers
    demo = write_demo_config(
        directory, Endpoints(f"{loopback}/v1", loopback, f"{loopback}/models", loopback)
    )
    # the shipped policies, and the learned signal their 'balanced' policy routes on
    for name in ("routing.yaml", "difficulty.json"):
        shutil.copy(ROOT / "policies" / name, directory / name)
    text = demo.read_text().replace("server:\n", "server:\n  difficulty_model: difficulty.json\n")
    assert "difficulty_model" in text
    demo.write_text(text)
    # A key in the environment, or router (rightly) leaves every deployment out of routing.
    environ = {**os.environ, DEMO_KEY_ENV: "fuzz-key"}
    app = create_app(directory, upstream=FakeUpstream(), watch_interval_s=None, environ=environ)
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client


SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [*sorted(ChatRequest.model_fields), "api_base", "base_url", "extra_headers", "frobnicate"]
ROLES = ["user", "system", "assistant", "developer"]
MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from([*ROLES, "tool", "wizard"]),
        "content": st.text(max_size=40) | JSON_VALUES,
    },
    optional={"name": JSON_VALUES, "tool_calls": JSON_VALUES, "tool_call_id": JSON_VALUES},
)
PLAUSIBLE_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(ROLES), "content": st.text(max_size=200)}
)
MODELS = st.sampled_from(["gpt-4o", "auto", "cheap", "fast", "claude-sonnet", "nope", ""])
# Half plausible (mostly served: exercises routing, dispatch and rendering), half wild.
PLAUSIBLE = st.fixed_dictionaries(
    {"model": MODELS, "messages": st.lists(PLAUSIBLE_MESSAGE, min_size=1, max_size=3)},
    optional={
        "stream": st.booleans(),
        "temperature": st.floats(0, 2),
        "max_tokens": st.integers(1, 4096),
        "stream_options": st.just({"include_usage": True}),
        "user": st.text(max_size=10),
    },
)
WILD = st.fixed_dictionaries(
    {"model": MODELS | JSON_VALUES, "messages": st.lists(MESSAGE, max_size=3) | JSON_VALUES},
    optional={"stream": st.booleans() | JSON_VALUES},
).flatmap(
    lambda base: st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=4).map(
        lambda extra: {**extra, **base}
    )
)
BODY = PLAUSIBLE | WILD


def _dumps(value: Any) -> bytes:
    # json, not orjson: it also writes what orjson refuses (huge ints, NaN), which a client
    # might send too.
    return json.dumps(value).encode()


# Header values as a client can put them on the wire: latin-1 bytes, so also "²" and "٣"'s
# UTF-8 bytes, and numbers in every spelling (strict ASCII digits or a 400, never a 500).
NUMBERISH = st.sampled_from(
    ["0", "1", "0.5", "30", "3600", "3601", "-1", "1e3", "1_0", "inf", "nan", "²", "١", " 5 "]
)
HEADER_TEXT = (
    st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
            max_size=12)
    | NUMBERISH
    | NUMBERISH.map(lambda n: f"max-age={n}")
    | st.sampled_from(["no-cache", "no-store", "max-age=60, no-store"])
)  # fmt: skip
HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "x-router-timeout",
            "x-router-task",
            "x-router-objective",
            "x-router-max-cost",
            "x-request-id",
            "cache-control",
            "x-experiment",
        ]
    ),
    HEADER_TEXT,
    max_size=3,
)
RAW = st.binary(max_size=200) | BODY.map(_dumps).map(lambda b: b[: len(b) // 2])


def _check(resp: Any) -> None:
    event(f"status {resp.status_code}")
    assert resp.status_code < 500, resp.text
    if resp.status_code >= 400:
        error = orjson.loads(resp.content)["error"]
        assert set(error) == {"message", "type", "param", "code"}
    elif resp.headers["content-type"].startswith("text/event-stream"):
        assert resp.text.endswith("data: [DONE]\n\n")


def _wire(headers: dict[str, str]) -> dict[str, bytes]:
    def encode(value: str) -> bytes:
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return value.encode()  # what a client sending it would put on the wire

    return {name: encode(value) for name, value in headers.items()}


@pytest.mark.timeout(90)
@settings(max_examples=250, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODY, headers=HEADERS)
def test_any_json_request_is_answered_without_5xx(
    client: TestClient, body: dict[str, Any], headers: dict[str, str]
) -> None:
    resp = client.post(
        "/v1/chat/completions",
        content=_dumps(body),
        headers={"content-type": "application/json", **_wire(headers)},
    )
    _check(resp)


def _nest(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


# Where deep JSON may hide, and how many containers sit above it there (the body included).
PLACES = {
    "metadata": (lambda deep: {"metadata": deep}, 1),
    "message extra": (
        lambda deep: {"messages": [{"role": "user", "content": "hi", "x": deep}]},
        3,
    ),
    "tool parameters": (
        lambda deep: {
            "tools": [{"type": "function", "function": {"name": "f", "parameters": deep}}]
        },
        4,
    ),
    "response_format": (lambda deep: {"response_format": {"type": "json_object", "x": deep}}, 2),
}


@pytest.mark.timeout(90)
@settings(max_examples=120, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(0, 400), place=st.sampled_from(sorted(PLACES)), stream=st.booleans())
def test_any_nesting_depth_is_answered_without_5xx(
    client: TestClient, depth: int, place: str, stream: bool
) -> None:
    build, above = PLACES[place]
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
        **build(_nest(depth, "x")),
    }
    resp = client.post(
        "/v1/chat/completions", content=_dumps(body), headers={"content-type": "application/json"}
    )
    _check(resp)
    if above + depth > 64:
        assert resp.status_code == 400
        assert orjson.loads(resp.content)["error"]["code"] == "nesting_too_deep"


@pytest.mark.timeout(60)
@settings(max_examples=100, deadline=2000)
@given(raw=RAW)
def test_any_bytes_are_answered_without_5xx(client: TestClient, raw: bytes) -> None:
    resp = client.post(
        "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
    )
    _check(resp)
