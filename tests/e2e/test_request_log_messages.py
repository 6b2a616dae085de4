"""Anthropic Messages clients are logged like chat clients: the answer the official
``anthropic`` SDK received, streamed or not, is the answer the record keeps (captured) or
hashes (not captured)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic

from router.demo import demo_config
from router.requestlog.read import open_log
from router.requestlog.text import digest
from support.stack import Emulators, RouterFactory

POLICIES = """
policies:
  kept:
    aliases: ["claude-*"]
    log: {capture: prompts}
    rules: [{name: all, candidates: [claude-sonnet]}]
  hashed:
    rules: [{name: all, candidates: [gpt-4o]}]
"""


def test_messages_answers_are_logged_streamed_or_not(
    start_router: RouterFactory, tmp_path: Path, emulators: Emulators
) -> None:
    directory = tmp_path / "policies"
    directory.mkdir()
    log = tmp_path / "requests.jsonl"
    (directory / "router.yaml").write_text(demo_config(emulators.endpoints))
    (directory / "policies.yaml").write_text(
        POLICIES + f"request_log: {{sink: jsonl, path: '{log}'}}\n"
    )
    router = start_router(directory)
    client = anthropic.Anthropic(base_url=router.base_url, api_key="unused", max_retries=0)
    ask: list[Any] = [{"role": "user", "content": "Name a colour."}]
    whole = client.messages.create(model="claude-x", max_tokens=50, messages=ask)
    with client.messages.stream(model="claude-x", max_tokens=50, messages=ask) as stream:
        streamed = stream.get_final_text()
    other = client.messages.create(model="hashed", max_tokens=50, messages=ask)
    router.stop()

    texts = ["".join(b.text for b in m.content if b.type == "text") for m in (whole, other)]
    first, second, third = list(open_log(str(log)))
    assert (first.policy, first.model) == ("kept", "claude-sonnet")
    assert first.answer is not None
    assert first.answer.text == texts[0]
    assert first.prompt.messages is not None
    assert first.prompt.messages[-1].text == "Name a colour."
    assert second.features is not None
    assert second.features.stream
    assert second.answer is not None
    assert second.answer.text == streamed
    assert streamed
    assert (third.policy, third.model) == ("hashed", "gpt-4o")
    assert third.answer is not None
    assert third.answer.text is None
    assert third.answer.sha256 == digest(texts[1])
    assert third.prompt.messages is None
