"""The request fields router accepts keep up with what the installed OpenAI SDK sends: a field
the SDK learns is caught here, by a test, before a user's request is refused for it."""

from __future__ import annotations

import typing

import pytest
from openai.types.chat import completion_create_params as sdk

from router.cache.response import KEY_FIELDS, NOT_KEY_FIELDS
from router.errors import InvalidRequest
from router.wire import ChatRequest, parse_chat_request
from router.wire_shapes import MAX_DEPTH


def _sdk_fields() -> set[str]:
    fields: set[str] = set()
    for params in (sdk.CompletionCreateParamsNonStreaming, sdk.CompletionCreateParamsStreaming):
        fields |= set(typing.get_type_hints(params))
    return fields


def test_every_field_the_openai_sdk_sends_is_accepted() -> None:
    missing = _sdk_fields() - set(ChatRequest.model_fields)
    assert not missing, f"the openai SDK sends {sorted(missing)}: declare them in router.wire"


def test_every_field_the_openai_sdk_sends_is_classified_for_the_cache_key() -> None:
    unclassified = _sdk_fields() - KEY_FIELDS - NOT_KEY_FIELDS
    assert not unclassified, f"classify {sorted(unclassified)} in router.cache.response"


def test_the_newest_fields_parse() -> None:
    parsed = parse_chat_request(
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}],'
        b' "prompt_cache_retention": "24h", "prompt_cache_options": {"ttl": "1h"},'
        b' "moderation": {"policy": {"input": {"mode": "block"}}}}',
        max_messages=10,
    )
    assert parsed.chat.prompt_cache_retention == "24h"
    assert parsed.body["moderation"] == {"policy": {"input": {"mode": "block"}}}


def _nested(depth: int) -> bytes:
    """A chat body nested ``depth`` deep: its ``tools`` entry holds nested lists."""
    inner = "[" * (depth - 3) + "]" * (depth - 3)  # body {, tools [, tool {, then the lists
    return (
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": '
        b'[{"type": "function", "function": {"name": "f"}, "x": ' + inner.encode() + b"}]}"
    )


def test_nesting_is_refused_past_the_limit_and_counted_from_the_text_first() -> None:
    """At the limit the body passes; one level past it, it is refused (the walk is skipped
    only for a text that opens too few objects and arrays to nest that deep)."""
    parse_chat_request(_nested(MAX_DEPTH), max_messages=10)
    with pytest.raises(InvalidRequest) as refused:
        parse_chat_request(_nested(MAX_DEPTH + 1), max_messages=10)
    assert refused.value.code == "nesting_too_deep"
