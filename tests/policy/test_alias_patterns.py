"""Alias patterns: a policy takes the model ids a client sends that name nothing router knows
(Claude Code's ``claude-sonnet-4-5-20250929``), after policies, aliases and models."""

from __future__ import annotations

import pytest

from router.errors import NotFound
from router.shapes import Principal
from support.policy import chat, policies, run

PATTERNS = policies("""
policies:
  agents:
    aliases: ["claude-*-4-5*", "opus-?"]
    rules:
      - name: code
        when: {task: code}
        objective: priority
        candidates: [in-cheap, out-cheap]
      - name: rest
        candidates: [out-cheap]
  fallback-all:
    aliases: ["claude-*", exact-name]
    rules:
      - name: only
        candidates: [plain]
  research:
    select: {team: research}
    rules:
      - name: best
        candidates: [out-cheap]
""")


@pytest.mark.parametrize(
    ("name", "policy"),
    [
        ("claude-sonnet-4-5-20250929", "agents"),  # the first pattern in file order wins
        ("claude-haiku-4-5", "agents"),
        ("opus-4", "agents"),
        ("claude-3-7-sonnet-latest", "fallback-all"),
        ("exact-name", "fallback-all"),
        ("agents", "agents"),  # a policy name is never a pattern match
    ],
)
def test_pattern_picks_the_policy(name: str, policy: str) -> None:
    assert run(PATTERNS, chat("hi", name)).policy == policy


def test_models_come_before_patterns() -> None:
    shadow = policies("""
policies:
  greedy:
    aliases: ["*"]
    rules:
      - name: only
        candidates: [plain]
""")
    assert run(shadow, chat("hi", "in-cheap")).policy == "direct"
    assert run(shadow, chat("hi", "anything-else")).policy == "greedy"


def test_a_pattern_routes_like_an_alias_rules_and_select_included() -> None:
    code = run(PATTERNS, chat("fix this python function: def f(): return x", "claude-opus-4-5"))
    research = run(
        PATTERNS,
        chat("hi", "claude-sonnet-4-5"),
        principal=Principal("k", team="research"),
    )

    assert (code.rule, code.model) == ("code", "in-cheap")
    assert research.policy == "research"  # select applies to pattern aliases too


def test_no_pattern_match_is_still_a_404() -> None:
    with pytest.raises(NotFound):
        run(PATTERNS, chat("hi", "gpt-9"))
    assert PATTERNS.pattern_for("gpt-9") is None
    assert "claude-*" not in PATTERNS.aliases  # patterns are not names a client can list
