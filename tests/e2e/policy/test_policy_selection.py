"""How a request finds its policy, end to end: the ``auto`` alias, a policy's name or own
alias, the caller's API-key team, a header; and the per-request override headers a policy
allows (they change the decision) or refuses (400 naming the header, no upstream call)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from support.routing import POLICIES, chat, explain, routed, write_config
from support.stack import Emulators, RouterFactory, RunningRouter

KEYS = """\
auth:
  keys:
    - {name: ana, key_env: PE2E_ANA_KEY, team: research}
    - {name: bob, key_env: PE2E_BOB_KEY, team: platform}
"""
ENVIRON = {"PE2E_ANA_KEY": "sk-ana-1", "PE2E_BOB_KEY": "sk-bob-1"}
ANA = {"authorization": "Bearer sk-ana-1"}
BOB = {"authorization": "Bearer sk-bob-1"}
CAT = "Suggest a name for a cat."


@pytest.fixture
def router(tmp_path: Path, emulators: Emulators, start_router: RouterFactory) -> RunningRouter:
    cfg = write_config(tmp_path / "c", emulators, POLICIES, extra=KEYS)
    # The app's environ holds provider keys too (the emulators' key is in the process's).
    return start_router(cfg, environ={**os.environ, **ENVIRON})


def _upstream_calls(emulators: Emulators) -> int:
    return sum(
        len(e.requests)
        for e in (emulators.openai, emulators.azure, emulators.foundry, emulators.anthropic)
    )


def _route(
    router: RunningRouter,
    model: str,
    key: Mapping[str, str] = BOB,
    content: str = CAT,
    **headers: str,
) -> tuple[str, str, str]:
    resp = chat(router, model, content, headers={**key, **headers})
    deployment = routed(resp)
    return resp.headers["x-router-policy"], resp.headers["x-router-model"], deployment


@pytest.mark.parametrize(
    ("model", "key", "headers", "want"),
    [
        # the alias: the default policy, unless a 'select' matches (first in file order)
        ("auto", BOB, {}, ("coding", "gpt-4o", "gpt-4o@openai")),
        ("auto", ANA, {}, ("research", "claude-sonnet", "claude-sonnet@anthropic")),
        ("auto", ANA, {"x-experiment": "sonnet-ab"}, ("research", "claude-sonnet",
                                                       "claude-sonnet@anthropic")),
        # a policy's name or its own alias: that policy, whoever asks
        ("cheap", ANA, {}, ("cheap", "mai-code-1-flash", "mai-code-1-flash@foundry")),
        ("budget", BOB, {}, ("cheap", "mai-code-1-flash", "mai-code-1-flash@foundry")),
        ("coding", ANA, {}, ("coding", "gpt-4o", "gpt-4o@openai")),
        # a model or deployment name: direct, no policy
        ("gpt-4o", ANA, {}, ("direct", "gpt-4o", "gpt-4o@openai")),
    ],
)  # fmt: skip
def test_policy_is_chosen_by_name_alias_team_and_order(
    router: RunningRouter,
    model: str,
    key: Mapping[str, str],
    headers: dict[str, str],
    want: tuple[str, str, str],
) -> None:
    assert _route(router, model, key, **headers) == want


def test_a_header_selects_the_experiment_and_its_sticky_split(router: RunningRouter) -> None:
    arms: dict[str, set[str]] = {}
    for i in range(8):
        for _ in range(2):
            resp = chat(router, "auto", CAT, headers={**BOB, "x-experiment": "sonnet-ab"},
                        user=f"user-{i}")  # fmt: skip
            assert routed(resp)
            assert resp.headers["x-router-policy"] == "experiment"
            assert " split=" in resp.headers["x-router-reason"]
            arms.setdefault(f"user-{i}", set()).add(resp.headers["x-router-model"])
    assert all(len(seen) == 1 for seen in arms.values()), arms  # sticky per user
    assert set().union(*arms.values()) == {"gpt-4o", "claude-sonnet"}  # both arms in use
    # Another value of the header is not the experiment.
    assert _route(router, "auto", BOB, **{"x-experiment": "other"})[0] == "coding"


def test_keys_are_required_and_checked(router: RunningRouter, emulators: Emulators) -> None:
    assert chat(router, "auto").status_code == 401
    assert chat(router, "auto", headers={"authorization": "Bearer sk-nope"}).status_code == 401
    assert _upstream_calls(emulators) == 0


@pytest.mark.parametrize(
    ("headers", "rule", "deployment"),
    [
        ({}, "general", "gpt-4o@openai"),
        ({"x-router-task": "code"}, "code", "mai-code-1-flash@foundry"),
        ({"x-router-task": "Code"}, "code", "mai-code-1-flash@foundry"),
        # code quality: mai 0.82 < gpt-4o 0.85 < claude 0.88
        ({"x-router-task": "code", "x-router-objective": "quality"}, "code",
         "claude-sonnet@anthropic"),
        # general by priority: the listed order above the quality floor
        ({"x-router-objective": "priority"}, "general", "gpt-4o@openai"),
    ],
)  # fmt: skip
def test_allowed_overrides_change_the_decision(
    router: RunningRouter, headers: dict[str, str], rule: str, deployment: str
) -> None:
    resp = chat(router, "auto", CAT, headers={**BOB, **headers})
    assert routed(resp) == deployment
    assert resp.headers["x-router-reason"].startswith(f"coding/{rule}: ")


def test_max_cost_override_excludes_what_costs_more(
    router: RunningRouter, emulators: Emulators
) -> None:
    plain = explain(router, headers=BOB).json()
    costs = {c["deployment"]: c["expected_cost_usd"] for c in plain["chain"]}
    assert costs["gpt-4o@openai"] < costs["claude-sonnet@anthropic"]
    cap = (costs["gpt-4o@openai"] + costs["claude-sonnet@anthropic"]) / 2
    capped = explain(router, headers={**BOB, "x-router-max-cost": f"{cap:.6f}"}).json()
    assert "claude-sonnet@anthropic" not in [c["deployment"] for c in capped["chain"]]
    dropped = {e["deployment"]: e for e in capped["excluded"]}["claude-sonnet@anthropic"]
    assert dropped["kind"] == "policy"
    assert dropped["reason"].startswith("expected cost $")

    # Below every candidate: nothing can serve, a 400 that lists each, and no upstream call.
    resp = chat(router, "auto", CAT, headers={**BOB, "x-router-max-cost": "0.000001"})
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["code"] == "no_eligible_deployment"
    for dep in ("mai-code-1-flash@foundry", "gpt-4o@openai", "claude-sonnet@anthropic"):
        assert dep in err["message"]
    assert _upstream_calls(emulators) == 0


@pytest.mark.parametrize(
    ("model", "header", "value", "code"),
    [
        ("cheap", "x-router-objective", "quality", "override_not_allowed"),
        ("budget", "x-router-task", "code", "override_not_allowed"),
        ("cheap", "x-router-max-cost", "0.01", "override_not_allowed"),
        ("gpt-4o", "x-router-task", "code", "override_not_allowed"),
        ("auto", "x-router-task", "poetry", "invalid_header"),
        ("auto", "x-router-objective", "speed", "invalid_header"),
        ("auto", "x-router-max-cost", "-1", "invalid_header"),
        ("auto", "x-router-max-cost", "nan", "invalid_header"),
    ],
)
def test_refused_overrides_are_a_400_naming_the_header(
    router: RunningRouter, emulators: Emulators, model: str, header: str, value: str, code: str
) -> None:
    resp = chat(router, model, CAT, headers={**BOB, header: value})
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert (err["param"], err["code"]) == (header, code)
    assert header in err["message"]
    assert resp.headers["x-request-id"]
    assert _upstream_calls(emulators) == 0


def test_models_lists_policies_and_aliases(router: RunningRouter) -> None:
    resp = httpx.get(f"{router.v1}/models", headers=BOB, timeout=10)
    ids = {m["id"] for m in resp.json()["data"]}
    assert ids >= {"auto", "budget", "coding", "research", "experiment", "cheap", "gpt-4o"}
