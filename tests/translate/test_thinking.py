"""Claude's thinking rule in a tool loop, and the request router sends when another model
answered the loop's last turn."""

from __future__ import annotations

from typing import Any

import pytest

from router.translate.thinking import thinking_must_be_off, without_thinking

ON = {"type": "enabled", "budget_tokens": 2000}
USE = {"type": "tool_use", "id": "t1", "name": "Read", "input": {}}
THOUGHT = {"type": "thinking", "thinking": "", "signature": "s"}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]}


def body(*turns: dict[str, Any], thinking: Any = ON) -> dict[str, Any]:
    messages = [{"role": "user", "content": "go"}, *turns]
    out: dict[str, Any] = {"model": "m", "max_tokens": 9000, "messages": messages}
    if thinking is not None:
        out["thinking"] = thinking
    return out


@pytest.mark.parametrize(
    ("request_body", "off"),
    [
        (body({"role": "assistant", "content": [USE]}, RESULT), True),  # MAI answered it
        (body({"role": "assistant", "content": [THOUGHT, USE]}, RESULT), False),  # Claude did
        (body({"role": "assistant", "content": [USE]}, RESULT, thinking=None), False),
        (
            body({"role": "assistant", "content": [USE]}, RESULT, thinking={"type": "disabled"}),
            False,
        ),
        (body({"role": "assistant", "content": "plain text"}), False),
        (body({"role": "assistant", "content": [{"type": "text", "text": "hi"}]}), False),
        (body(), False),
    ],
)
def test_when_thinking_must_be_off(request_body: dict[str, Any], off: bool) -> None:
    assert thinking_must_be_off(request_body) is off


def test_thinking_and_its_context_edits_go_together() -> None:
    edits = [{"type": "clear_thinking_20251015", "keep": "all"}, {"type": "clear_tool_uses"}]
    sent = without_thinking({**body(), "context_management": {"edits": edits}})
    only_thinking = without_thinking({**body(), "context_management": {"edits": edits[:1]}})

    assert "thinking" not in sent
    assert sent["context_management"] == {"edits": [{"type": "clear_tool_uses"}]}
    assert "context_management" not in only_thinking
    assert sent["messages"] == body()["messages"]
