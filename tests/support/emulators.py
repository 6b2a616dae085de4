"""Shared pieces for the emulator tests: the key every emulator is started with, the headers
an Anthropic client sends, and raw-HTTP helpers for the Anthropic Messages emulator."""

from __future__ import annotations

import json
from typing import Any

import httpx

from router.emulators import AnthropicEmulator

KEY = "test-key"
ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}

MODEL = "claude-sonnet-4-5"
TOOL = {
    "name": "lookup",
    "description": "Look a thing up",
    "input_schema": {
        "type": "object",
        "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["q"],
    },
}


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in text.split("\n\n"):
        if not frame:
            continue
        lines = frame.split("\n")
        assert lines[0].startswith("event: "), frame
        assert lines[1].startswith("data: "), frame
        events.append((lines[0][7:], json.loads(lines[1][6:])))
    return events


async def post(
    emu: AnthropicEmulator, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{emu.url}/v1/messages",
            json=body,
            headers=ANTHROPIC_HEADERS if headers is None else headers,
        )
