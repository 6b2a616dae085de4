"""A parameter a deployment cannot honour is never dropped silently: routing leaves that
deployment out (the reason in explain), or, when no candidate can honour it, the answer is a
400 naming the parameter. Claude has no n, seed, logprobs or JSON-object mode, for example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from router.config.catalog import CLAUDE_CANNOT_HONOUR
from router.policy.classify import demands_of
from router.translate.openai_to_anthropic import unsupported
from router.wire import ChatRequest
from support.routing import chat, routed, write_config
from support.stack import Emulators, RouterFactory

CLAUDE_FIRST = """\
policies:
  claude-first:
    default: true
    retry: {max_retries: 0}
    rules:
      - {name: all, objective: priority, candidates: [claude-sonnet, gpt-4o@openai]}
  claude-only:
    rules:
      - {name: all, candidates: [claude-sonnet]}
"""
# One request field per parameter Claude cannot honour, set to something that asks for it.
ASKS: dict[str, dict[str, Any]] = {
    "n": {"n": 2},
    "logprobs": {"logprobs": True},
    "top_logprobs": {"top_logprobs": 2},
    "logit_bias": {"logit_bias": {"50256": -100}},
    "seed": {"seed": 0},
    "presence_penalty": {"presence_penalty": 0.5},
    "frequency_penalty": {"frequency_penalty": -0.5},
    "store": {"store": True},
    "audio": {"audio": {"voice": "alloy", "format": "wav"}},
    "modalities": {"modalities": ["text", "audio"]},
    "prediction": {"prediction": {"type": "content", "content": "x"}},
    "web_search_options": {"web_search_options": {}},
    "verbosity": {"verbosity": "low"},
    "functions": {"functions": [{"name": "f"}]},
    "function_call": {"function_call": "auto"},
    "temperature_above_1": {"temperature": 1.5},
    "json_object": {"response_format": {"type": "json_object"}},
    "moderation": {"moderation": {"policy": {"input": {"mode": "block"}}}},
}
HELLO = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}


def test_every_parameter_claude_cannot_honour_is_known_to_routing_and_translation() -> None:
    assert set(ASKS) == CLAUDE_CANNOT_HONOUR
    for name, fields in ASKS.items():
        body = {**HELLO, **fields}
        assert demands_of(ChatRequest.model_validate(body)) == {name}, name
        assert unsupported(body), name  # the translation refuses it too
    for quiet in ({"n": 1}, {"presence_penalty": 0}, {"logprobs": False}, {"temperature": 1}):
        assert demands_of(ChatRequest.model_validate({**HELLO, **quiet})) == frozenset()


@pytest.mark.parametrize("name", ["n", "seed", "logprobs", "json_object", "moderation"])
def test_a_deployment_that_cannot_honour_a_parameter_is_left_out(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory, name: str
) -> None:
    router = start_router(write_config(tmp_path / "c", emulators, CLAUDE_FIRST))
    assert routed(chat(router)) == "claude-sonnet@anthropic"  # first, when it can
    fields = ASKS[name]
    resp = chat(router, **fields)
    assert resp.status_code == 200, resp.text
    assert routed(resp) == "gpt-4o@openai"
    assert len(emulators.anthropic.requests) == 1  # only the plain request reached Claude
    explained = _explain(router, fields)
    assert {"deployment": "claude-sonnet@anthropic", "reason": f"cannot honour {name}",
            "kind": "request"} in explained["excluded"]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 3}, "n"),
        ({"seed": 7}, "seed"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"temperature": 1.8}, "temperature"),
    ],
)
@pytest.mark.parametrize("model", ["claude-only", "claude-sonnet"])
def test_when_no_candidate_can_honour_it_the_answer_is_a_400_naming_it(
    tmp_path: Path,
    emulators: Emulators,
    start_router: RouterFactory,
    fields: dict[str, Any],
    param: str,
    model: str,
) -> None:
    router = start_router(write_config(tmp_path / "c", emulators, CLAUDE_FIRST))
    resp = chat(router, model, **fields)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert (error["param"], error["code"]) == (param, "unsupported_parameter")
    assert emulators.anthropic.requests == []


def test_a_json_schema_answer_still_goes_to_claude(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    router = start_router(write_config(tmp_path / "c", emulators, CLAUDE_FIRST))
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    resp = chat(router, response_format=fmt)
    assert resp.status_code == 200, resp.text
    assert routed(resp) == "claude-sonnet@anthropic"


def _explain(router: Any, fields: dict[str, Any]) -> dict[str, Any]:
    import httpx

    resp = httpx.post(f"{router.v1}/router/explain", json={**HELLO, **fields}, timeout=10)
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result
