"""Every answer is what it says it is: a cached answer is only served to requests routed the
same way (rule, split arm, override headers); after a fallback the headers agree on who
answered and list every attempt; every fallback hop is counted."""

from __future__ import annotations

from pathlib import Path

from router.emulators import Behaviour
from support.routing import chat, metric, scrape, write_config
from support.stack import Emulators, RouterFactory, RunningRouter

# The split's arm follows a hash of policy/rule/user: user-0 lands in the 10% arm, user-2 in
# the 90% arm.
SPLIT = """\
policies:
  experiment:
    default: true
    cache: {mode: "on", ttl_s: 600}
    rules:
      - name: ab
        candidates: [gpt-4o, claude-sonnet]
        split: {gpt-4o: 90, claude-sonnet: 10}
        sticky: true
"""
TASKS = """\
policies:
  tasks:
    default: true
    overrides: [task]
    cache: {mode: "on", ttl_s: 600}
    rules:
      - {name: code, when: {task: code}, objective: priority, candidates: [claude-sonnet]}
      - {name: other, objective: priority, candidates: [gpt-4o]}
"""
CHAIN = """\
policies:
  chain:
    default: true
    retry: {max_retries: 1, backoff_base_s: 0.01}
    rules:
      - name: all
        objective: priority
        candidates: [mai-code-1-flash@foundry, gpt-4o@openai, gpt-4o@azure]
"""


def _ask(router: RunningRouter, user: str, **headers: str) -> dict[str, str]:
    resp = chat(router, "auto", "Name a colour.", headers=headers, user=user)
    assert resp.status_code == 200, resp.text
    return dict(resp.headers)


def test_a_split_arm_never_serves_the_other_arms_cached_answer(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    router = start_router(write_config(tmp_path / "c", emulators, SPLIT))
    claude = _ask(router, "user-0")
    assert claude["x-router-model"] == "claude-sonnet"
    assert claude["x-router-cache"] == "stored"
    gpt = _ask(router, "user-2")
    assert gpt["x-router-cache"] == "stored"  # its own arm's answer, not claude's
    assert gpt["x-router-model"] == "gpt-4o"
    assert gpt["x-router-deployment"].startswith("gpt-4o@")
    assert "gpt-4o@" in gpt["x-router-reason"]
    # ... and each arm does hit its own entry.
    again = _ask(router, "user-0")
    assert (again["x-router-cache"], again["x-router-model"]) == ("hit", "claude-sonnet")
    assert "from claude-sonnet@anthropic" in again["x-router-reason"]


def test_an_override_header_that_changed_the_route_keeps_its_own_entry(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    router = start_router(write_config(tmp_path / "c", emulators, TASKS))
    coded = _ask(router, "u", **{"x-router-task": "code"})
    assert (coded["x-router-cache"], coded["x-router-model"]) == ("stored", "claude-sonnet")
    plain = _ask(router, "u")
    assert (plain["x-router-cache"], plain["x-router-model"]) == ("stored", "gpt-4o")
    assert _ask(router, "u", **{"x-router-task": "code"})["x-router-cache"] == "hit"


def test_after_a_fallback_the_headers_agree_and_list_every_attempt(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    router = start_router(write_config(tmp_path / "c", emulators, CHAIN))
    emulators.foundry.plan(Behaviour(status=500), times=2)
    emulators.openai.plan(Behaviour(status=503), times=2)
    headers = _ask(router, "u")
    assert headers["x-router-deployment"] == "gpt-4o@azure"
    assert headers["x-router-model"] == "gpt-4o"
    reason = headers["x-router-reason"]
    assert reason.endswith("answered by gpt-4o@azure after 4 failed attempt(s)"), reason
    assert headers["x-router-attempts"] == (
        "mai-code-1-flash@foundry 500, mai-code-1-flash@foundry 500, "
        "gpt-4o@openai 503, gpt-4o@openai 503, gpt-4o@azure ok"
    )
    text = scrape(router)
    hops = (
        ("mai-code-1-flash@foundry", "gpt-4o@openai"),
        ("gpt-4o@openai", "gpt-4o@azure"),
    )
    for here, there in hops:  # every hop, not only the last one
        assert (
            metric(text, "router_fallbacks_total", from_deployment=here, to_deployment=there) == 1
        )
    plain = _ask(router, "v")
    assert plain["x-router-attempts"] == "mai-code-1-flash@foundry ok"
    assert "answered by" not in plain["x-router-reason"]
