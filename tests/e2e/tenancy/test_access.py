"""Access: a key or team limited to some policies, aliases, models and deployments gets a
403 naming what it may use for anything else, and sees only those names in /v1/models.
Driven with the official OpenAI SDK."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from support.stack import Emulators, RouterFactory, RunningRouter
from support.tenancy import MASTER, ask, client, key_line, write_tenancy_config

AUTH = (
    "auth:\n  keys:\n"
    + key_line("free", "k-free")
    + key_line("cheap", "k-cheap", "team: ops, allow: {policies: [coding], models: [gpt-4o]}")
    + key_line("opsy", "k-opsy", "team: ops")
    + key_line("pinned", "k-pin", "allow: {deployments: [gpt-4o@azure]}")
    + "  teams:\n"
    + "    ops: {allow: {policies: [coding, premium], aliases: [auto], models: [gpt-4o]}}\n"
)


@pytest.fixture
def router(
    tmp_path: Path,
    emulators: Emulators,
    start_router: RouterFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> RunningRouter:
    monkeypatch.setenv("ROUTER_MASTER_KEY", MASTER)
    return start_router(write_tenancy_config(tmp_path / "c", emulators, AUTH))


def _model_ids(router: RunningRouter, key: str) -> set[str]:
    with client(router.v1, key) as sdk:
        return {m.id for m in sdk.models.list()}


def test_a_key_uses_what_it_is_allowed_and_gets_a_403_naming_it_otherwise(
    router: RunningRouter,
) -> None:
    assert ask(router.v1, "k-cheap", "coding")
    assert ask(router.v1, "k-cheap", "gpt-4o") == "gpt-4o"
    with pytest.raises(openai.PermissionDeniedError) as exc:
        ask(router.v1, "k-cheap", "premium")
    err = exc.value
    assert err.status_code == 403
    assert err.code == "model_not_allowed"
    # The key allows {coding, gpt-4o}; its team allows more: the intersection is listed.
    assert "key 'cheap' may not use policy 'premium'" in err.message
    assert "it may use: policies coding; models gpt-4o" in err.message
    with pytest.raises(openai.PermissionDeniedError, match="alias 'auto'"):
        ask(router.v1, "k-cheap", "auto")
    with pytest.raises(openai.PermissionDeniedError, match="model 'claude-sonnet'"):
        ask(router.v1, "k-cheap", "claude-sonnet")


def test_team_rules_apply_to_every_key_of_the_team(router: RunningRouter) -> None:
    assert ask(router.v1, "k-opsy", "premium")
    assert ask(router.v1, "k-opsy", "auto")
    with pytest.raises(openai.PermissionDeniedError, match="may not use alias 'best'"):
        ask(router.v1, "k-opsy", "best")


def test_deployments_can_be_allowed_by_name(router: RunningRouter) -> None:
    with client(router.v1, "k-pin") as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="gpt-4o@azure", messages=[{"role": "user", "content": "hi"}]
        )
    assert raw.headers["x-router-deployment"] == "gpt-4o@azure"
    with pytest.raises(openai.PermissionDeniedError, match="deployments gpt-4o@azure"):
        ask(router.v1, "k-pin", "gpt-4o@openai")


def test_models_lists_only_what_the_caller_may_use(router: RunningRouter) -> None:
    everything = {"mai-code-1-flash", "gpt-4o", "claude-sonnet", "coding", "premium", "best"}
    assert _model_ids(router, MASTER) >= everything | {"auto"}
    assert _model_ids(router, "k-free") == _model_ids(router, MASTER)
    assert _model_ids(router, "k-cheap") == {"gpt-4o", "coding"}
    assert _model_ids(router, "k-opsy") == {"gpt-4o", "coding", "premium", "auto"}
    with client(router.v1, "k-cheap") as sdk:
        assert sdk.models.retrieve("gpt-4o").id == "gpt-4o"
        with pytest.raises(openai.NotFoundError):
            sdk.models.retrieve("claude-sonnet")


def test_explain_refuses_what_the_caller_may_not_use(router: RunningRouter) -> None:
    body = {"model": "premium", "messages": [{"role": "user", "content": "hi"}]}
    url = f"{router.v1}/router/explain"
    denied = httpx.post(url, json=body, headers={"authorization": "Bearer k-cheap"})
    assert denied.status_code == 403, denied.text
    assert denied.json()["error"]["code"] == "model_not_allowed"
    allowed = httpx.post(url, json=body, headers={"authorization": "Bearer k-opsy"})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["policy"] == "premium"


def test_an_unknown_model_is_still_a_404(router: RunningRouter) -> None:
    with pytest.raises(openai.NotFoundError):
        ask(router.v1, "k-cheap", "no-such-model")
