"""A cached answer served in either shape: the same chunks, the same text, the same calls."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from router.cache.entry import CachedUsage, Hit
from router.cache.replay import chunks_to_completion, completion_to_chunks, with_usage
from router.cache.response import CacheDirectives, ResponseCache
from router.policy.decision import CacheMode, CacheSettings
from support.cache import (
    chat,
    completion,
    entry,
    stream_text,
    text_stream,
    tool_stream,
    two_choice_stream,
)

ON = CacheSettings(CacheMode.ON, ttl_s=3600)
NONE = CacheDirectives()
USAGE_CHAT = {"stream": True, "stream_options": {"include_usage": True}}


async def _hit(cache: ResponseCache, stored: Any, **request: Any) -> Hit:
    await cache.store(cache.key(chat(), "fast", "ns"), stored, ON, NONE)
    found = await cache.lookup(cache.key(chat(**request), "fast", "ns"), ON, NONE)
    assert isinstance(found, Hit)
    return found


async def test_stream_hit_replays_the_same_chunks_in_order(cache: ResponseCache) -> None:
    chunks = text_stream()
    hit = await _hit(cache, entry(chunks=chunks), **USAGE_CHAT)
    assert hit.completion is None
    assert hit.chunks == chunks
    assert stream_text(hit.chunks) == "Hello there!"


async def test_stream_hit_drops_usage_the_client_did_not_ask_for(cache: ResponseCache) -> None:
    hit = await _hit(cache, entry(chunks=text_stream()), stream=True)
    assert hit.chunks is not None
    assert hit.chunks == text_stream(usage=False)
    assert all("usage" not in chunk for chunk in hit.chunks)


async def test_stream_hit_adds_usage_the_recording_lacked(cache: ResponseCache) -> None:
    recorded = entry(chunks=text_stream(usage=False), usage=CachedUsage(9, 4))
    hit = await _hit(cache, recorded, **USAGE_CHAT)
    assert hit.chunks is not None
    assert hit.chunks[:-1] == text_stream(usage=False)
    assert hit.chunks[-1]["choices"] == []
    assert hit.chunks[-1]["usage"] == {
        "prompt_tokens": 9,
        "completion_tokens": 4,
        "total_tokens": 13,
    }


async def test_streamed_entry_answers_a_plain_request(cache: ResponseCache) -> None:
    hit = await _hit(cache, entry(chunks=text_stream()))
    assert hit.chunks is None
    assert hit.completion == {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "created": 1_700_000_001,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    }


async def test_streamed_tool_calls_aggregate_into_a_completion(cache: ResponseCache) -> None:
    hit = await _hit(cache, entry(chunks=tool_stream()))
    assert hit.completion is not None
    choice = hit.completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    assert hit.completion["usage"]["total_tokens"] == 35


def test_interleaved_choices_aggregate_by_index() -> None:
    choices = chunks_to_completion(two_choice_stream())["choices"]
    assert [c["message"]["content"] for c in choices] == ["Left", "Right side"]
    assert [c["finish_reason"] for c in choices] == ["length", "stop"]


async def test_completion_entry_answers_a_streaming_request(cache: ResponseCache) -> None:
    hit = await _hit(cache, entry(body=completion("Hi you")), **USAGE_CHAT)
    assert hit.chunks is not None
    deltas = [c["choices"][0]["delta"] if c["choices"] else None for c in hit.chunks]
    assert deltas == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "Hi you"},
        {},
        None,
    ]
    assert hit.chunks[2]["choices"][0]["finish_reason"] == "stop"
    assert hit.chunks[-1]["usage"]["total_tokens"] == 12
    assert {c["object"] for c in hit.chunks} == {"chat.completion.chunk"}
    assert {c["id"] for c in hit.chunks} == {"chatcmpl-1"}


async def test_completion_with_tool_calls_splits_into_deltas(cache: ResponseCache) -> None:
    body = chunks_to_completion(tool_stream())
    hit = await _hit(cache, entry(body=body), stream=True)
    assert hit.chunks is not None
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in hit.chunks[1:3]]
    assert [(c["index"], c["id"], c["function"]["name"]) for c in calls] == [
        (0, "call_a", "get_weather"),
        (1, "call_b", "get_time"),
    ]
    assert all("usage" not in c for c in hit.chunks)
    assert chunks_to_completion(hit.chunks)["choices"] == body["choices"]


def test_with_usage_leaves_a_stream_without_usage_alone() -> None:
    chunks = text_stream(usage=False)
    assert with_usage(chunks, include_usage=False, usage=None) is chunks
    assert with_usage(chunks, include_usage=True, usage=None) is chunks


# Completions in the normal form ``aggregate(split(c)) == c`` promises.
_text = st.text(max_size=40)
_call = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=8),
        "type": st.just("function"),
        "function": st.fixed_dictionaries(
            {"name": st.text(min_size=1, max_size=8), "arguments": _text}
        ),
    }
)
_message = st.one_of(
    st.fixed_dictionaries({"role": st.just("assistant"), "content": _text}),
    st.fixed_dictionaries(
        {
            "role": st.just("assistant"),
            "content": st.none(),
            "tool_calls": st.lists(_call, min_size=1, max_size=3),
        }
    ),
    st.fixed_dictionaries(
        {"role": st.just("assistant"), "content": st.none(), "refusal": st.text(min_size=1)}
    ),
)
_logprobs = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "content": st.lists(
                st.fixed_dictionaries({"token": _text, "logprob": st.floats(-5, 0)}), max_size=3
            )
        }
    ),
)


@st.composite
def completions(draw: st.DrawFn) -> dict[str, Any]:
    choices = [
        {
            "index": i,
            "message": draw(_message),
            "logprobs": draw(_logprobs),
            "finish_reason": draw(st.sampled_from(["stop", "length", "tool_calls"])),
        }
        for i in range(draw(st.integers(1, 3)))
    ]
    body: dict[str, Any] = {
        "id": "chatcmpl-x",
        "created": 1,
        "model": "m",
        "object": "chat.completion",
        "choices": choices,
    }
    if draw(st.booleans()):
        body["usage"] = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    return body


@given(completions(), st.booleans())
def test_split_then_aggregate_is_identity(body: dict[str, Any], include_usage: bool) -> None:
    chunks = completion_to_chunks(body, include_usage=include_usage)
    back = chunks_to_completion(chunks)
    expected = dict(body)
    if not include_usage:
        expected.pop("usage", None)
    assert back == expected
