"""The parts of the Messages API beyond plain chat, as the emulator honours them:

- unknown top-level fields are refused, as the real API refuses them ("Extra inputs are not
  permitted"), and beta fields need their ``anthropic-beta`` value;
- structured outputs: ``output_config.format`` (and the older beta ``output_format``) with a
  ``json_schema`` make the answer a JSON value valid against the schema;
- extended thinking: ``thinking: {type: enabled, budget_tokens}`` (at least 1024, below
  ``max_tokens``) puts a thinking block with a signature before the answer (its text empty
  with ``display: omitted``, as Claude Code asks); as the real API, it refuses thinking when
  the last assistant turn used tools without a leading thinking block;
- prompt caching: the prompt up to the last ``cache_control`` breakpoint (tools, then system,
  then messages, Anthropic's order) is written to the emulator's cache the first time and read
  from it after, which shows in ``cache_creation_input_tokens`` / ``cache_read_input_tokens``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router.emulators.server import Problem
from router.emulators.tokenizer import count_tokens

KNOWN_FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "metadata",
        "thinking",
        "output_config",
        "service_tier",
        "container",
        "cache_control",
        "inference_geo",
        "speed",
    }
)
# Beta fields, and the prefix of the anthropic-beta value that unlocks each.
BETA_FIELDS = {
    "context_management": "context-management-",
    "output_format": "structured-outputs-",
    "mcp_servers": "mcp-client-",
}
MIN_THINKING_BUDGET = 1024


@dataclass(frozen=True, slots=True)
class Extras:
    schema: Mapping[str, Any] | None = None
    thinking: bool = False
    thinking_shown: bool = True  # False: display "omitted", the block has a signature only
    cache_key: str | None = None  # digest of the cacheable prefix
    cache_tokens: int = 0  # its size


def _bad(message: str) -> Problem:
    return Problem(400, message)


def check_fields(body: Mapping[str, Any], betas: frozenset[str]) -> Problem | None:
    for name in body:
        if name in KNOWN_FIELDS:
            continue
        prefix = BETA_FIELDS.get(name)
        if prefix is None or not any(b.startswith(prefix) for b in betas):
            return _bad(f"{name}: Extra inputs are not permitted")
    return None


def extras(body: Mapping[str, Any], max_tokens: int) -> Extras | Problem:
    schema = _output_schema(body)
    if isinstance(schema, Problem):
        return schema
    thinking = _thinking(body.get("thinking"), max_tokens)
    if isinstance(thinking, Problem):
        return thinking
    if thinking and not _thinking_leads_tool_loop(body):
        return _bad(
            "messages: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When "
            "`thinking` is enabled, a final `assistant` message must start with a thinking "
            "block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). To "
            "avoid this requirement, disable `thinking`."
        )
    key, tokens = _cache_prefix(body)
    config = body.get("thinking")
    shown = not (isinstance(config, Mapping) and config.get("display") == "omitted")
    return Extras(schema, thinking, shown, key, tokens)


def _output_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | Problem | None:
    config = body.get("output_config")
    if config is not None and not isinstance(config, Mapping):
        return _bad("output_config: Input should be a valid dictionary")
    fmt = (config or {}).get("format") or body.get("output_format")
    if fmt is None:
        return None
    if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema":
        return _bad("output_config.format.type: Input should be 'json_schema'")
    schema = fmt.get("schema")
    if not isinstance(schema, Mapping):
        return _bad("output_config.format.schema: Field required")
    return schema


def _thinking(config: Any, max_tokens: int) -> bool | Problem:
    if config is None:
        return False
    if not isinstance(config, Mapping):
        return _bad("thinking: Input should be a valid dictionary")
    kind = config.get("type")
    if kind in ("disabled", "adaptive"):
        return False  # adaptive: the emulated model never decides to think
    if kind != "enabled":
        return _bad("thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'")
    budget = config.get("budget_tokens")
    if not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
        return _bad(f"thinking.enabled.budget_tokens: must be at least {MIN_THINKING_BUDGET}")
    if budget >= max_tokens:
        return _bad("`max_tokens` must be greater than `thinking.budget_tokens`")
    return True


def _thinking_leads_tool_loop(body: Mapping[str, Any]) -> bool:
    """The real API's rule: with thinking on, the last assistant turn that used tools starts
    with a thinking block."""
    for message in reversed(body.get("messages") or ()):
        if not isinstance(message, Mapping) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if not isinstance(content, list) or not content:
            return True
        tools = any(isinstance(b, Mapping) and b.get("type") == "tool_use" for b in content)
        first = content[0] if isinstance(content[0], Mapping) else {}
        return not tools or first.get("type") in ("thinking", "redacted_thinking")
    return True


def _cache_prefix(body: Mapping[str, Any]) -> tuple[str | None, int]:
    """The prompt up to its last cache breakpoint: a digest and a token count."""
    parts: list[Any] = []
    cut = 0
    tokens = 0
    counted = 0
    for section in _sections(body):
        for block in section:
            parts.append(block)
            counted += _tokens(block)
            if isinstance(block, Mapping) and block.get("cache_control"):
                cut, tokens = len(parts), counted
    if not cut:
        return None, 0
    digest = hashlib.blake2b(orjson.dumps(parts[:cut]), digest_size=12).hexdigest()
    return digest, tokens


def _sections(body: Mapping[str, Any]) -> list[list[Any]]:
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    system = body.get("system")
    system_blocks = system if isinstance(system, list) else ([system] if system else [])
    blocks: list[Any] = []
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        blocks.extend(content if isinstance(content, list) else [content])
    return [list(tools or ()), list(system_blocks), blocks]


def _tokens(block: Any) -> int:
    """Tokens of one block as the emulator's prompt count sees them (which leaves tool
    definitions out)."""
    if isinstance(block, str):
        return count_tokens(block)
    if not isinstance(block, Mapping) or "input_schema" in block:
        return 0
    kind = block.get("type")
    if kind == "text":
        return count_tokens(str(block.get("text", "")))
    if kind == "tool_use":
        return count_tokens(orjson.dumps(block.get("input", {})).decode())
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, str):
            return count_tokens(content)
        return sum(_tokens(b) for b in content) if isinstance(content, list) else 0
    return 1


def thinking_text(last_user_text: str) -> str:
    return f"Thinking about: {last_user_text}".strip()


def signature(text: str) -> str:
    return "emu-sig-" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
