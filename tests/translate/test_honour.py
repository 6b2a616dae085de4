"""``cannot_honour``: what routing can know ahead of an attempt, for each pairing of client wire
and deployment."""

from __future__ import annotations

from router.shapes import MessagesCall
from router.translate.honour import cannot_honour

OPENAI = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 2, "seed": 1}
MESSAGES = MessagesCall(
    {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}], "top_k": 3}
)


def test_each_pairing() -> None:
    assert cannot_honour(True, OPENAI) == ["n", "seed"]  # OpenAI client -> Claude
    assert cannot_honour(False, OPENAI) == []  # OpenAI client -> an OpenAI-side model
    assert cannot_honour(False, MESSAGES) == ["top_k"]  # Anthropic client -> OpenAI-side
    assert cannot_honour(True, MESSAGES) == []  # Anthropic client -> Claude: as sent
