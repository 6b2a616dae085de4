"""Deterministic word tokenizer shared by every emulator.

A *token* is a maximal run of non-whitespace characters together with the
whitespace that precedes it (regex ``\\s*\\S+``).  So ``len(tokens(t))`` equals
``len(t.split())`` and ``"".join(tokens(t))`` is ``t`` without trailing
whitespace.  That lets the emulators truncate text to exactly N tokens, stream
it one token per chunk, and report usage that a test can recompute by hand with
``str.split``.  Prompt tokens are the words of every text part of every message
(system prompt included) plus one token per image part; tool definitions and
role framing are free.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*\S+")


def tokens(text: str) -> list[str]:
    """Split ``text`` into tokens that concatenate back to ``text.rstrip()``."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    return len(text.split())


def truncate(text: str, limit: int) -> str:
    """Return the first ``limit`` tokens of ``text``, leading whitespace kept as-is."""
    return "".join(tokens(text)[:limit]).lstrip()


def split_pieces(text: str, count: int | None) -> list[str]:
    """Split ``text`` into ``count`` contiguous pieces on token boundaries.

    ``None`` means one piece per token.  Pieces concatenate back to the
    stripped text, so a streaming client reassembles exactly the
    non-streaming content.
    """
    toks = tokens(text)
    if toks:
        toks[0] = toks[0].lstrip()
    if count is None or count >= len(toks):
        return toks
    count = max(count, 1)
    size, extra = divmod(len(toks), count)
    pieces: list[str] = []
    start = 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        pieces.append("".join(toks[start:end]))
        start = end
    return pieces


def split_chars(text: str, count: int | None, default_width: int = 12) -> list[str]:
    """Split text with no useful word boundaries (tool-call JSON) into pieces."""
    if not text:
        return [""]
    if count is None:
        count = max(1, -(-len(text) // default_width))
    count = max(1, min(count, len(text)))
    size, extra = divmod(len(text), count)
    pieces: list[str] = []
    start = 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces
