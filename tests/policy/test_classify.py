"""Request features: task class, token estimate, flags, and the classifier's speed."""

from __future__ import annotations

from typing import Any

import pytest

from router.policy.classify import classify
from router.wire import ChatRequest


def request(*messages: tuple[str, Any], **fields: Any) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "auto", "messages": [{"role": r, "content": c} for r, c in messages], **fields}
    )


@pytest.mark.parametrize(
    ("text", "task"),
    [
        ("Fix this:\n```js\nconst x = () => 1\n```", "code"),
        ("Why does my Python function raise an exception when the list is empty?", "code"),
        ("Write a SQL query: select name from users where age > 3", "code"),
        ("Prove step by step that there are infinitely many primes.", "reasoning"),
        ("Solve for x: 3 * 4 + x = 20, and explain the equation", "reasoning"),
        ("Write a function that reverses a list", "code"),  # the README's example
        ("Write a script that renames my photos by date", "code"),
        ("Write a poem about a function of the heart", "general"),  # one code word is not code
        ("Implement a plan for my garden", "general"),
        ("Suggest three names for a bakery.", "general"),
        ("What's the weather like in Lisbon in May?", "general"),
    ],
)
def test_task_class(text: str, task: str) -> None:
    assert classify(request(("user", text))).task == task


def test_last_user_turn_and_system_prompt_decide() -> None:
    chat = request(
        ("system", "You are a senior Python engineer. Review code."),
        ("user", "Fix the bug: ```x = 1```"),
        ("assistant", "Done."),
        ("user", "Thanks! Now a haiku about autumn, please."),
    )
    assert classify(chat).task == "code"  # the system prompt still says code
    plain = request(("user", "```x```"), ("assistant", "ok"), ("user", "A haiku about autumn"))
    assert classify(plain).task == "general"


def test_code_tools_and_reasoning_effort_count() -> None:
    tools = [{"type": "function", "function": {"name": "run_shell", "parameters": {}}}]
    assert classify(request(("user", "list files"), tools=tools)).task == "code"
    assert classify(request(("user", "Hello"), reasoning_effort="high")).task == "reasoning"


def test_token_estimate_is_chars_over_four_plus_overhead() -> None:
    features = classify(request(("user", "x" * 400), ("assistant", "y" * 3)))
    assert features.prompt_tokens == 100 + 1 + 2 * 4


def test_flags_and_required_capabilities() -> None:
    content = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    features = classify(
        request(
            ("user", content),
            stream=True,
            max_tokens=50,
            response_format={"type": "json_object"},
            tools=[{"type": "function", "function": {"name": "f"}}],
        )
    )
    assert features.has_images
    assert features.wants_json
    assert features.has_tools
    assert features.stream
    # JSON mode proper; a json_schema answer needs the other capability (Claude has only that)
    assert features.required_capabilities == {"tools", "vision", "json_object"}
    schema = classify(
        request(("user", "hi"), response_format={"type": "json_schema", "json_schema": {}})
    )
    assert schema.required_capabilities == {"json_schema"}
    assert features.prompt_tokens > 765  # the image counts
    assert features.context_needed() == features.prompt_tokens + 50
    assert features.context_needed(20) == features.prompt_tokens + 20  # the model's own limit
