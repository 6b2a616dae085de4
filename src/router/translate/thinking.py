"""Claude's rule for thinking in a tool loop, which mixed routing can break: with thinking on,
the last assistant turn that used tools must start with a thinking block (Claude refuses the
request otherwise: "a final assistant message must start with a thinking block ... To avoid
this requirement, disable thinking"). When an OpenAI-side model answered that turn (it has no
thinking blocks to give), the next turn can only go to Claude with thinking off for that
request, which the API layer names in ``x-router-omitted``.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]
_THOUGHTS = ("thinking", "redacted_thinking")


def thinking_must_be_off(body: JSON) -> bool:
    """Thinking is on, and the last assistant turn used tools without a leading thought."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") in (None, "disabled"):
        return False
    for turn in reversed(body.get("messages") or ()):
        if not isinstance(turn, dict) or turn.get("role") != "assistant":
            continue
        content = turn.get("content")
        if not isinstance(content, list) or not content:
            return False
        used_tools = any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content)
        first = content[0] if isinstance(content[0], dict) else {}
        return used_tools and first.get("type") not in _THOUGHTS
    return False


def without_thinking(body: JSON) -> JSON:
    """``body`` with thinking off, and without the context edits that only apply to thinking
    (clearing thinking blocks), which would otherwise be refused in turn."""
    out = {k: v for k, v in body.items() if k != "thinking"}
    management = out.get("context_management")
    if isinstance(management, dict):
        edits = [
            e
            for e in management.get("edits") or ()
            if not (isinstance(e, dict) and str(e.get("type", "")).startswith("clear_thinking"))
        ]
        if edits:
            out["context_management"] = {**management, "edits": edits}
        else:
            out.pop("context_management")
    return out
