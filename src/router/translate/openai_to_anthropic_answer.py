"""Claude -> an OpenAI Chat Completions client: the whole answer back (``completion``), and
Anthropic usage read as OpenAI's (``usage``) and as router's (``router_usage``). The request
out is ``openai_to_anthropic``; the stream back, ``openai_to_anthropic_stream``.
"""

from __future__ import annotations

from typing import Any

import orjson

from router.shapes import Usage

JSON = dict[str, Any]

FINISH_REASON = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def usage(raw: Any) -> JSON:
    """Anthropic usage -> OpenAI usage. Anthropic's ``input_tokens`` excludes the prompt
    tokens read from or written to its cache; OpenAI's ``prompt_tokens`` includes them, with
    the reads in ``prompt_tokens_details.cached_tokens``."""
    raw = raw if isinstance(raw, dict) else {}
    read = int(raw.get("cache_read_input_tokens") or 0)
    written = int(raw.get("cache_creation_input_tokens") or 0)
    prompt = int(raw.get("input_tokens") or 0) + read + written
    completion = int(raw.get("output_tokens") or 0)
    out: JSON = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read},
    }
    if written:
        out["cache_creation_input_tokens"] = written  # as litellm reports it
    return out


def router_usage(raw: Any) -> Usage:
    """Anthropic usage -> router's ``Usage`` (prompt tokens include cache reads and writes)."""
    found = usage(raw)
    return Usage(found["prompt_tokens"], found["completion_tokens"])


def completion(message: JSON, *, created: int) -> JSON:
    """An Anthropic ``message`` -> the ``chat.completion`` OpenAI would send."""
    texts: list[str] = []
    reasoning: list[str] = []
    thoughts: list[JSON] = []
    calls: list[JSON] = []
    for block in message.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            calls.append(_call(block))
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
            thoughts.append(block)
        elif kind == "redacted_thinking":
            thoughts.append(block)
    reply: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if not texts and not calls:
        reply["content"] = ""
    reply["refusal"] = None
    if calls:
        reply["tool_calls"] = calls
    if reasoning:
        reply["reasoning_content"] = "".join(reasoning)
    if thoughts:
        reply["thinking_blocks"] = thoughts
    stop = message.get("stop_reason")
    return {
        "id": message.get("id") or "",
        "object": "chat.completion",
        "created": created,
        "model": message.get("model") or "",
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": FINISH_REASON.get(str(stop), "stop"),
            }
        ],
        "usage": usage(message.get("usage")),
    }


def _call(block: JSON) -> JSON:
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {
            "name": block.get("name"),
            "arguments": orjson.dumps(block.get("input") or {}).decode(),
        },
    }
