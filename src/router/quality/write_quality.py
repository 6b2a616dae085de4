"""``router eval --write-quality FILE``: measured per-task quality into a catalog file.

For each model of the data set, and each task class router's classifier assigns, the mean
outcome score over the evaluated prompts of that class replaces the catalog's number, with
its source written beside it as a YAML comment (data, split, prompt count, model stand-in).
A task class with fewer than ``MIN_PROMPTS`` prompts keeps its number and gets a
``PLACEHOLDER`` mark instead: no evidence, no change. The edit is textual (only the model's
``quality`` and ``quality_source`` entries are rewritten) so the file's other comments stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import yaml

from router.config.schema import TASK_CLASSES
from router.quality.outcomes import Dataset
from router.quality.simulate import Case

MIN_PROMPTS = 30


def measured(cases: Sequence[Case], model: str) -> dict[str, tuple[float, int]]:
    """Task class -> (mean score of ``model``, prompts), by router's own classifier."""
    sums: dict[str, list[float]] = {}
    for c in cases:
        sums.setdefault(c.features.task, []).append(c.outcome.scores[model])
    return {task: (sum(v) / len(v), len(v)) for task, v in sums.items()}


def write_measured(path: Path, cases: Sequence[Case], dataset: Dataset, out: TextIO) -> None:
    text = path.read_text(encoding="utf-8")
    for model in dataset.models:
        text = rewrite_model(text, model, measured(cases, model), dataset)
    path.write_text(text, encoding="utf-8")
    print(f"wrote measured quality of {', '.join(dataset.models)} into {path}", file=out)


def rewrite_model(
    text: str, model: str, scores: dict[str, tuple[float, int]], dataset: Dataset
) -> str:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    entry = _child(_child(root, "models"), model) if root is not None else None
    if not isinstance(entry, yaml.MappingNode):
        raise ValueError(f"model {model!r} is not in this catalog file")
    lines = text.splitlines(keepends=True)
    keys = {str(k.value): (k, v) for k, v in entry.value}
    indent = " " * entry.value[0][0].start_mark.column
    old = _old_quality(keys)
    stand_in = dataset.mapping_note()
    block = [f"{indent}quality:\n"]
    for task in TASK_CLASSES:
        if task in scores and scores[task][1] >= MIN_PROMPTS:
            mean, n = scores[task]
            note = f"measured: router eval, {dataset.name}, {n} prompts classified {task}"
            block.append(f"{indent}  {task}: {mean:.3f}  # {note}; {stand_in}\n")
        elif task in old:
            n = scores.get(task, (0.0, 0))[1]
            block.append(
                f"{indent}  {task}: {old[task]:g}  # PLACEHOLDER: no evidence "
                f"({n} prompts classified {task} in {dataset.name})\n"
            )
    block.append(
        f"{indent}quality_source: >-\n{indent}  Per task, beside each number. Measured numbers "
        f"come from `router eval --write-quality` (mean outcome score, 0..1, on the prompts "
        f"router classifies as that task).\n"
    )
    spans = sorted(
        (k.start_mark.line, _end_line(v, lines))
        for name, (k, v) in keys.items()
        if name in ("quality", "quality_source")
    )
    if not spans:  # no quality yet: add it after the model's first line
        at = entry.start_mark.line
        return "".join(lines[:at] + block + lines[at:])
    first, _ = spans[0]
    for start, end in reversed(spans[1:]):
        del lines[start:end]
    _, end = spans[0]
    lines[first:end] = block
    return "".join(lines)


def _old_quality(keys: dict[str, tuple[yaml.Node, yaml.Node]]) -> dict[str, float]:
    if "quality" not in keys or not isinstance(keys["quality"][1], yaml.MappingNode):
        return {}
    return {str(k.value): float(v.value) for k, v in keys["quality"][1].value}


def _child(node: yaml.Node | None, name: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if k.value == name:
            found: yaml.Node = v
            return found
    return None


def _end_line(value: yaml.Node, lines: list[str]) -> int:
    """The line after ``value`` ends (a block scalar's end mark is the next key's line)."""
    end = value.end_mark.line
    if value.end_mark.column > 0 or end == value.start_mark.line:
        end += 1
    # trailing comment lines of a flow mapping stay with the next key
    return min(end, len(lines))
