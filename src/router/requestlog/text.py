"""Prompt and answer text for the log: the hash always, the text only when captured.

A hash lets a reader see that two requests asked the same thing without the log holding
what they asked. It is a plain SHA-256, so a short or guessable prompt can be confirmed by
anyone who guesses it: the log is still sensitive data, only less so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from router.requestlog.record import LoggedMessage, Text
from router.wire import ChatRequest, Message


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def message_text(message: Message) -> str:
    """A message's text parts, joined as ``classify`` joins them (so a replayed prompt scores
    as it did live); images and audio are left out (never logged)."""
    content = message.content
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text") or "") for p in content if p.get("type") == "text")
    return ""


def prompt_text(chat: ChatRequest, capture: bool) -> Text:
    turns = tuple(LoggedMessage(m.role, message_text(m)) for m in chat.messages)
    # role and text, each turn on its own: the same conversation hashes the same however its
    # content parts were split
    joined = "\x1e".join(f"{t.role}\x1f{t.text}" for t in turns)
    return Text(digest(joined), turns if capture else None)


def user_of(chat: ChatRequest, capture: bool) -> str | None:
    if chat.user is None:
        return None
    return chat.user if capture else digest(chat.user)


def answer_text(body: dict[str, Any]) -> str:
    """The text of a complete answer: an OpenAI completion's first choice, or an Anthropic
    message's text blocks (a Messages client's answer)."""
    choices = body.get("choices")
    if isinstance(choices, list):
        first = choices[0] if choices and isinstance(choices[0], dict) else {}
        message = first.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        return content if isinstance(content, str) else ""
    blocks = body.get("content")
    if isinstance(blocks, list):
        return "".join(
            str(b.get("text") or "")
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def streamed_text(chunks: Iterable[dict[str, Any]]) -> str:
    """The text of a stream: OpenAI chunks' first-choice deltas, or Anthropic
    ``content_block_delta`` events' text."""
    parts: list[str] = []
    for chunk in chunks:
        if chunk.get("type") == "content_block_delta":
            delta = chunk.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta":
                parts.append(str(delta.get("text") or ""))
            continue
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            piece = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(piece, str):
                parts.append(piece)
    return "".join(parts)


def answer_of(text: str, capture: bool) -> Text:
    return Text(digest(text), text=text if capture else None)
