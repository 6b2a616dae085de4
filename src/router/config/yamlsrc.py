"""YAML with positions: load plain data and remember where every value came from.

Config validation happens on plain data (pydantic), but users need ``file:line:column`` in
every message. So we compose the YAML node tree once, build the plain value, and keep a map
from the value's path (``("models", "gpt-4o", "deployments", 0, "provider")``) to its mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a config file, printed as ``file:line:column: message``."""

    position: Position
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.position}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class ConfigError(Exception):
    """A config that must not be loaded; carries every issue found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


@dataclass(slots=True)
class SourceMap:
    """Where each value of a loaded document came from."""

    file: str
    marks: dict[PathKey, Position] = field(default_factory=dict)
    key_marks: dict[PathKey, Position] = field(default_factory=dict)

    def locate(self, path: PathKey) -> Position:
        """The closest known position for ``path``: the value itself, else its nearest parent
        (an unknown key is reported at the key, a missing key at the mapping that lacks it)."""
        for end in range(len(path), -1, -1):
            sub = path[:end]
            if end == len(path) and sub in self.key_marks:
                return self.key_marks[sub]
            if sub in self.marks:
                return self.marks[sub]
        return Position(self.file, 1, 1)


def load(path: Path) -> tuple[Any, SourceMap]:
    """Parse one YAML file into plain data and its source map; syntax errors become issues."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(Position(name, 1, 1), f"cannot read: {exc}")]) from exc
    return loads(text, name)


def loads(text: str, name: str = "<string>") -> tuple[Any, SourceMap]:
    source = SourceMap(name)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(name, mark.line + 1, mark.column + 1) if mark else Position(name, 1, 1)
        raise ConfigError([ConfigIssue(pos, f"YAML syntax: {exc.problem or exc}")]) from exc
    if node is None:
        return None, source
    return _build(node, (), source), source


def _mark(node: yaml.Node, file: str) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _build(node: yaml.Node, path: PathKey, source: SourceMap) -> Any:
    source.marks[path] = _mark(node, source.file)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(_scalar(key_node))
            child = (*path, key)
            if key in out:
                issue = ConfigIssue(_mark(key_node, source.file), f"duplicate key {key!r}")
                raise ConfigError([issue])
            source.key_marks[child] = _mark(key_node, source.file)
            out[key] = _build(value_node, child, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), source) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    # Resolve the scalar with the safe constructor so `1.5`, `true`, `null` get their types.
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()
