"""The Anthropic Messages request as router accepts it (``POST /v1/messages`` and
``/v1/messages/count_tokens``).

Claude deployments receive the client's body unchanged but for ``model``, so a field Anthropic
adds tomorrow reaches Claude today and Claude answers for its own rules. Checked here is what
router itself relies on: the JSON object, ``model``, ``messages`` (user and assistant turns, at
most ``server.max_messages``), ``max_tokens`` (required by Anthropic on ``/v1/messages``),
``stream``, and no field that could redirect the upstream (the same list as OpenAI's,
``FORBIDDEN_FIELDS``). An OpenAI-side deployment gets a strict translation per attempt, which
refuses what it cannot carry, naming it.

For routing, ``ParsedRequest.chat`` is a *reading view*: the request translated to OpenAI chat
leniently (what has no equivalent is skipped, never refused), so classification, the prompt
estimate and the capability checks (tools, images, JSON) work as for an OpenAI client.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from router.errors import InvalidRequest
from router.shapes import MessagesCall
from router.translate.anthropic_to_openai import chat_request
from router.wire import (
    ChatRequest,
    ParsedRequest,
    check_count,
    invalid,
    json_object,
    refuse_forbidden,
)

_ROLES = ("user", "assistant")


def parse_messages_request(
    raw: bytes,
    *,
    max_messages: int,
    betas: tuple[str, ...] = (),
    counting: bool = False,
) -> ParsedRequest:
    """Bytes -> ParsedRequest carrying the Messages request (``counting``: a
    ``count_tokens`` body, which has no ``max_tokens``), or an ``InvalidRequest``."""
    body = json_object(raw)
    _check(body, max_messages, counting)
    try:
        view = chat_request(body, reading=True).body
    except (AttributeError, TypeError, ValueError) as exc:
        # A shape the translation cannot even read (a tool that is not an object, ...).
        raise InvalidRequest(
            f"request body is malformed: {type(exc).__name__}", code="invalid_value"
        ) from exc
    try:
        chat = ChatRequest.model_validate(view)
    except ValidationError as exc:
        raise invalid(exc) from exc
    return ParsedRequest(chat, view, MessagesCall(body, betas))


def _check(body: dict[str, Any], max_messages: int, counting: bool) -> None:
    refuse_forbidden(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _field("model", "a model name is required")
    if not counting:
        limit = body.get("max_tokens")
        if limit is None:
            raise _field("max_tokens", "Field required", "missing_required_parameter")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise _field("max_tokens", "must be an integer of at least 1")
    if body.get("stream") not in (None, True, False):
        raise _field("stream", "must be a boolean")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _field("messages", "a non-empty list of turns is required")
    check_count(messages, max_messages)
    for i, turn in enumerate(messages):
        if not isinstance(turn, dict) or turn.get("role") not in _ROLES:
            raise _field(f"messages.{i}.role", "Input should be 'user' or 'assistant'")
        content = turn.get("content")
        if not isinstance(content, str | list):
            raise _field(f"messages.{i}.content", "must be a string or a list of blocks")
        if isinstance(content, list) and not all(isinstance(b, dict) for b in content):
            raise _field(f"messages.{i}.content", "every block must be an object")
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        raise _field("system", "must be a string or a list of text blocks")


def _field(param: str, why: str, code: str = "invalid_value") -> InvalidRequest:
    return InvalidRequest(f"{param}: {why}", param=param, code=code)
