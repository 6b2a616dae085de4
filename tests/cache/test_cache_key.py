"""The cache key: what is in it, what is not, and that nothing slips between the two."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from router.cache.response import KEY_FIELDS, NOT_KEY_FIELDS, cache_key, namespace_prefix
from router.cache.steps import route_of
from router.policy.decision import Decision
from router.wire import ChatRequest
from support.cache import chat

# A value for every key field that differs from the baseline request below.
CHANGED: dict[str, Any] = {
    "model": "smart",
    "messages": [{"role": "user", "content": "Say bye"}],
    "temperature": 0.3,
    "top_p": 0.5,
    "max_tokens": 7,
    "max_completion_tokens": 8,
    "stop": ["END"],
    "seed": 42,
    "n": 2,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "functions": [{"name": "f", "parameters": {}}],
    "function_call": "auto",
    "response_format": {"type": "json_object"},
    "frequency_penalty": 0.5,
    "presence_penalty": 0.5,
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "top_logprobs": 3,
    "reasoning_effort": "low",
    "verbosity": "low",
    "modalities": ["text"],
    "audio": {"voice": "alloy", "format": "wav"},
    "prediction": {"type": "content", "content": "x"},
    "web_search_options": {"search_context_size": "low"},
    "moderation": {"policy": {"input": {"mode": "block"}}},
}
IGNORED: dict[str, Any] = {
    "user": "u-123",
    "safety_identifier": "s-1",
    "stream": True,
    "stream_options": {"include_usage": True},
    "metadata": {"run": "7"},
    "store": True,
    "service_tier": "flex",
    "prompt_cache_key": "pk",
    "prompt_cache_retention": "24h",
    "prompt_cache_options": {"ttl": "1h"},
}


def test_every_request_field_is_classified_exactly_once() -> None:
    fields = set(ChatRequest.model_fields)
    assert not KEY_FIELDS & NOT_KEY_FIELDS
    assert fields - KEY_FIELDS - NOT_KEY_FIELDS == set(), "classify the new field in cache.py"
    assert (KEY_FIELDS | NOT_KEY_FIELDS) - fields == set(), "a classified field no longer exists"


def test_every_field_has_a_sample_here() -> None:
    assert set(CHANGED) == KEY_FIELDS
    assert set(IGNORED) == NOT_KEY_FIELDS


@pytest.mark.parametrize("name", sorted(KEY_FIELDS))
def test_a_key_field_changes_the_key(name: str) -> None:
    base = cache_key(chat(), "policy-a", "team:x")
    changed = cache_key(chat(**{name: CHANGED[name]}), "policy-a", "team:x")
    assert changed.digest != base.digest


@pytest.mark.parametrize("name", sorted(NOT_KEY_FIELDS))
def test_an_ignored_field_keeps_the_key(name: str) -> None:
    base = cache_key(chat(), "policy-a", "team:x")
    assert cache_key(chat(**{name: IGNORED[name]}), "policy-a", "team:x").digest == base.digest


def test_scope_is_part_of_the_key() -> None:
    assert cache_key(chat(), "cheap", "ns").digest != cache_key(chat(), "quality", "ns").digest


def test_equivalent_spellings_share_a_key() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"a": 1, "b": 2}}}
    reordered = {"function": {"parameters": {"b": 2, "a": 1}, "name": "f"}, "type": "function"}
    assert cache_key(chat(tools=[tool]), "s", "n") == cache_key(chat(tools=[reordered]), "s", "n")
    assert cache_key(chat(stop="END"), "s", "n") == cache_key(chat(stop=["END"]), "s", "n")
    assert cache_key(chat(temperature=1), "s", "n") == cache_key(chat(temperature=1.0), "s", "n")
    assert cache_key(chat(seed=None), "s", "n") == cache_key(chat(), "s", "n")


def test_message_extras_are_part_of_the_key() -> None:
    plain = chat()
    marked = ChatRequest.model_validate(
        {
            "model": "fast",
            "messages": [
                {"role": "user", "content": "Say hi", "cache_control": {"type": "ephemeral"}}
            ],
        }
    )
    assert cache_key(plain, "s", "n").digest != cache_key(marked, "s", "n").digest


def test_namespaces_separate_entries_and_never_prefix_each_other() -> None:
    a = cache_key(chat(), "s", "team:a")
    ab = cache_key(chat(), "s", "team:a:b")
    assert a.digest == ab.digest
    assert a.entry_key != ab.entry_key
    assert not ab.entry_key.startswith(namespace_prefix("team:a"))
    assert a.entry_key.startswith(namespace_prefix("team:a"))
    assert a.lease_key.startswith(a.entry_key)


def test_key_carries_the_shape_the_request_wants() -> None:
    streamed = cache_key(chat(stream=True, stream_options={"include_usage": True}), "s", "n")
    assert (streamed.stream, streamed.include_usage) == (True, True)
    plain = cache_key(chat(), "s", "n")
    assert (plain.stream, plain.include_usage) == (False, False)
    assert streamed.digest == plain.digest


@pytest.mark.parametrize(
    "route",
    [
        ("other-rule", None, []),
        ("rule", "claude-sonnet", []),
        ("rule", None, [["x-router-task", "code"]]),
    ],
)
def test_what_routed_the_request_is_part_of_the_key(route: tuple[object, ...]) -> None:
    base = cache_key(chat(), "policy-a", "team:x", route=("rule", None, []))
    assert cache_key(chat(), "policy-a", "team:x", route=route).digest != base.digest


BASE = Decision("policy-a", "rule", (), "why")


@pytest.mark.parametrize(
    "changed",
    [
        {"rule": "other-rule"},
        {"split_arm": "claude-sonnet"},
        {"overrides": (("x-router-task", "code"),)},
        {"degraded": "team 'x' daily budget 85% used > 80%: min_quality 0.5"},
    ],
)
def test_a_decision_routed_otherwise_keys_another_entry(changed: dict[str, Any]) -> None:
    other = dataclasses.replace(BASE, **changed)
    base = cache_key(chat(), "policy-a", "team:x", route=route_of(BASE))
    assert cache_key(chat(), "policy-a", "team:x", route=route_of(other)).digest != base.digest


def test_how_full_a_budget_is_does_not_split_a_degraded_policys_entries() -> None:
    a = dataclasses.replace(BASE, degraded="team 'x' daily budget 85% used > 80%: min_quality 0.5")
    b = dataclasses.replace(BASE, degraded="team 'x' daily budget 91% used > 80%: min_quality 0.5")
    assert route_of(a) == route_of(b)
    assert route_of(a) != route_of(BASE)
