"""Every error status, from raw HTTP: OpenAI's error shape, the right status, no secrets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from router.demo import DEMO_KEY_ENV
from router.emulators import Behaviour
from support.stack import Emulators, RouterFactory, RunningRouter

HELLO = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def _post(router: RunningRouter, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    return httpx.post(
        f"{router.v1}/chat/completions", content=content, headers=headers, timeout=30, **kwargs
    )


def _error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    assert resp.headers["x-request-id"]
    return dict(body["error"])


def test_bad_json_is_400(router: RunningRouter) -> None:
    err = _error(_post(router, b"{not json"), 400)
    assert err["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-4o"}, "messages"),
        ({"model": "gpt-4o", "messages": []}, "messages"),
        ({"model": "gpt-4o", "messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
        ({**HELLO, "temperature": 7}, "temperature"),
        ({**HELLO, "max_tokens": "lots"}, "max_tokens"),
        ({**HELLO, "frobnicate": True}, "frobnicate"),
        ({**HELLO, "api_base": "http://169.254.169.254/"}, "api_base"),
        ({**HELLO, "extra_headers": {"x": "y"}}, "extra_headers"),
    ],
)
def test_bad_fields_are_400_naming_the_field(
    router: RunningRouter, emulators: Emulators, body: dict[str, Any], param: str
) -> None:
    err = _error(_post(router, body), 400)
    assert err["param"] == param
    assert param.split(".")[0] in err["message"]
    assert emulators.openai.requests == []  # nothing went upstream


def test_unknown_model_is_404_listing_models(router: RunningRouter) -> None:
    err = _error(_post(router, {**HELLO, "model": "gpt-17"}), 404)
    assert err["code"] == "model_not_found"
    assert "gpt-4o" in err["message"]


def test_unknown_route_404_and_wrong_method_405(router: RunningRouter) -> None:
    _error(httpx.get(f"{router.base_url}/v2/nothing"), 404)
    _error(httpx.get(f"{router.v1}/chat/completions"), 405)


def test_body_over_limit_is_413(start_router: RouterFactory, config_dir: Path) -> None:
    path = config_dir / "router.yaml"
    path.write_text(path.read_text().replace("server:\n", "server:\n  max_body_bytes: 2000\n"))
    running = start_router(config_dir)
    big = {**HELLO, "messages": [{"role": "user", "content": "x" * 5000}]}
    _error(_post(running, big), 413)

    # Without Content-Length (chunked), the limit holds while reading.
    def chunks() -> Any:
        yield orjson.dumps(big)

    resp = httpx.post(f"{running.v1}/chat/completions", content=chunks(), timeout=30)
    _error(resp, 413)


def test_auth_missing_and_wrong_key_are_401(start_router: RouterFactory, config_dir: Path) -> None:
    env = {**os.environ, "ROUTER_MASTER_KEY": "master-secret-123"}
    running = start_router(config_dir, environ=env)
    err = _error(_post(running, HELLO), 401)
    assert "master-secret-123" not in err["message"]
    _error(_post(running, HELLO, headers={"authorization": "Bearer nope"}), 401)
    ok = _post(running, HELLO, headers={"authorization": "Bearer master-secret-123"})
    assert ok.status_code == 200
    # Unauthenticated routes stay open.
    assert httpx.get(f"{running.base_url}/healthz").status_code == 200
    assert httpx.get(f"{running.base_url}/metrics").status_code == 200


def test_upstream_429_everywhere_is_429_with_retry_after(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(status=429, retry_after=30), times=10)
    emulators.azure.plan(Behaviour(status=429, retry_after=30), times=10)
    resp = _post(router, HELLO)
    err = _error(resp, 429)
    assert "gpt-4o@openai" in err["message"]
    assert "gpt-4o@azure" in err["message"]
    assert int(resp.headers["retry-after"]) >= 1


def test_all_deployments_failing_is_502_naming_attempts_without_secrets(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(status=500), times=10)
    emulators.azure.plan(Behaviour(status=503), times=10)
    err = _error(_post(router, HELLO), 502)
    assert "gpt-4o@openai: HTTP 500" in err["message"]
    assert "gpt-4o@azure: HTTP 503" in err["message"]
    assert os.environ[DEMO_KEY_ENV] not in err["message"]


def test_upstream_timeouts_are_504(
    start_router: RouterFactory, config_dir: Path, emulators: Emulators
) -> None:
    text = (
        (config_dir / "router.yaml")
        .read_text()
        .replace("        api_key_env:", "        timeouts: {total_s: 0.3}\n        api_key_env:")
    )
    (config_dir / "router.yaml").write_text(text)
    running = start_router(config_dir)
    emulators.openai.plan(Behaviour(latency_s=2), times=10)
    emulators.azure.plan(Behaviour(latency_s=2), times=10)
    err = _error(_post(running, HELLO), 504)
    assert err["code"] == "upstream_timeout"


def test_upstream_400_is_passed_back_without_fallback(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(status=400), times=1)
    _error(_post(router, HELLO), 400)
    assert emulators.azure.requests == []


def test_error_after_stream_started_is_a_final_sse_error_event(
    router: RunningRouter, emulators: Emulators
) -> None:
    emulators.openai.plan(Behaviour(drop_after_chunks=3), times=1)
    with httpx.stream(
        "POST",
        f"{router.v1}/chat/completions",
        content=orjson.dumps({**HELLO, "stream": True}),
        headers={"content-type": "application/json"},
        timeout=30,
    ) as resp:
        assert resp.status_code == 200
        body = resp.read().decode()
    events = [e for e in body.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    last = orjson.loads(events[-1].removeprefix("data: "))
    assert last["error"]["code"] == "stream_interrupted"
    assert "data: [DONE]" not in body
    assert len(events) >= 2  # content reached the client before the error


def test_sse_framing(router: RunningRouter) -> None:
    with httpx.stream(
        "POST",
        f"{router.v1}/chat/completions",
        content=orjson.dumps({**HELLO, "stream": True}),
        headers={"content-type": "application/json"},
        timeout=30,
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        body = resp.read().decode()
    assert body.endswith("data: [DONE]\n\n")
    assert body.count("data: [DONE]") == 1
    events = body.split("\n\n")[:-1]
    for event in events[:-1]:
        assert event.startswith("data: {")
        orjson.loads(event.removeprefix("data: "))


def test_readyz_tells_an_outsider_only_whether_router_is_ready(
    start_router: RouterFactory, config_dir: Path
) -> None:
    env = {**os.environ, "ROUTER_MASTER_KEY": "master-key-123456"}
    running = start_router(config_dir, environ=env)
    running.app.state.router.last_reload_error = f"{config_dir}/router.yaml:3:1: bad key 'x'"
    public = httpx.get(f"{running.base_url}/readyz", timeout=5)
    wrong = httpx.get(
        f"{running.base_url}/readyz", headers={"authorization": "Bearer nope"}, timeout=5
    )
    for answer in (public, wrong):
        assert answer.status_code == 200
        text = answer.text
        assert str(config_dir) not in text
        assert "/" not in text  # no path of any kind
        assert "bad key" not in text
        assert answer.json()["config"] == {"reload_failed": True}
    master = httpx.get(
        f"{running.base_url}/readyz",
        headers={"authorization": "Bearer master-key-123456"},
        timeout=5,
    ).json()
    assert "bad key 'x'" in master["config"]["last_reload_error"]
    assert str(config_dir / "router.yaml") in master["config"]["files"]
