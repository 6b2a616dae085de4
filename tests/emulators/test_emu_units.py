"""Pure helpers: tokenizer, schema values, answer generation, Behaviour parsing."""

from __future__ import annotations

import pytest

from router.emulators import Behaviour
from router.emulators.behaviour import ControlError, Planner
from router.emulators.generation import Prompt, ToolSpec, choose_tool, generate
from router.emulators.schema_values import example_value
from router.emulators.tokenizer import count_tokens, split_chars, split_pieces, truncate


@pytest.mark.parametrize("text", ["a b  c\nd", "  lead and trail  ", "", "one"])
@pytest.mark.parametrize("count", [None, 1, 2, 3, 10])
def test_pieces_rejoin_and_count(text: str, count: int | None) -> None:
    pieces = split_pieces(text, count)
    assert "".join(pieces) == text.strip()
    expected = count_tokens(text) if count is None else min(count, count_tokens(text))
    assert len(pieces) == expected


def test_truncate_and_chars() -> None:
    assert truncate("a b c d", 2) == "a b"
    assert count_tokens("a  b\tc") == 3
    assert "".join(split_chars('{"k":"value"}', 4)) == '{"k":"value"}'
    assert len(split_chars('{"k":"value"}', 4)) == 4


def test_example_values_satisfy_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "count": {"type": "integer", "minimum": 10, "maximum": 20},
            "ratio": {"type": ["number", "null"], "exclusiveMaximum": 1},
            "mode": {"anyOf": [{"type": "null"}, {"const": "fast"}]},
            "items": {"type": "array", "minItems": 2, "items": {"type": "boolean"}},
            "code": {"type": "string", "minLength": 10},
        },
    }
    assert example_value(schema) == {
        "when": "2024-01-01T00:00:00Z",
        "count": 10,
        "ratio": 0,
        "mode": "fast",
        "items": [True, True],
        "code": "examplexxx",
    }


def test_generation_limits_and_tools() -> None:
    prompt = Prompt(model="m", last_user_text="x y", max_tokens=50, stop=("y",))
    stopped = generate(prompt, "id", words=12)
    assert (stopped.text, stopped.finish, stopped.stop_sequence) == (
        "Answer from m: x",
        "stop_sequence",
        "y",
    )
    tools = [ToolSpec("a", {}), ToolSpec("lookup", {"properties": {"q": {"type": "string"}}})]
    assert choose_tool(tools, "auto", None, True, "please LOOKUP this") == tools[1]
    assert choose_tool(tools, "auto", None, False, "please lookup") is None
    assert choose_tool(tools, "required", None, False, "") == tools[0]
    call = generate(Prompt(model="m", tool_to_call=tools[1]), "call_1", words=12)
    assert call.tool_call is not None
    assert call.tool_call.arguments == '{"q":"example"}'
    assert call.finish == "tool_use"


def test_behaviour_from_json() -> None:
    assert Behaviour.from_json('{"status": 503, "retry_after": 1}') == Behaviour(
        status=503, retry_after=1.0
    )
    for bad in ('{"nope": 1}', '{"status": "x"}', "[1]", "{"):
        with pytest.raises(ControlError):
            Behaviour.from_json(bad)


def test_planner_queue_order() -> None:
    planner = Planner()
    first, second = Behaviour(status=500), Behaviour(status=502)
    planner.plan(first, times=1, model="b")
    planner.plan(second, times=2)
    assert planner.next_for("a") == second
    assert planner.next_for("b") == first
    assert planner.next_for("b") == second
    assert planner.next_for("b") == Behaviour()
    with pytest.raises(ValueError, match="times"):
        planner.plan(first, times=0)
