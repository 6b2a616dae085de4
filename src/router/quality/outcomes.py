"""Labelled outcome data: a prompt and, per model, how good that model's answer was.

One ``Outcome`` per prompt, already mapped onto router's logical model names (the mapping is
part of the ``Dataset`` and printed in every report, because the numbers are only as true as
the claim that, say, GPT-4 behaves like gpt-4o). Scores are in [0, 1]: correctness is 0 or 1,
a 1-10 judge score is divided by 10.

Besides the RouteLLM adapter (``routellm``), any data set can be given as JSONL, one object a
line::

    {"id": "q1", "benchmark": "mine", "group": "billing", "category": "general",
     "prompt": "...", "scores": {"gpt-4o": 1, "mai-code-1-flash": 0},
     "answer_tokens": {"gpt-4o": 120, "mai-code-1-flash": 95}}

with a first line ``{"strong": "gpt-4o", "weak": "mai-code-1-flash"}`` naming the two models.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

CHARS_PER_TOKEN = 4  # the same rough estimate router's classifier uses for prompts


@dataclass(frozen=True, slots=True)
class Outcome:
    """One labelled prompt."""

    id: str
    benchmark: str  # mmlu | gsm8k | mt_bench | whatever a JSONL file says
    group: str  # MMLU subject, MT-Bench category, ... (held out whole where it matters)
    prompt: str  # the last user turn
    scores: Mapping[str, float]  # router model -> quality of its answer, in [0, 1]
    answer_tokens: Mapping[str, int]  # router model -> length of its answer
    history: tuple[str, ...] = ()  # earlier user turns of the same conversation
    category: str | None = None  # a labelled task category, when the data has one

    def cheap_is_enough(self, strong: str, weak: str) -> bool:
        """The difficulty signal's label: the weak model's answer is at least as good."""
        return self.scores[weak] >= self.scores[strong]


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    strong: str  # router model standing in for the data's strong model
    weak: str  # ... and for its weak one
    outcomes: tuple[Outcome, ...]
    mapping: Mapping[str, str] = field(default_factory=dict)  # data's model -> router model
    dropped: Mapping[str, int] = field(default_factory=dict)  # reason -> prompts dropped

    @property
    def models(self) -> tuple[str, str]:
        return (self.strong, self.weak)

    def mapping_note(self) -> str:
        pairs = ", ".join(f"{src} -> {dst}" for src, dst in self.mapping.items())
        return f"model mapping: {pairs or f'strong {self.strong}, weak {self.weak}'}"

    def subset(self, outcomes: Iterable[Outcome], name: str | None = None) -> Dataset:
        return Dataset(
            name or self.name,
            self.strong,
            self.weak,
            tuple(outcomes),
            self.mapping,
            self.dropped,
        )


def tokens_of(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def read_jsonl(path: Path) -> Dataset:
    """Our own format (module docstring)."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{path}: empty data set")
    head = json.loads(lines[0])
    strong, weak = str(head["strong"]), str(head["weak"])
    outcomes = []
    for n, line in enumerate(lines[1:], start=2):
        row = json.loads(line)
        scores = {str(k): float(v) for k, v in row["scores"].items()}
        if strong not in scores or weak not in scores:
            raise ValueError(f"{path}:{n}: scores must name both {strong!r} and {weak!r}")
        prompt = str(row["prompt"])
        default_tokens = {m: int(row.get("default_answer_tokens", 200)) for m in scores}
        answers = {str(k): int(v) for k, v in (row.get("answer_tokens") or {}).items()}
        outcomes.append(
            Outcome(
                id=str(row.get("id", n)),
                benchmark=str(row.get("benchmark", path.stem)),
                group=str(row.get("group", row.get("benchmark", path.stem))),
                prompt=prompt,
                scores=scores,
                answer_tokens={**default_tokens, **answers},
                history=tuple(row.get("history") or ()),
                category=row.get("category"),
            )
        )
    return Dataset(path.stem, strong, weak, tuple(outcomes))


def write_jsonl(dataset: Dataset, path: Path) -> None:
    rows = [json.dumps({"strong": dataset.strong, "weak": dataset.weak})]
    for o in dataset.outcomes:
        rows.append(
            json.dumps(
                {
                    "id": o.id,
                    "benchmark": o.benchmark,
                    "group": o.group,
                    "category": o.category,
                    "prompt": o.prompt,
                    "history": list(o.history),
                    "scores": dict(o.scores),
                    "answer_tokens": dict(o.answer_tokens),
                }
            )
        )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
