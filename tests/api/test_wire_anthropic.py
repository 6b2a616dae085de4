"""Parsing an Anthropic Messages request: what router checks itself, and the reading view that
routing classifies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from router.errors import (
    AllAttemptsFailed,
    AttemptError,
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    RouterError,
)
from router.wire_anthropic import parse_messages_request

GOOD: dict[str, Any] = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 32000,
    "stream": True,
    "system": [
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
    ],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "refactor this python class"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "QQ"},
                },
            ],
        }
    ],
    "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
    "thinking": {"type": "enabled", "budget_tokens": 2000},
    "top_k": 5,
    "some_future_field": {"x": 1},
}


def parse(body: Any, **options: Any) -> Any:
    options.setdefault("max_messages", 10)
    return parse_messages_request(orjson.dumps(body), **options)


def test_the_body_is_kept_whole_and_the_view_carries_the_features() -> None:
    parsed = parse(GOOD, betas=("claude-code-20250219",))

    assert parsed.messages.body == GOOD  # unknown fields included: Claude judges them
    assert parsed.messages.betas == ("claude-code-20250219",)
    assert parsed.payload is parsed.messages
    assert parsed.stream
    chat = parsed.chat
    assert chat.model == GOOD["model"]
    assert chat.messages[0].role == "system"
    assert chat.has_images
    assert chat.tools
    assert chat.tools[0]["function"]["name"] == "Bash"
    assert chat.max_tokens == 32000


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"model": ""}, "model"),
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stream": "yes"}, "stream"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages.0.content"),
        ({"system": 3}, "system"),
        ({"api_base": "http://evil.test"}, "api_base"),
        ({"messages": [{"role": "user", "content": "x"}] * 11}, "messages"),
    ],
)
def test_what_router_relies_on_is_checked(change: dict[str, Any], param: str) -> None:
    body = {**GOOD, **change}
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(InvalidRequest) as caught:
        parse(body)
    assert caught.value.param == param


def test_count_tokens_bodies_have_no_max_tokens() -> None:
    body = {k: v for k, v in GOOD.items() if k not in ("max_tokens", "stream")}
    parsed = parse(body, counting=True)
    assert parsed.chat.max_tokens is None
    with pytest.raises(InvalidRequest):
        parse(body)


def test_a_shape_the_view_cannot_read_is_a_400_not_a_500() -> None:
    with pytest.raises(InvalidRequest):
        parse({**GOOD, "tools": ["not an object"]})
    with pytest.raises(InvalidRequest):
        parse([1, 2])


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (InvalidRequest("bad"), 400, "invalid_request_error"),
        (AuthenticationFailed("who"), 401, "authentication_error"),
        (NotFound("where"), 404, "not_found_error"),
        (PayloadTooLarge("big"), 413, "request_too_large"),
        (RateLimited("slow"), 429, "rate_limit_error"),
        (Overloaded("busy"), 503, "overloaded_error"),
        (AllAttemptsFailed([AttemptError("d", "timeout", None, "t")]), 504, "timeout_error"),
        (AllAttemptsFailed([AttemptError("d", "status", 500, "x")]), 502, "api_error"),
        (RouterError("oops"), 500, "api_error"),
    ],
)
def test_errors_in_anthropic_shape(error: RouterError, status: int, kind: str) -> None:
    assert error.status == status
    assert error.anthropic_body() == {
        "type": "error",
        "error": {"type": kind, "message": error.message},
    }
