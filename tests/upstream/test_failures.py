"""Failure translation without a network: scrubbing, Retry-After, and litellm's exception
classes (built directly, as litellm raises them) mapped to router's attempt errors."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from router.upstream.failures import (
    from_exception,
    from_litellm,
    from_status,
    retry_after,
    scrub,
)
from support.upstream import SECRET, TARGETS, deployment_for

DEPLOYMENT = deployment_for(TARGETS[-1], "http://127.0.0.1:1")


@pytest.fixture(scope="module")
def llx() -> Any:
    from router.upstream.litellm_adapter import import_litellm

    return import_litellm().exceptions


@pytest.mark.parametrize(
    "text",
    [
        f"key {SECRET} rejected",
        "Authorization: Bearer abcdefgh12345678 was refused",
        "x-api-key: abcdefgh12345678",
        'api_key="zyxwvut987654"',
        "sk-ant-api03-AAAAAAAAAAAAAAAA",
    ],
)
def test_scrub_masks_credentials(text: str) -> None:
    cleaned = scrub(text, SECRET)

    assert "***" in cleaned
    for secret_part in (SECRET, "abcdefgh12345678", "zyxwvut987654", "AAAAAAAAAAAAAAAA"):
        assert secret_part not in cleaned


def test_scrub_truncates_and_leaves_short_keys_alone() -> None:
    assert len(scrub("x" * 5000)) == 300
    assert scrub("claude-haiku", secret="k") == "claude-haiku"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "7", "retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"retry-after": "-3"}, 0.0),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert retry_after(headers) == expected


def test_status_body_gives_the_provider_message_without_secrets() -> None:
    raw = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down ' + (
        SECRET.encode() + b'"}}'
    )

    error = from_status(DEPLOYMENT, 429, raw, {"retry-after": "2"}, SECRET)

    assert (error.kind, error.status, error.retry_after) == ("status", 429, 2.0)
    assert error.message.startswith("slow down")
    assert SECRET not in error.message
    streamed = from_status(DEPLOYMENT, None, raw, None, SECRET, in_stream=True)
    assert streamed.kind == "protocol"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TimeoutError(), "timeout"),
        (aiohttp.ServerTimeoutError(), "timeout"),
        (ConnectionRefusedError(), "connect"),
        (aiohttp.ServerDisconnectedError(), "protocol"),
        (aiohttp.ClientPayloadError("cut"), "protocol"),
        (ValueError("odd"), "protocol"),
    ],
)
def test_aiohttp_and_asyncio_exceptions(exc: BaseException, kind: str) -> None:
    assert from_exception(DEPLOYMENT, exc, SECRET).kind == kind


def test_litellm_status_errors(llx: Any) -> None:
    limited = llx.RateLimitError(
        message=f'AnthropicException - {{"error": {{"message": "busy {SECRET}"}}}}',
        llm_provider="anthropic",
        model="m",
    )
    limited.litellm_response_headers = {"retry-after-ms": "1500"}
    overloaded = llx.InternalServerError(
        message="AnthropicError - Overloaded",
        llm_provider="anthropic",
        model="m",
        provider_status_code=529,
    )

    rate = from_litellm(DEPLOYMENT, limited, SECRET)
    busy = from_litellm(DEPLOYMENT, overloaded, SECRET)

    assert (rate.kind, rate.status, rate.retry_after) == ("status", 429, 1.5)
    assert rate.message == "busy ***"
    assert (busy.kind, busy.status, busy.message) == ("status", 529, "Overloaded")


def test_litellm_timeout_and_refused_connection_are_not_statuses(llx: Any) -> None:
    timeout = llx.Timeout(message="Read timed out", model="m", llm_provider="anthropic")
    refused = llx.InternalServerError(message="Cannot connect", llm_provider="x", model="m")
    refused.__cause__ = ConnectionRefusedError()

    assert from_litellm(DEPLOYMENT, timeout, None).kind == "timeout"
    assert from_litellm(DEPLOYMENT, refused, None).kind == "connect"


def test_litellm_mid_stream_failure_is_protocol_without_raw_body(llx: Any) -> None:
    cause = llx.APIConnectionError(
        message="AnthropicException - payload cut. Original Response: {secret user text}",
        llm_provider="anthropic",
        model="m",
    )
    wrapped = llx.MidStreamFallbackError(
        message="stream broke", model="m", llm_provider="anthropic", original_exception=cause
    )

    error = from_litellm(DEPLOYMENT, wrapped, None)

    assert (error.kind, error.status) == ("protocol", None)
    assert error.message == "payload cut."
    assert "user text" not in error.message


@pytest.mark.parametrize(
    "body",
    [
        b'{"error":{"message":"Incorrect API key provided: sk-***9876. Find yours at x."}}',
        b'{"error":{"message":"Incorrect API key provided: sk-proj-****************9876."}}',
        b'{"type":"error","error":{"type":"authentication_error","message":"key ab**9876"}}',
    ],
)
def test_a_key_the_provider_masked_gives_no_hint_away(body: bytes) -> None:
    error = from_status(DEPLOYMENT, 401, body, {}, None)

    assert "9876" not in error.message
    assert "***" in error.message
