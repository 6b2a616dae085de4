"""OpenAI Chat Completions wire format: request parsing and response rendering.

Shared by the OpenAI, Azure OpenAI and Azure AI Foundry emulators, whose
bodies are the same; they differ only in routing, auth and error envelopes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from router.emulators.generation import Completion, Prompt, ToolMode, ToolSpec, choose_tool
from router.emulators.server import ChatCall, Problem
from router.emulators.sse import StreamScript, data_frame
from router.emulators.tokenizer import count_tokens, split_chars, split_pieces

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_FINISH = {"stop": "stop", "stop_sequence": "stop", "length": "length", "tool_use": "tool_calls"}
_FINGERPRINT = "fp_emulator"
_SAFE = {"filtered": False, "severity": "safe"}
_FILTERS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
_PROMPT_FILTERS = [{"prompt_index": 0, "content_filter_results": _FILTERS}]
_DONE = b"data: [DONE]\n\n"
_MALFORMED = b'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": "oops"\n\n'
_STREAM_ERROR = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}


def _bad(message: str, param: str | None = None, code: str | None = None) -> Problem:
    return Problem(400, message, param, code)


def _type_problem(param: str, expected: str, value: object) -> Problem:
    got = type(value).__name__
    return _bad(
        f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
        param,
        "invalid_type",
    )


def _text_of(content: object) -> tuple[str, int]:
    """Text of a message content plus the number of non-text parts (images etc.)."""
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        return "", 0
    texts: list[str] = []
    others = 0
    for part in content:
        if isinstance(part, Mapping) and part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif isinstance(part, Mapping):
            others += 1
    return " ".join(texts), others


def _count_message(message: Mapping[str, Any]) -> int:
    text, others = _text_of(message.get("content"))
    tokens = count_tokens(text) + others
    for call in message.get("tool_calls") or ():
        if isinstance(call, Mapping):
            function = call.get("function")
            if isinstance(function, Mapping):
                tokens += count_tokens(str(function.get("arguments", "")))
    return tokens


def _tools(body: Mapping[str, Any]) -> list[ToolSpec] | Problem:
    raw = body.get("tools")
    if raw is None:
        return []
    if not isinstance(raw, list):
        return _type_problem("tools", "an array", raw)
    specs: list[ToolSpec] = []
    for index, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            return _bad(
                f"Missing required parameter: 'tools[{index}].function'.",
                f"tools[{index}].function",
                "missing_required_parameter",
            )
        parameters = function.get("parameters")
        specs.append(
            ToolSpec(function["name"], parameters if isinstance(parameters, Mapping) else {})
        )
    return specs


def _tool_mode(body: Mapping[str, Any], tools: list[ToolSpec]) -> tuple[ToolMode, str | None]:
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        return "forced", name if isinstance(name, str) else None
    if choice in ("none", "required"):
        return choice, None
    return "auto", None


def _limits(body: Mapping[str, Any]) -> tuple[int | None, tuple[str, ...]] | Problem:
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        param = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            return _type_problem(param, "an integer", max_tokens)
        if max_tokens < 1:
            return _bad(
                f"Invalid '{param}': integer below minimum value. Expected a value >= 1, "
                f"but got {max_tokens} instead.",
                param,
                "integer_below_min_value",
            )
    stop = body.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stops = tuple(stop)
    else:
        return _type_problem("stop", "a string or array of strings", stop)
    return max_tokens, stops


def _response_format(body: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, bool]:
    fmt = body.get("response_format")
    if not isinstance(fmt, Mapping):
        return None, False
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        return (schema if isinstance(schema, Mapping) else {"type": "object"}), False
    return None, fmt.get("type") == "json_object"


def parse_chat(body: Any, model: str | None = None) -> ChatCall | Problem:
    """Validate an OpenAI chat body.  ``model`` overrides ``body["model"]`` (Azure)."""
    if not isinstance(body, Mapping):
        return _bad(
            "We could not parse the JSON body of your request. The body must be a JSON object."
        )
    if model is None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _bad("you must provide a model parameter", "model", None)
    messages = body.get("messages")
    if messages is None:
        return _bad(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    if not isinstance(messages, list):
        return _type_problem("messages", "an array", messages)
    if not messages:
        return _bad(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            "messages",
            "empty_array",
        )
    prompt_tokens = 0
    last_user_text = ""
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, Mapping) else None
        if role not in _ROLES:
            return _bad(
                f"Invalid value for 'messages[{index}].role'.",
                f"messages[{index}].role",
                "invalid_value",
            )
        assert isinstance(message, Mapping)
        prompt_tokens += _count_message(message)
        if role == "user":
            last_user_text = _text_of(message.get("content"))[0]
    tail_results: list[str] = []
    for message in reversed(messages):
        if message.get("role") not in ("tool", "function"):
            break
        tail_results.append(_text_of(message.get("content"))[0])
    tools = _tools(body)
    if isinstance(tools, Problem):
        return tools
    mode, forced = _tool_mode(body, tools)
    if mode == "forced" and not any(t.name == forced for t in tools):
        return _bad(
            f"Invalid value for 'tool_choice': no function named '{forced}' was "
            "specified in the 'tools' parameter.",
            "tool_choice",
            "invalid_value",
        )
    if mode == "required" and not tools:
        return _bad(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
            "'tools' are specified.",
            "tool_choice",
            None,
        )
    limits = _limits(body)
    if isinstance(limits, Problem):
        return limits
    json_schema, json_object = _response_format(body)
    last_is_user = messages[-1].get("role") == "user"
    options = body.get("stream_options")
    prompt = Prompt(
        model=model,
        last_user_text=last_user_text,
        tool_result=" ".join(reversed(tail_results)) if tail_results else None,
        prompt_tokens=prompt_tokens,
        tool_to_call=choose_tool(tools, mode, forced, last_is_user, last_user_text),
        json_schema=json_schema,
        json_object=json_object,
        max_tokens=limits[0],
        stop=limits[1],
    )
    return ChatCall(
        prompt=prompt,
        stream=body.get("stream") is True,
        model_label=model,
        include_usage=isinstance(options, Mapping) and options.get("include_usage") is True,
    )


def _usage(completion: Completion) -> dict[str, Any]:
    return {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": completion.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def render_completion(
    call: ChatCall, completion: Completion, response_id: str, azure: bool = False
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": completion.text,
        "refusal": None,
        "annotations": [],
    }
    if completion.tool_call is not None:
        tool = completion.tool_call
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": tool.id,
                "type": "function",
                "function": {"name": tool.name, "arguments": tool.arguments},
            }
        ]
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": _FINISH[completion.finish],
    }
    result: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model_label,
        "choices": [choice],
        "usage": _usage(completion),
        "system_fingerprint": _FINGERPRINT,
    }
    if azure:
        # Azure adds content-filter annotations to every response.
        choice["content_filter_results"] = _FILTERS
        result["prompt_filter_results"] = _PROMPT_FILTERS
    else:
        result["service_tier"] = "default"
    return result


def render_stream(
    call: ChatCall,
    completion: Completion,
    response_id: str,
    chunk_count: int | None,
    azure: bool = False,
) -> StreamScript:
    created = int(time.time())
    with_usage = call.include_usage

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": call.model_label,
            "system_fingerprint": _FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if with_usage:
            payload["usage"] = None
        return data_frame(payload)

    preamble: list[bytes] = []
    if azure:
        # Azure's first frame carries only prompt filter results and no choices.
        preamble.append(
            data_frame(
                {
                    "choices": [],
                    "created": 0,
                    "id": "",
                    "model": "",
                    "object": "",
                    "prompt_filter_results": _PROMPT_FILTERS,
                }
            )
        )
    tool = completion.tool_call
    if tool is None:
        preamble.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        chunks = [chunk({"content": piece}) for piece in split_pieces(completion.text, chunk_count)]
    else:
        opening = {
            "index": 0,
            "id": tool.id,
            "type": "function",
            "function": {"name": tool.name, "arguments": ""},
        }
        preamble.append(
            chunk({"role": "assistant", "content": None, "refusal": None, "tool_calls": [opening]})
        )
        chunks = [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            for piece in split_chars(tool.arguments, chunk_count)
        ]
    epilogue = [chunk({}, _FINISH[completion.finish])]
    if with_usage:
        epilogue.append(
            data_frame(
                {
                    "id": response_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": call.model_label,
                    "system_fingerprint": _FINGERPRINT,
                    "choices": [],
                    "usage": _usage(completion),
                }
            )
        )
    epilogue.append(_DONE)
    return StreamScript(preamble, chunks, epilogue, data_frame(_STREAM_ERROR), _MALFORMED)
