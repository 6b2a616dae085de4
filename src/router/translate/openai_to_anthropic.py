"""OpenAI Chat Completions client -> Claude: the request out (``request``); the whole answer
back is ``openai_to_anthropic_answer`` (``completion``), the stream back
``openai_to_anthropic_stream``.

What maps where:

- ``system``/``developer`` messages -> the top-level ``system`` (in order; Anthropic has no
  system turn mid-conversation); ``tool`` messages -> ``tool_result`` blocks in a user turn;
  ``tool_calls`` -> ``tool_use`` blocks; consecutive turns of one role are merged;
- image parts: a ``data:`` URL -> a base64 source, an http(s) URL -> a URL source (never
  fetched by router); ``cache_control`` on a part, a message or a tool is passed through;
- ``tools``/``tool_choice`` (``required`` -> ``any``, a named function -> ``tool``),
  ``parallel_tool_calls: false`` -> ``disable_parallel_tool_use``;
- ``stop`` -> ``stop_sequences``; ``max_completion_tokens``/``max_tokens`` -> ``max_tokens``
  (required by Anthropic: else the deployment's output limit), never above that limit;
- ``response_format`` json_schema -> ``output_config.format`` (structured outputs);
- ``reasoning_effort`` -> extended ``thinking`` with a token budget per effort; thinking comes
  back as ``reasoning_content`` plus ``thinking_blocks`` (with signatures), which a client
  echoes on its next assistant turn so Claude can continue a tool loop;
- ``user``/``safety_identifier`` -> ``metadata.user_id``.

Refused by name (``InvalidRequest``), since Claude cannot honour them: see ``unsupported``.
Not forwarded because they do not change the answer: ``metadata``, ``service_tier``,
``prompt_cache_key``, ``prompt_cache_retention``, ``prompt_cache_options``, ``store: false``,
``stream_options`` (usage always comes back), a message's ``name``.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from router.errors import InvalidRequest

JSON = dict[str, Any]

FALLBACK_MAX_TOKENS = 4096  # Anthropic requires max_tokens; used when nothing else says
# Extended thinking budget per OpenAI reasoning effort (Anthropic's minimum is 1024).
THINKING_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768}
_DATA_URL = re.compile(r"^data:(?P<type>[\w/+.-]+);base64,(?P<data>.*)$", re.DOTALL)
_SYSTEM_ROLES = ("system", "developer")


def unsupported(body: JSON) -> list[str]:
    """The OpenAI parameters in ``body`` that Claude cannot honour, each one a difference in
    the answer or its shape a client would not expect; empty when Claude can serve it."""
    found = []
    if body.get("n") not in (None, 1):
        found.append("n")
    for name in ("logprobs", "logit_bias", "store"):
        if body.get(name):
            found.append(name)
    for name in ("top_logprobs", "seed", "audio", "prediction", "web_search_options", "moderation"):
        if body.get(name) is not None:
            found.append(name)
    for name in ("presence_penalty", "frequency_penalty"):
        if body.get(name) not in (None, 0):
            found.append(name)
    if body.get("verbosity") is not None:
        found.append("verbosity")
    if body.get("modalities") not in (None, ["text"]):
        found.append("modalities")
    if body.get("functions") is not None or body.get("function_call") is not None:
        found.append("functions" if body.get("functions") is not None else "function_call")
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and temperature > 1:
        found.append("temperature")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        found.append("response_format")
    return found


_WHY = {
    "n": "Claude returns one choice per request; send n=1 or several requests",
    "logprobs": "Claude does not return log probabilities",
    "top_logprobs": "Claude does not return log probabilities",
    "logit_bias": "Claude has no logit bias",
    "seed": "Claude has no seeded sampling, so the answer could not be reproducible",
    "presence_penalty": "Claude has no presence penalty",
    "frequency_penalty": "Claude has no frequency penalty",
    "store": "Claude does not store completions",
    "audio": "Claude does not produce audio",
    "modalities": "Claude produces text only",
    "prediction": "Claude has no predicted outputs",
    "web_search_options": "web search is not available through this translation",
    "moderation": "Claude has no moderation policy to apply to the request",
    "verbosity": "Claude has no verbosity setting",
    "functions": "legacy functions are not translated; send 'tools' instead",
    "function_call": "legacy functions are not translated; send 'tool_choice' instead",
    "temperature": "Claude's temperature ranges from 0 to 1",
    "response_format": "Claude has no JSON-object mode; send a json_schema response_format",
}


def refuse(param: str, detail: str | None = None) -> InvalidRequest:
    why = detail or _WHY.get(param, "Claude cannot honour it")
    return InvalidRequest(
        f"'{param}' cannot be sent to a Claude model: {why}",
        param=param,
        code="unsupported_parameter",
    )


def request(
    body: JSON, *, model: str, max_tokens_limit: int | None = None, stream: bool = False
) -> JSON:
    """An OpenAI chat request -> the Anthropic Messages request for ``model``."""
    problems = unsupported(body)
    if problems:
        raise refuse(problems[0])
    system, turns = _messages(body.get("messages") or [])
    out: JSON = {"model": model, "messages": turns}
    if system:
        out["system"] = system
    out["max_tokens"] = _max_tokens(body, max_tokens_limit)
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = body.get("tools")
    if tools:
        out["tools"] = [_tool(t, i) for i, t in enumerate(tools)]
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"), bool(tools))
    if choice is not None:
        out["tool_choice"] = choice
    user = body.get("user") or body.get("safety_identifier")
    if user:
        out["metadata"] = {"user_id": str(user)}
    schema = _json_schema(body.get("response_format"))
    if schema is not None:
        out["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    effort = body.get("reasoning_effort")
    if effort is not None and effort != "none":
        budget = THINKING_BUDGET.get(str(effort))
        if budget is None:
            raise refuse("reasoning_effort", f"unknown effort {effort!r}")
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        # Thinking counts toward max_tokens: the client's cap is for the answer it sees.
        total = out["max_tokens"] + budget
        out["max_tokens"] = min(total, max_tokens_limit) if max_tokens_limit else total
    if stream:
        out["stream"] = True
    return out


def _max_tokens(body: JSON, limit: int | None) -> int:
    asked = body.get("max_completion_tokens") or body.get("max_tokens")
    if asked is None:
        return limit or FALLBACK_MAX_TOKENS
    # A cap above the model's own output limit means the same as that limit.
    return min(int(asked), limit) if limit else int(asked)


def _json_schema(response_format: Any) -> Any:
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise refuse("response_format", "json_schema needs a 'schema' object")
    return schema


def _messages(messages: list[Any]) -> tuple[list[JSON], list[JSON]]:
    system: list[JSON] = []
    turns: list[JSON] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role in _SYSTEM_ROLES:
            system.extend(_text_blocks(message, f"messages[{i}]"))
            continue
        if role == "user":
            blocks = _user_blocks(message, i)
        elif role == "assistant":
            blocks = _assistant_blocks(message, i)
        elif role == "tool":
            blocks = [_tool_result(message, i)]
            role = "user"
        else:
            raise refuse(f"messages[{i}].role", f"role {role!r} has no Anthropic equivalent")
        if not blocks:
            continue  # an empty turn (e.g. an assistant's empty text): nothing to carry
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)  # Anthropic alternates roles
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _cached(block: JSON, source: JSON) -> JSON:
    if "cache_control" in source:
        block["cache_control"] = source["cache_control"]
    return block


def _text_blocks(message: JSON, where: str) -> list[JSON]:
    content = message.get("content")
    if isinstance(content, str):
        blocks = [{"type": "text", "text": content}] if content else []
    else:
        blocks = []
        for j, part in enumerate(content or ()):
            if part.get("type") != "text":
                raise refuse(f"{where}.content[{j}].type", "only text parts are allowed here")
            if part.get("text"):
                blocks.append(_cached({"type": "text", "text": part["text"]}, part))
    if blocks and "cache_control" in message:
        _cached(blocks[-1], message)
    return blocks


def _user_blocks(message: JSON, i: int) -> list[JSON]:
    content = message.get("content")
    if isinstance(content, str) or content is None:
        return _text_blocks(message, f"messages[{i}]")
    blocks: list[JSON] = []
    for j, part in enumerate(content):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append(_cached({"type": "text", "text": part["text"]}, part))
        elif kind == "image_url":
            blocks.append(_cached(_image(part, f"messages[{i}].content[{j}]"), part))
        else:
            raise refuse(f"messages[{i}].content[{j}].type", f"{kind!r} parts are not translated")
    if blocks and "cache_control" in message:
        _cached(blocks[-1], message)
    return blocks


def _image(part: JSON, where: str) -> JSON:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise refuse(f"{where}.image_url", "an image part needs a URL")
    found = _DATA_URL.match(url)
    if found:
        source = {"type": "base64", "media_type": found["type"], "data": found["data"]}
    elif url.startswith(("https://", "http://")):
        source = {"type": "url", "url": url}  # Anthropic fetches it; router never does
    else:
        raise refuse(f"{where}.image_url", "only data: and http(s) image URLs are supported")
    return {"type": "image", "source": source}


def _assistant_blocks(message: JSON, i: int) -> list[JSON]:
    blocks: list[JSON] = []
    for thought in message.get("thinking_blocks") or ():
        if isinstance(thought, dict) and thought.get("type") in ("thinking", "redacted_thinking"):
            blocks.append(thought)  # echoed as Claude sent it, signature and all
    content = message.get("content")
    if content:
        blocks.extend(_text_blocks(_only_text(message, i), f"messages[{i}]"))
    for j, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError as exc:
            where = f"messages[{i}].tool_calls[{j}].function.arguments"
            raise refuse(where, "tool call arguments must be a JSON object") from exc
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": arguments if isinstance(arguments, dict) else {},
            }
        )
    return blocks


def _only_text(message: JSON, i: int) -> JSON:
    """An assistant's content without refusal parts (a refusal is text to Anthropic)."""
    content = message.get("content")
    if not isinstance(content, list):
        return message
    parts = [
        {"type": "text", "text": p.get("text") or p.get("refusal") or "", **_cc(p)}
        for p in content
        if p.get("type") in ("text", "refusal")
    ]
    return {**message, "content": parts}


def _cc(part: JSON) -> JSON:
    return {"cache_control": part["cache_control"]} if "cache_control" in part else {}


def _tool_result(message: JSON, i: int) -> JSON:
    content = message.get("content")
    block: JSON = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    if isinstance(content, list):
        block["content"] = _text_blocks(message, f"messages[{i}]")
    else:
        block["content"] = content or ""
    return _cached(block, message)


def _tool(tool: JSON, i: int) -> JSON:
    if tool.get("type") != "function":
        raise refuse(f"tools[{i}].type", "only function tools are translated")
    function = tool.get("function") or {}
    out: JSON = {
        "name": function.get("name"),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    if function.get("strict"):
        out["strict"] = True
    return _cached(out, tool)


def _tool_choice(choice: Any, parallel: Any, has_tools: bool) -> JSON | None:
    if not has_tools:
        return None  # nothing to choose from; OpenAI's "none" means the same
    out: JSON
    if choice is None or choice == "auto":
        out = {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        out = {"type": "tool", "name": choice["function"].get("name")}
    else:
        raise refuse("tool_choice", f"unknown tool_choice {choice!r}")
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    elif choice is None:
        return None  # Anthropic's default is auto
    return out
