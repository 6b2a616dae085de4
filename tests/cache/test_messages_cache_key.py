"""The cache key of an Anthropic Messages request: every field is in it, known to router or
not, except the few that cannot change the answer; the betas and the shape are in it too."""

from __future__ import annotations

from typing import Any

import pytest

from router.cache.entry import CacheEntry
from router.cache.response import cache_key
from router.shapes import MessagesCall

BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}


def digest(body: dict[str, Any], betas: tuple[str, ...] = (), scope: str = "p") -> str:
    return cache_key(MessagesCall(body, betas), scope, "team:a").digest


@pytest.mark.parametrize(
    "change",
    [
        {"max_tokens": 101},
        {"temperature": 0.5},
        {"system": "be brief"},
        {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        {"a_field_router_does_not_know": 1},
        {"stream": True},  # the shape is served as stored, never converted
    ],
)
def test_fields_that_can_change_the_answer_change_the_key(change: dict[str, Any]) -> None:
    assert digest({**BODY, **change}) != digest(BODY)


@pytest.mark.parametrize("change", [{"metadata": {"user_id": "u-2"}}, {"service_tier": "auto"}])
def test_fields_that_cannot_change_the_answer_do_not(change: dict[str, Any]) -> None:
    assert digest({**BODY, **change}) == digest(BODY)


def test_betas_scope_and_wire_are_in_the_key() -> None:
    assert digest(BODY, ("context-management-2025-06-27",)) != digest(BODY)
    assert digest(BODY, ("a", "b")) == digest(BODY, ("b", "a"))
    assert digest(BODY, scope="other") != digest(BODY)
    key = cache_key(MessagesCall({**BODY, "stream": True}), "p", "team:a")
    assert key.messages
    assert key.stream


def test_only_finished_anthropic_answers_are_complete() -> None:
    message = {"type": "message", "content": [], "stop_reason": "end_turn"}
    events = [
        {"type": "message_start", "message": {}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}},
        {"type": "message_stop"},
    ]
    assert CacheEntry("m", "d", None, 0.0, completion=message).complete
    assert not CacheEntry("m", "d", None, 0.0, completion={**message, "stop_reason": None}).complete
    assert CacheEntry("m", "d", None, 0.0, chunks=events).complete
    assert not CacheEntry("m", "d", None, 0.0, chunks=events[:2]).complete
