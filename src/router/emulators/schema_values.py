"""Build a deterministic JSON value that satisfies a (practical subset of) JSON Schema.

Used for tool-call arguments and ``json_schema`` response formats.  Objects get
their ``required`` properties (all properties when ``required`` is absent),
strings honour ``enum``/``const``/``minLength``/common formats, numbers honour
``minimum``/``maximum``, arrays ``minItems``; ``anyOf``/``oneOf`` take the first
non-null branch, ``allOf`` merges object branches and local ``$ref`` into
``$defs``/``definitions`` is followed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JsonSchema = Mapping[str, Any]

_MAX_DEPTH = 12
_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def example_value(schema: JsonSchema, root: JsonSchema | None = None, depth: int = 0) -> Any:
    """Return a value valid against ``schema`` (best effort beyond the subset above)."""
    root = schema if root is None else root
    if depth > _MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return example_value(_resolve(ref, root), root, depth + 1)
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            return example_value(_first_non_null(branches), root, depth + 1)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: dict[str, Any] = {}
        for branch in all_of:
            value = example_value(branch, root, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    return _by_type(schema, _schema_type(schema), root, depth)


def _by_type(schema: JsonSchema, kind: str, root: JsonSchema, depth: int) -> Any:
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        items = schema.get("items")
        count = max(1, int(schema.get("minItems", 1)))
        if not isinstance(items, Mapping):
            return ["example"] * count
        return [example_value(items, root, depth + 1) for _ in range(count)]
    if kind == "integer":
        return int(_number(schema, 1))
    if kind == "number":
        return float(_number(schema, 1.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema)


def _object(schema: JsonSchema, root: JsonSchema, depth: int) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    required = schema.get("required")
    names = list(required) if isinstance(required, list) else list(properties)
    return {
        name: example_value(properties.get(name, {}), root, depth + 1)
        for name in names
        if isinstance(name, str)
    }


def _schema_type(schema: JsonSchema) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        kind = non_null[0] if non_null else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _number(schema: JsonSchema, fallback: float) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value = fallback
    if isinstance(low, int | float):
        value = max(value, low + (1 if "exclusiveMinimum" in schema else 0))
    if isinstance(high, int | float):
        value = min(value, high - (1 if "exclusiveMaximum" in schema else 0))
    return value


def _string(schema: JsonSchema) -> str:
    fmt = schema.get("format")
    value = _FORMATS.get(fmt, "example") if isinstance(fmt, str) else "example"
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(value) < min_length:
        value = value + "x" * (min_length - len(value))
    return value


def _first_non_null(branches: list[Any]) -> JsonSchema:
    for branch in branches:
        if isinstance(branch, Mapping) and branch.get("type") != "null":
            return branch
    first = branches[0]
    return first if isinstance(first, Mapping) else {}


def _resolve(ref: str, root: JsonSchema) -> JsonSchema:
    if not ref.startswith("#/"):
        return {}
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, Mapping):
            return {}
        node = node.get(part.replace("~1", "/").replace("~0", "~"))
    return node if isinstance(node, Mapping) else {}
