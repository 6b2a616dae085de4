"""YAML under ``policies/`` -> the raw sections, each entry with its source.

A directory is read as all of its ``*.yaml`` / ``*.yml`` files (not recursively), merged by
section; a name defined twice is an error naming both places. Sections are validated with the
pydantic models of ``schema`` (or the owner's own): every problem is collected (not just the
first) and reported as ``file:line:column: message`` with a hint.

Sections: ``server``, ``auth``, ``models`` (the catalog), ``policies``, ``tests`` (policy test
cases, run by ``router check``), ``request_log`` (docs/requestlog.md). Sections other than the
catalog are parsed by their owners (``policy``, ``tenancy``) through ``Entry`` objects that
keep their source map. There is no top-level ``cache`` section: caching is set per policy
(``policies.<name>.cache``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from router.config.yamlsrc import ConfigError, ConfigIssue, PathKey, SourceMap, load

SECTIONS = ("server", "auth", "models", "policies", "tests", "request_log")
# Sections people reach for that live elsewhere: the hint says where.
_MOVED = {"cache": "the response cache is set per policy: policies.<name>.cache (mode, ttl_s)"}
_NAMED_SECTIONS = ("models", "policies")  # mappings of name -> entry, merged across files


@dataclass(frozen=True, slots=True)
class Entry:
    """One named entry of a section, with where it came from (for owners' own validation)."""

    name: str
    data: Any
    source: SourceMap
    path: PathKey

    def locate(self, sub: PathKey = ()) -> Any:
        return self.source.locate((*self.path, *sub))


@dataclass(frozen=True, slots=True)
class RawConfig:
    """Merged, still-unvalidated sections of all files, each entry with its source."""

    files: tuple[str, ...]
    singles: dict[str, Entry] = field(default_factory=dict)  # server, auth
    named: dict[str, dict[str, Entry]] = field(default_factory=dict)  # models, policies
    tests: tuple[Entry, ...] = ()


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], entry: Entry, issues: list[ConfigIssue]) -> M | None:
    """Validate ``entry`` as ``model``; on failure append located issues and return None."""
    try:
        return model.model_validate(entry.data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
            issues.append(
                ConfigIssue(entry.locate(loc), _message(err, loc), _hint(model, err, loc))
            )
        return None


def _message(err: Any, loc: PathKey) -> str:
    where = ".".join(str(p) for p in loc)
    if err["type"] == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    if err["type"] == "missing":
        return f"missing required key {where!r}"
    prefix = f"{where}: " if where else ""
    return prefix + str(err["msg"]).removeprefix("Value error, ")


def _hint(model: type[BaseModel], err: Any, loc: PathKey) -> str | None:
    if err["type"] != "extra_forbidden":
        return None
    owner: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fld = getattr(owner, "model_fields", {}).get(part)
        if fld is None:
            return None
        owner = _inner_model(fld.annotation)
    fields = getattr(owner, "model_fields", None)
    if not fields:
        return None
    close = _closest(str(loc[-1]), fields)
    allowed = ", ".join(fields)
    return f"did you mean {close!r}? allowed: {allowed}" if close else f"allowed: {allowed}"


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def _closest(word: str, options: Iterable[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return found[0] if found else None


def config_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


def read_raw(path: Path) -> RawConfig:
    """Read and merge every file; collects structural issues across all files."""
    files = config_files(path)
    issues: list[ConfigIssue] = []
    if not files:
        from router.config.yamlsrc import Position

        raise ConfigError([ConfigIssue(Position(str(path), 1, 1), "no *.yaml files found")])
    singles: dict[str, Entry] = {}
    named: dict[str, dict[str, Entry]] = {s: {} for s in _NAMED_SECTIONS}
    tests: list[Entry] = []
    for file in files:
        try:
            data, source = load(file)
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        if data is None:
            continue
        if not isinstance(data, dict):
            issues.append(ConfigIssue(source.locate(()), "a config file must be a mapping"))
            continue
        for section, value in data.items():
            _merge_section(section, value, source, singles, named, tests, issues)
    if issues:
        raise ConfigError(issues)
    return RawConfig(tuple(str(f) for f in files), singles, named, tuple(tests))


def _merge_section(
    section: str,
    value: Any,
    source: SourceMap,
    singles: dict[str, Entry],
    named: dict[str, dict[str, Entry]],
    tests: list[Entry],
    issues: list[ConfigIssue],
) -> None:
    key_pos = source.locate((section,))
    if section not in SECTIONS:
        close = _closest(section, SECTIONS)
        hint = f"did you mean {close!r}?" if close else f"sections: {', '.join(SECTIONS)}"
        hint = _MOVED.get(section, hint)
        issues.append(ConfigIssue(key_pos, f"unknown section {section!r}", hint))
    elif section == "tests":
        if not isinstance(value, list):
            issues.append(ConfigIssue(key_pos, "'tests' must be a list of test cases"))
            return
        tests.extend(Entry(str(i), v, source, ("tests", i)) for i, v in enumerate(value))
    elif section in _NAMED_SECTIONS:
        if not isinstance(value, dict):
            issues.append(ConfigIssue(key_pos, f"'{section}' must map names to entries"))
            return
        for name, item in value.items():
            if name in named[section]:
                first = named[section][name].locate()
                msg = f"{section[:-1]} {name!r} is defined twice (first at {first})"
                issues.append(ConfigIssue(source.locate((section, name)), msg))
                continue
            named[section][name] = Entry(name, item, source, (section, name))
    elif section in singles:
        first = singles[section].locate()
        issues.append(ConfigIssue(key_pos, f"section {section!r} appears twice (first at {first})"))
    else:
        singles[section] = Entry(section, value if value is not None else {}, source, (section,))


def validate_single(
    raw: RawConfig, section: str, model: type[M], issues: list[ConfigIssue]
) -> M | None:
    entry = raw.singles.get(section)
    if entry is None:
        return model.model_validate({})
    return validate(model, entry, issues)


def collect(
    entries: dict[str, Entry], model: type[M], issues: list[ConfigIssue]
) -> dict[str, tuple[M, Entry]]:
    out: dict[str, tuple[M, Entry]] = {}
    for name, entry in entries.items():
        spec = validate(model, entry, issues)
        if spec is not None:
            out[name] = (spec, entry)
    return out
