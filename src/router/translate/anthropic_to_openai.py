"""Anthropic Messages client -> an OpenAI-side model (MAI-Code-1-Flash, GPT-4o, ...): the
request out (``chat_request``) and the whole answer back (``message``); the stream back is
``anthropic_to_openai_stream``.

What maps where:

- ``system`` (a string or text blocks) -> one leading system message;
- user ``tool_result`` blocks -> ``tool`` messages, placed first as OpenAI requires (images in
  a result follow in a user message, since a tool message carries text only); ``tool_use``
  blocks -> ``tool_calls``; image blocks -> image parts (base64 -> a ``data:`` URL, a URL
  source stays a URL, fetched by the provider, never by router);
- ``tools`` (custom tools) -> functions; ``tool_choice`` ``any`` -> ``required``, ``tool``
  -> a named function; ``disable_parallel_tool_use`` -> ``parallel_tool_calls: false``;
- ``stop_sequences`` -> ``stop``; ``max_tokens`` -> ``max_tokens``, never above the
  deployment's output limit (Claude Code asks for 32000, more than GPT-4o's 16384: a cap above
  the model's own limit means that limit); ``temperature``, ``top_p``;
- ``output_config.format`` (or the beta ``output_format``) -> a json_schema
  ``response_format``; ``metadata.user_id`` -> ``user``.

Hints an OpenAI-side model has no use for are left out and named in ``Translated.omitted``,
so the API layer can say so in a header: ``thinking`` (and thinking blocks in the history,
which only Claude can read back), ``context_management``, ``output_config.effort``,
``cache_control`` is passed nowhere (OpenAI-side providers cache prompts on their own) and is
not reported. Anything else without an equivalent (``top_k``, server tools, documents, MCP
servers, unknown fields) is refused by name, or, in the lenient ``reading`` mode used for
routing features, skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from router.errors import InvalidRequest

JSON = dict[str, Any]

STOP_REASON = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
# Fields that change nothing an OpenAI-side model could do differently: not reported.
_QUIET = frozenset({"model", "stream", "cache_control", "service_tier", "inference_geo", "speed"})
# Hints left out, and reported in ``omitted``.
_HINTS = frozenset({"thinking", "context_management"})
_TRANSLATED = frozenset(
    {
        "messages",
        "system",
        "max_tokens",
        "stop_sequences",
        "temperature",
        "top_p",
        "tools",
        "tool_choice",
        "metadata",
        "output_config",
        "output_format",
    }
)
_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
Refuse = Callable[[str, str], None]  # a parameter without an equivalent, and why


@dataclass(frozen=True, slots=True)
class Translated:
    body: JSON  # the OpenAI chat request
    omitted: tuple[str, ...]  # hints left out (see the module docstring)


class _Refusal:
    """Strict mode raises; reading mode notes nothing and skips."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def __call__(self, param: str, why: str) -> None:
        if self.strict:
            raise InvalidRequest(
                f"'{param}' cannot be sent to this model: {why}",
                param=param,
                code="unsupported_parameter",
            )


def unsupported(body: JSON) -> list[str]:
    """The fields of an Anthropic request an OpenAI-side model cannot honour."""
    found: list[str] = []

    def note(param: str, why: str) -> None:
        found.append(param)

    _translate(body, note, None, [])
    return found


def chat_request(
    body: JSON, *, max_tokens_limit: int | None = None, reading: bool = False
) -> Translated:
    """An Anthropic Messages request -> an OpenAI chat request. ``reading``: never refuse,
    skip what has no equivalent (for classifying the request, not for sending it)."""
    omitted: list[str] = []
    out = _translate(body, _Refusal(not reading), max_tokens_limit, omitted)
    return Translated(out, tuple(omitted))


def _translate(body: JSON, refuse: Refuse, limit: int | None, omitted: list[str]) -> JSON:
    for name in body:
        if name in _HINTS:
            if not (name == "thinking" and (body[name] or {}).get("type") == "disabled"):
                omitted.append(name)
        elif name not in _QUIET and name not in _TRANSLATED:
            refuse(name, "it has no equivalent in OpenAI chat completions")
    messages: list[JSON] = []
    system = _system_text(body.get("system"), refuse)
    if system:
        messages.append({"role": "system", "content": system})
    for i, turn in enumerate(body.get("messages") or ()):
        messages.extend(_turn(turn, i, refuse, omitted))
    out: JSON = {"model": body.get("model"), "messages": messages}
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int):
        out["max_tokens"] = min(max_tokens, limit) if limit else max_tokens
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    tools = [_tool(t, i, refuse) for i, t in enumerate(body.get("tools") or ())]
    tools = [t for t in tools if t is not None]
    if tools:
        out["tools"] = tools
        _tool_choice(body.get("tool_choice"), out, refuse)
    user = (body.get("metadata") or {}).get("user_id")
    if user:
        out["user"] = str(user)
    _output(body, out, refuse, omitted)
    if body.get("stream"):
        out["stream"] = True
    return out


def _system_text(system: Any, refuse: Refuse) -> str:
    if isinstance(system, str):
        return system
    texts = []
    for i, block in enumerate(system or ()):
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        else:
            refuse(f"system[{i}].type", "only text blocks are translated")
    return "\n\n".join(t for t in texts if t)


def _turn(turn: JSON, i: int, refuse: Refuse, omitted: list[str]) -> list[JSON]:
    role = turn.get("role")
    content = turn.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if role == "assistant":
        return [_assistant(content or [], i, refuse, omitted)]
    results: list[JSON] = []
    parts: list[JSON] = []
    for j, block in enumerate(content or ()):
        kind = block.get("type")
        where = f"messages[{i}].content[{j}]"
        if kind == "tool_result":
            text, images = _result(block, where, refuse)
            results.append({"role": "tool", "tool_call_id": _id(block), "content": text})
            parts.extend(images)
        elif kind == "text":
            parts.append({"type": "text", "text": block.get("text") or ""})
        elif kind == "image":
            image = _image(block, where, refuse)
            if image is not None:
                parts.append(image)
        else:
            refuse(f"{where}.type", f"{kind!r} blocks are not translated")
    out = results
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _assistant(content: list[JSON], i: int, refuse: Refuse, omitted: list[str]) -> JSON:
    texts: list[str] = []
    calls: list[JSON] = []
    for j, block in enumerate(content):
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": _id(block, "id"), "type": "function", "function": function})
        elif kind in ("thinking", "redacted_thinking"):
            if "thinking" not in omitted:
                omitted.append("thinking")
        else:
            refuse(f"messages[{i}].content[{j}].type", f"{kind!r} blocks are not translated")
    out: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    elif out["content"] is None:
        out["content"] = ""
    return out


def _id(block: JSON, field: str = "tool_use_id") -> str:
    return str(block.get(field) or "")


def _result(block: JSON, where: str, refuse: Refuse) -> tuple[str, list[JSON]]:
    content = block.get("content")
    if isinstance(content, str) or content is None:
        return content or "", []
    texts: list[str] = []
    images: list[JSON] = []
    for k, part in enumerate(content):
        if part.get("type") == "text":
            texts.append(str(part.get("text") or ""))
        elif part.get("type") == "image":
            image = _image(part, f"{where}.content[{k}]", refuse)
            if image is not None:
                images.append(image)
        else:
            refuse(f"{where}.content[{k}].type", f"{part.get('type')!r} blocks are not translated")
    return "\n".join(texts), images


def _image(block: JSON, where: str, refuse: Refuse) -> JSON | None:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif source.get("type") == "url":
        url = str(source.get("url"))
    else:
        refuse(f"{where}.source.type", f"{source.get('type')!r} image sources are not translated")
        return None
    return {"type": "image_url", "image_url": {"url": url}}


def _tool(tool: JSON, i: int, refuse: Refuse) -> JSON | None:
    if tool.get("type") not in (None, "custom"):
        refuse(f"tools[{i}].type", f"{tool.get('type')!r} is a tool only Anthropic runs")
        return None
    function: JSON = {
        "name": tool.get("name"),
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict"):
        function["strict"] = True
    return {"type": "function", "function": function}


def _tool_choice(choice: Any, out: JSON, refuse: Refuse) -> None:
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    else:
        refuse("tool_choice.type", f"unknown tool_choice {kind!r}")
    if choice.get("disable_parallel_tool_use") and kind != "none":
        out["parallel_tool_calls"] = False


def _output(body: JSON, out: JSON, refuse: Refuse, omitted: list[str]) -> None:
    config = body.get("output_config") or {}
    for name in config:
        if name == "effort":
            omitted.append("output_config.effort")
        elif name != "format":
            refuse(f"output_config.{name}", "it has no equivalent in OpenAI chat completions")
    fmt = config.get("format") or body.get("output_format")
    if not fmt:
        return
    if fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        refuse("output_config.format", "only a json_schema format with a schema is translated")
        return
    spec = {"name": "output", "schema": fmt["schema"], "strict": True}
    out["response_format"] = {"type": "json_schema", "json_schema": spec}


# -- the answer ---------------------------------------------------------------------------


def usage(raw: Any) -> JSON:
    """OpenAI usage -> Anthropic usage: ``input_tokens`` excludes the cached prompt tokens,
    which go to ``cache_read_input_tokens``."""
    raw = raw if isinstance(raw, dict) else {}
    details = raw.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    prompt = int(raw.get("prompt_tokens") or 0)
    return {
        "input_tokens": max(prompt - cached, 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": int(raw.get("completion_tokens") or 0),
    }


def tool_use_id(call_id: Any) -> str:
    """A tool call id Anthropic accepts if the conversation moves to Claude later."""
    return _ID_CHARS.sub("_", str(call_id or "")) or "toolu_router"


def message(completion: JSON) -> JSON:
    """A ``chat.completion`` -> the Anthropic ``message`` a Messages client expects."""
    choices = completion.get("choices") or [{}]
    choice = choices[0]
    reply = choice.get("message") or {}
    content: list[JSON] = []
    text = reply.get("content")
    if isinstance(text, list):
        text = "".join(str(p.get("text") or "") for p in text if isinstance(p, dict))
    if text:
        content.append({"type": "text", "text": text})
    elif reply.get("refusal"):
        content.append({"type": "text", "text": str(reply["refusal"])})
    for call in reply.get("tool_calls") or ():
        content.append(tool_use(call))
    finish = choice.get("finish_reason")
    return {
        "id": str(completion.get("id") or ""),
        "type": "message",
        "role": "assistant",
        "model": str(completion.get("model") or ""),
        "content": content,
        "stop_reason": STOP_REASON.get(str(finish), "end_turn"),
        "stop_sequence": None,
        "usage": usage(completion.get("usage")),
    }


def tool_use(call: JSON) -> JSON:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"tool call arguments are not JSON: {arguments[:80]!r}") from exc
    return {
        "type": "tool_use",
        "id": tool_use_id(call.get("id")),
        "name": function.get("name"),
        "input": parsed if isinstance(parsed, dict) else {},
    }
