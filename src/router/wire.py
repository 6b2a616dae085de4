"""The OpenAI Chat Completions request as router accepts it.

Every top-level field OpenAI documents is declared here, so an unknown field is refused with
a 400 that names it (as OpenAI does) instead of being forwarded blindly, and fields that could
redirect the upstream (``api_base``, ``base_url``, ``api_key``, ``extra_headers``, ...) are
refused by name: LiteLLM once had server-side request forgery through them.

The validated model is for *reading*; what goes upstream is the client's own JSON object
(``ParsedRequest.body``) with only ``model`` replaced, so the hot path never re-serialises
a pydantic model and never drops a field it did not know how to copy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router.errors import InvalidRequest
from router.shapes import MessagesCall, Principal
from router.wire_shapes import check_depth, check_shapes

# Fields that could point router at another host or inject credentials: never forwarded.
FORBIDDEN_FIELDS = frozenset(
    {
        "api_base",
        "base_url",
        "api_key",
        "api_version",
        "extra_headers",
        "headers",
        "organization",
        "custom_llm_provider",
        "litellm_params",
        "proxy",
        "mock_response",
    }
)


class Message(BaseModel):
    # Providers add message fields (cache_control, reasoning_content, ...): keep them.
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool | None = None


class ChatRequest(BaseModel):
    """Fields of ``POST /v1/chat/completions``; adding one here means classifying it for the
    cache key too (a test fails otherwise)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None
    n: int | None = Field(None, ge=1, le=128)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    reasoning_effort: str | None = None
    verbosity: str | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    prompt_cache_options: dict[str, Any] | None = None
    moderation: dict[str, Any] | None = None
    safety_identifier: str | None = None
    web_search_options: dict[str, Any] | None = None

    @property
    def wants_usage_in_stream(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    @property
    def has_images(self) -> bool:
        return any(
            isinstance(m.content, list)
            and any(p.get("type") in ("image_url", "input_image") for p in m.content)
            for m in self.messages
        )

    def last_user_text(self) -> str:
        """The text of the last user message (text parts joined), or ``""``."""
        for message in reversed(self.messages):
            if message.role != "user":
                continue
            if isinstance(message.content, str):
                return message.content
            if isinstance(message.content, list):
                return " ".join(
                    str(p.get("text") or "") for p in message.content if p.get("type") == "text"
                )
            return ""
        return ""

    @property
    def wants_json(self) -> bool:
        fmt = self.response_format or {}
        return fmt.get("type") in ("json_object", "json_schema")


@dataclass(slots=True)
class ParsedRequest:
    """A validated request: ``chat`` for reading, ``body`` (the client's JSON) for forwarding.

    From an Anthropic Messages client (``wire_anthropic``), ``messages`` is what goes upstream
    instead, and ``chat``/``body`` are its translation to OpenAI chat, for reading only."""

    chat: ChatRequest
    body: dict[str, Any]
    messages: MessagesCall | None = None

    @property
    def stream(self) -> bool:
        return bool(self.chat.stream)

    @property
    def payload(self) -> dict[str, Any] | MessagesCall:
        """What dispatch sends upstream: the Messages request, or the OpenAI body."""
        return self.body if self.messages is None else self.messages


@dataclass(frozen=True, slots=True)
class Inbound:
    """One request as routing sees it: the parsed request, who sent it, and its headers
    (lower-cased names: the override headers, ``cache-control``, what ``select`` and ``when``
    match on)."""

    request: ParsedRequest
    principal: Principal
    headers: Mapping[str, str]


def parse_chat_request(raw: bytes, *, max_messages: int) -> ParsedRequest:
    """Bytes -> ParsedRequest, or an ``InvalidRequest`` that names the field to fix."""
    body = json_object(raw)
    refuse_forbidden(body)
    check_depth(body, raw)
    messages = body.get("messages")
    if isinstance(messages, list):
        check_count(messages, max_messages)
    try:
        chat = ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from exc
    check_shapes(body)
    return ParsedRequest(chat, body)


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object (either wire format), or an ``invalid_json`` 400."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object", code="invalid_json")
    return body


def refuse_forbidden(body: dict[str, Any]) -> None:
    """A field that would choose the upstream or its credentials is refused, by name."""
    forbidden = FORBIDDEN_FIELDS.intersection(body)
    if forbidden:
        field = sorted(forbidden)[0]
        raise InvalidRequest(
            f"'{field}' is not allowed: router chooses the upstream and its credentials",
            param=field,
            code="forbidden_parameter",
        )


def check_count(messages: list[Any], max_messages: int) -> None:
    """At most ``max_messages`` turns (the server's limit)."""
    if len(messages) > max_messages:
        raise InvalidRequest(
            f"too many messages: {len(messages)} (limit {max_messages})",
            param="messages",
            code="too_many_messages",
        )


def invalid(exc: ValidationError) -> InvalidRequest:
    err = exc.errors()[0]
    param = ".".join(str(p) for p in err["loc"]) or None
    if err["type"] == "extra_forbidden":
        msg = f"Unrecognized request argument supplied: {param}"
        return InvalidRequest(msg, param=param, code="unknown_parameter")
    if err["type"] == "missing":
        return InvalidRequest(
            f"Missing required parameter: '{param}'", param=param, code="missing_required_parameter"
        )
    detail = str(err["msg"])
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return InvalidRequest(
        f"Invalid value for '{param}': {detail}{suffix}", param=param, code="invalid_value"
    )


# -- header values ---------------------------------------------------------------------------
# Numbers in headers are ASCII digits only: ``str.isdigit`` and ``float`` also accept "²",
# "٣", "1_0", "inf" and "nan", which either crash later or mean nothing.
_INT = re.compile(r"[0-9]{1,15}")
_DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?|\.[0-9]{1,15}")
NUMERIC_HEADERS = ("x-router-timeout", "x-router-max-cost")


def header_int(raw: str) -> int | None:
    """A non-negative integer in ASCII digits, else None."""
    value = raw.strip()
    return int(value) if _INT.fullmatch(value) else None


def header_number(raw: str) -> float | None:
    """A non-negative decimal number in ASCII digits (``0.5``, ``12``), else None."""
    value = raw.strip()
    return float(value) if _DECIMAL.fullmatch(value) else None


def max_age(cache_control: str) -> int | None:
    """``max-age`` of a ``Cache-Control`` value; 400 when it is there but not a number."""
    found: int | None = None
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "max-age":
            found = header_int(value.strip().strip('"'))
            if found is None:
                raise InvalidRequest(
                    f"invalid max-age in Cache-Control: {value.strip()!r} (expected seconds)",
                    param="cache-control",
                    code="invalid_header",
                )
    return found


def check_headers(headers: Mapping[str, str]) -> None:
    """Refuse a malformed number in any header router reads (names lower-cased)."""
    for name in NUMERIC_HEADERS:
        raw = headers.get(name)
        if raw is not None and header_number(raw) is None:
            raise InvalidRequest(
                f"invalid value {raw[:40]!r} for header {name!r}: expected a number",
                param=name,
                code="invalid_header",
            )
    cache_control = headers.get("cache-control")
    if cache_control:
        max_age(cache_control)
