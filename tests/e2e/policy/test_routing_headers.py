"""Every answer explains itself: the x-router-* headers on JSON and SSE answers, policy and
direct routes, through the official SDK too; ``POST /v1/router/explain`` returns the whole
decision (the same one a real request gets) without calling any upstream."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import orjson
import pytest

from support.routing import POLICIES, ROUTER_HEADERS, assert_explained, chat, explain, write_config
from support.stack import Emulators, RouterFactory, RunningRouter

CODE = "Fix this bug in my Python function:\n```python\ndef f(x): return x +\n```"
DECISION_KEYS = {
    "policy", "rule", "model", "task", "objective", "reason", "chain", "excluded", "retry",
    "hedge", "cache", "deadline_s", "prompt_tokens", "split_arm",
}  # fmt: skip


@pytest.fixture
def router(tmp_path: Path, emulators: Emulators, start_router: RouterFactory) -> RunningRouter:
    return start_router(write_config(tmp_path / "c", emulators, POLICIES))


def _upstream_calls(emulators: Emulators) -> int:
    return sum(
        len(e.requests)
        for e in (emulators.openai, emulators.azure, emulators.foundry, emulators.anthropic)
    )


@pytest.mark.parametrize(
    ("model", "content", "policy", "deployment"),
    [
        ("auto", "Suggest a name for a cat.", "coding", "gpt-4o@openai"),
        ("auto", CODE, "coding", "mai-code-1-flash@foundry"),
        ("budget", "Hello", "cheap", "mai-code-1-flash@foundry"),
        ("claude-sonnet", "Hello", "direct", "claude-sonnet@anthropic"),
        ("gpt-4o@azure", "Hello", "direct", "gpt-4o@azure"),
    ],
)
def test_json_and_stream_answers_carry_the_explanation(
    router: RunningRouter, model: str, content: str, policy: str, deployment: str
) -> None:
    plan = explain(router, model, content).json()
    resp = chat(router, model, content)
    assert resp.status_code == 200, resp.text
    assert_explained(resp)
    h = resp.headers
    assert (h["x-router-policy"], h["x-router-deployment"]) == (policy, deployment)
    assert h["x-router-model"] == deployment.split("@")[0] == resp.json()["model"]
    assert h["x-router-reason"] == plan["reason"]  # explain said what the request then did
    assert "\n" not in h["x-router-reason"]
    assert len(h["x-router-reason"]) < 400
    assert h["x-router-cost-basis"] == "actual"
    assert float(h["x-router-cost-usd"]) > 0

    body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": True}
    with httpx.stream("POST", f"{router.v1}/chat/completions", json=body, timeout=30) as s:
        assert s.status_code == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        assert_explained(s)  # type: ignore[arg-type]
        assert (s.headers["x-router-policy"], s.headers["x-router-deployment"]) == (
            policy,
            deployment,
        )
        assert s.headers["x-router-cost-basis"] == "estimate"
        events = [line for line in s.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert all(orjson.loads(e[6:])["model"] == h["x-router-model"] for e in events[:-1])


def test_the_openai_sdk_sees_the_headers_and_a_client_request_id(router: RunningRouter) -> None:
    client = openai.OpenAI(base_url=router.v1, api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Suggest a name for a cat."}],
        extra_headers={"x-request-id": "trace-42"},
    )
    reply = raw.parse()
    assert reply.model == "gpt-4o" == raw.headers["x-router-model"]
    assert raw.headers["x-request-id"] == "trace-42"
    assert all(raw.headers.get(h) for h in ROUTER_HEADERS)
    assert raw.headers["x-router-reason"].startswith("coding/general: task=general objective=cost")


def test_errors_carry_a_request_id(router: RunningRouter, emulators: Emulators) -> None:
    for resp in (chat(router, "gpt-5"), chat(router, "cheap", headers={"x-router-task": "code"})):
        assert resp.status_code in (400, 404), resp.text
        assert resp.headers["x-request-id"]
    assert _upstream_calls(emulators) == 0


@pytest.mark.parametrize(
    ("body", "headers", "expect"),
    [
        ({"model": "auto"}, {}, {"policy": "coding", "rule": "general", "model": "gpt-4o"}),
        ({"model": "auto", "content": CODE}, {}, {"rule": "code", "model": "mai-code-1-flash"}),
        ({"model": "auto", "stream": True}, {"x-router-task": "code"}, {"rule": "code"}),
        ({"model": "auto"}, {"x-experiment": "sonnet-ab"}, {"policy": "experiment"}),
        ({"model": "gpt-4o"}, {}, {"policy": "direct", "rule": "model"}),
    ],
)
def test_explain_returns_the_whole_decision_and_calls_no_upstream(
    router: RunningRouter,
    emulators: Emulators,
    body: dict[str, object],
    headers: dict[str, str],
    expect: dict[str, str],
) -> None:
    content = str(body.pop("content", "Suggest a name for a cat."))
    request = {**body, "messages": [{"role": "user", "content": content}]}
    resp = httpx.post(f"{router.v1}/router/explain", json=request, headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    decision = resp.json()
    assert set(decision) >= DECISION_KEYS
    assert {k: decision[k] for k in expect} == expect
    assert decision["chain"]
    for cand in decision["chain"]:
        assert {"deployment", "model", "provider", "expected_cost_usd", "role"} <= set(cand)
    assert decision["reason"].isascii()
    assert "\n" not in decision["reason"]
    assert _upstream_calls(emulators) == 0


def test_explain_reports_errors_like_the_chat_route(
    router: RunningRouter, emulators: Emulators
) -> None:
    resp = explain(router, "gpt-5")
    assert resp.status_code == 404
    assert "mai-code-1-flash" in resp.json()["error"]["message"]
    resp = explain(router, "cheap", headers={"x-router-objective": "quality"})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "x-router-objective"
    assert _upstream_calls(emulators) == 0


UNICODE_POLICIES = """\
policies:
  路由:
    default: true
    rules:
      - name: règle ☕
        candidates: [gpt-4o@openai]
"""


def test_a_non_ascii_rule_name_still_gives_an_ascii_reason(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    policies = UNICODE_POLICIES.replace("路由", "latin")
    router = start_router(write_config(tmp_path / "u", emulators, policies))
    resp = chat(router)
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-router-reason"].startswith("latin/r?gle ?: ")


def test_a_non_latin_policy_name_does_not_break_answers(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    router = start_router(write_config(tmp_path / "u", emulators, UNICODE_POLICIES))
    resp = chat(router)
    assert resp.status_code in (200, 400), resp.text
    assert resp.headers.get("x-request-id")
