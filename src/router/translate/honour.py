"""What a deployment cannot honour in a request, known before any attempt: the parameters its
wire's translation would refuse by name. Pure, so routing can leave such a deployment out of a
decision instead of letting its attempt be refused (``policy`` may call it; nothing here does
I/O)."""

from __future__ import annotations

from typing import Any

from router.shapes import MessagesCall
from router.translate import anthropic_to_openai, openai_to_anthropic


def cannot_honour(speaks_messages: bool, payload: dict[str, Any] | MessagesCall) -> list[str]:
    """The refused parameters when ``payload`` (an OpenAI chat body, or an Anthropic Messages
    request) goes to a deployment that speaks Anthropic Messages natively (Claude) or not;
    empty when it can serve it as is."""
    if isinstance(payload, MessagesCall):
        return [] if speaks_messages else anthropic_to_openai.unsupported(payload.body)
    return openai_to_anthropic.unsupported(payload) if speaks_messages else []
