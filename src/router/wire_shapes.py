"""Structural checks of a chat request body, before anything is built from it.

``ChatRequest`` types the top level; the nested shapes that adapters take apart (tool
definitions, content parts, ``response_format``, assistant ``tool_calls``) are free-form there,
because providers add their own keys. A wrong shape inside them (``"function": 5``, a content
part ``{}``, ``"json_schema": 5``) would otherwise surface as an exception deep inside an
adapter, and look like the upstream's failure. Here it is a 400 that names the field.

Also here: ``MAX_DEPTH``. JSON nested deeper than that anywhere in the body is refused, since
deep nesting breaks serialisers and recursive code long before it means anything.

Keys a provider adds are left alone; only what a known shape requires is checked.
"""

from __future__ import annotations

from typing import Any

from router.errors import InvalidRequest

MAX_DEPTH = 64
_TOOL_CHOICES = frozenset({"none", "auto", "required"})
_FORMATS = frozenset({"text", "json_object", "json_schema"})
# Content part type -> the key that must hold its payload, and that payload's JSON type.
_PARTS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "text": ("text", str),
    "image_url": ("image_url", (dict, str)),
    "input_audio": ("input_audio", dict),
    "file": ("file", dict),
    "refusal": ("refusal", str),
}


def check_depth(body: Any, raw: bytes | None = None) -> None:
    """400 when containers nest deeper than ``MAX_DEPTH`` (iterative: no recursion to blow).
    ``raw``, the body's JSON text, spares the walk when it opens no more than ``MAX_DEPTH``
    objects and arrays in all (brackets inside strings count too: it only over-counts), as
    nesting that deep needs at least that many."""
    if raw is not None and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        return
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidRequest(
                f"the request nests JSON deeper than {MAX_DEPTH} levels",
                code="nesting_too_deep",
            )
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def check_shapes(body: dict[str, Any]) -> None:
    """400 naming the first field whose shape an adapter could not use."""
    for i, message in enumerate(body.get("messages") or ()):
        if isinstance(message, dict):
            _message(message, f"messages.{i}")
    for i, tool in enumerate(_list(body, "tools")):
        _tool(tool, f"tools.{i}")
    for i, fn in enumerate(_list(body, "functions")):
        _function(fn, f"functions.{i}")
    _tool_choice(body.get("tool_choice"))
    _response_format(body.get("response_format"))


def _message(message: dict[str, Any], at: str) -> None:
    content = message.get("content")
    if isinstance(content, list):
        for j, part in enumerate(content):
            _part(part, f"{at}.content.{j}")
    for j, call in enumerate(_list(message, "tool_calls", at)):
        where = f"{at}.tool_calls.{j}"
        _require(call, dict, where, "an object")
        fn = _require(call.get("function"), dict, f"{where}.function", "an object")
        _require(fn.get("name"), str, f"{where}.function.name", "a string")
        _require(fn.get("arguments"), str, f"{where}.function.arguments", "a string of JSON")


def _part(part: Any, at: str) -> None:
    _require(part, dict, at, "a content part object")
    kind = _require(part.get("type"), str, f"{at}.type", "a content part type")
    known = _PARTS.get(kind)
    if known is None:
        return  # a provider's own part type: its adapter decides
    key, expected = known
    payload = part.get(key)
    if not isinstance(payload, expected):
        raise _bad(f"{at}.{key}", f"a '{kind}' part needs '{key}'")
    if kind == "image_url":
        url = payload.get("url") if isinstance(payload, dict) else payload
        _require(url, str, f"{at}.image_url.url", "a URL or data: URI string")


def _tool(tool: Any, at: str) -> None:
    _require(tool, dict, at, "a tool object")
    kind = _require(tool.get("type"), str, f"{at}.type", "a tool type such as 'function'")
    if kind == "function":
        _function(tool.get("function"), f"{at}.function")
    elif kind == "custom":
        custom = _require(tool.get("custom"), dict, f"{at}.custom", "an object")
        _require(custom.get("name"), str, f"{at}.custom.name", "a string")


def _function(fn: Any, at: str) -> None:
    _require(fn, dict, at, "a function object with a name")
    name = _require(fn.get("name"), str, f"{at}.name", "a non-empty string")
    if not name:
        raise _bad(f"{at}.name", "a non-empty string")
    _optional(fn, "description", str, at, "a string")
    _optional(fn, "parameters", dict, at, "a JSON Schema object")
    _optional(fn, "strict", bool, at, "a boolean")


def _tool_choice(choice: Any) -> None:
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICES:
            raise _bad("tool_choice", f"one of {', '.join(sorted(_TOOL_CHOICES))}, or an object")
        return
    _require(choice, dict, "tool_choice", "a string or an object")
    kind = _require(choice.get("type"), str, "tool_choice.type", "a string")
    if kind in ("function", "custom"):
        named = _require(choice.get(kind), dict, f"tool_choice.{kind}", "an object with a name")
        _require(named.get("name"), str, f"tool_choice.{kind}.name", "a string")


def _response_format(fmt: Any) -> None:
    if fmt is None:
        return
    _require(fmt, dict, "response_format", "an object")
    kind = fmt.get("type")
    if kind not in _FORMATS:
        raise _bad("response_format.type", f"one of {', '.join(sorted(_FORMATS))}")
    if kind == "json_schema":
        schema = _require(fmt.get("json_schema"), dict, "response_format.json_schema", "an object")
        _require(schema.get("name"), str, "response_format.json_schema.name", "a string")
        _optional(schema, "schema", dict, "response_format.json_schema", "a JSON Schema object")
        _optional(schema, "strict", bool, "response_format.json_schema", "a boolean")
        _optional(schema, "description", str, "response_format.json_schema", "a string")


def _list(owner: dict[str, Any], key: str, at: str = "") -> list[Any]:
    value = owner.get(key)
    if value is None:
        return []
    where = f"{at}.{key}" if at else key
    return _require(value, list, where, "an array")  # type: ignore[no-any-return]


def _require(value: Any, kind: type, at: str, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _bad(at, what)
    return value


def _optional(owner: dict[str, Any], key: str, kind: type, at: str, what: str) -> None:
    value = owner.get(key)
    if value is not None and not isinstance(value, kind):
        raise _bad(f"{at}.{key}", what)


def _bad(at: str, what: str) -> InvalidRequest:
    message = f"Invalid value for '{at}': expected {what}"
    return InvalidRequest(message, param=at, code="invalid_value")
