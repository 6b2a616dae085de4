"""Adapter for RouteLLM's published evaluation outcomes (``shared/data/routellm``).

Layout read (see that directory's README): ``mmlu/mmlu_<subject>.csv`` and
``gsm8k/gsm8k_responses.csv`` with a True/False column per model (GSM8K also with each
model's answer text), ``mt_bench/judgements.jsonl`` (GPT-4 judge scores 1-10 per model and
turn) with ``mt_bench/question.jsonl`` (the questions and their category), and per benchmark
``contaminated_prompts.jsonl``: prompts that overlap RouteLLM's router training data, which are
dropped here.

The data's two models are mapped onto router's: GPT-4 (``gpt-4-1106-preview``) -> a premium
model (``gpt-4o`` by default), Mixtral-8x7B -> the cheap one (``mai-code-1-flash``). That is a
stand-in, not a measurement of those models, and every report says so.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from pathlib import Path

from router.quality.outcomes import Dataset, Outcome, tokens_of

STRONG_SOURCE = "gpt-4-1106-preview"
WEAK_SOURCE = "mistralai/Mixtral-8x7B-Instruct-v0.1"
DEFAULT_STRONG = "gpt-4o"
DEFAULT_WEAK = "mai-code-1-flash"
BENCHMARKS = ("mmlu", "gsm8k", "mt_bench")
# MMLU answers are a letter; the files keep no answer text, so assume a short answer with a
# few tokens of framing ("The answer is B.").
MMLU_ANSWER_TOKENS = 8
_ANSWER_RE = re.compile(
    r"\[The Start of Assistant's Answer\]\n(.*?)\n\[The End of Assistant's Answer\]", re.S
)
_TURN_RE = re.compile(r"### Assistant A:\n(.*?)(?=\n\n### User:|<\|The End of Assistant)", re.S)


def is_routellm(path: Path) -> bool:
    return path.is_dir() and any((path / b).is_dir() for b in BENCHMARKS)


def load(
    root: Path,
    strong: str = DEFAULT_STRONG,
    weak: str = DEFAULT_WEAK,
    benchmarks: tuple[str, ...] = BENCHMARKS,
) -> Dataset:
    """Every benchmark present under ``root``, contaminated prompts dropped."""
    names = {STRONG_SOURCE: strong, WEAK_SOURCE: weak}
    outcomes: list[Outcome] = []
    dropped: Counter[str] = Counter()
    readers = {"mmlu": _mmlu, "gsm8k": _gsm8k, "mt_bench": _mt_bench}
    for bench in benchmarks:
        folder = root / bench
        if not folder.is_dir():
            continue
        banned = _contaminated(folder)
        for outcome in readers[bench](folder, names):
            if _norm(outcome.prompt) in banned or (
                outcome.history and _norm(outcome.history[0]) in banned
            ):
                dropped[f"{bench}: contaminated"] += 1
                continue
            outcomes.append(outcome)
    if not outcomes:
        raise ValueError(f"{root}: no RouteLLM outcome files found ({', '.join(benchmarks)})")
    return Dataset("routellm", strong, weak, tuple(outcomes), names, dict(dropped))


def _norm(text: str) -> str:
    return " ".join(text.split())


def _contaminated(folder: Path) -> frozenset[str]:
    path = folder / "contaminated_prompts.jsonl"
    if not path.exists():
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(_norm(json.loads(ln)["eval_prompt"]) for ln in lines if ln.strip())


def _bool(value: str) -> float:
    if value not in ("True", "False"):
        raise ValueError(f"expected True or False, got {value!r}")
    return 1.0 if value == "True" else 0.0


def _rows(path: Path) -> list[dict[str, str]]:
    # MMLU's professional_law rows run past csv's default 128 KiB field limit.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _mmlu(folder: Path, names: dict[str, str]) -> list[Outcome]:
    out = []
    for path in sorted(folder.glob("mmlu_*.csv")):
        subject = path.stem.removeprefix("mmlu_")
        for i, row in enumerate(_rows(path)):
            out.append(
                Outcome(
                    id=f"mmlu/{subject}/{i}",
                    benchmark="mmlu",
                    group=subject,
                    prompt=row["prompt"],
                    scores={names[m]: _bool(row[m]) for m in names},
                    answer_tokens={names[m]: MMLU_ANSWER_TOKENS for m in names},
                )
            )
    return out


def _gsm8k(folder: Path, names: dict[str, str]) -> list[Outcome]:
    path = folder / "gsm8k_responses.csv"
    if not path.exists():
        return []
    return [
        Outcome(
            id=f"gsm8k/{i}",
            benchmark="gsm8k",
            group="gsm8k",
            prompt=row["prompt"],
            scores={names[m]: _bool(row[m]) for m in names},
            answer_tokens={names[m]: tokens_of(row.get(f"{m}_response") or "") for m in names},
        )
        for i, row in enumerate(_rows(path))
    ]


def _mt_bench(folder: Path, names: dict[str, str]) -> list[Outcome]:
    """One outcome per question and turn; turn 2 carries turn 1 as history."""
    questions = {}
    for line in (folder / "question.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            questions[int(q["question_id"])] = q
    scores: dict[tuple[int, int], dict[str, float]] = {}
    answers: dict[tuple[int, int], dict[str, int]] = {}
    for line in (folder / "judgements.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        j = json.loads(line)
        if j["model"] not in names or float(j["score"]) < 0:  # -1: the judge gave no score
            continue
        key = (int(j["question_id"]), int(j["turn"]))
        scores.setdefault(key, {})[names[j["model"]]] = float(j["score"]) / 10.0
        answers.setdefault(key, {})[names[j["model"]]] = _answer_tokens(j["user_prompt"])
    out = []
    for (qid, turn), by_model in sorted(scores.items()):
        if len(by_model) < len(names) or qid not in questions:
            continue  # a judgement missing for one model: nothing to compare
        q = questions[qid]
        turns = [str(t) for t in q["turns"]]
        out.append(
            Outcome(
                id=f"mt_bench/{qid}/{turn}",
                benchmark="mt_bench",
                group=str(q["category"]),
                prompt=turns[turn - 1],
                scores=by_model,
                answer_tokens=answers[(qid, turn)],
                history=tuple(turns[: turn - 1]),
                category=str(q["category"]),
            )
        )
    return out


def _answer_tokens(judge_prompt: str) -> int:
    """The judged answer's length: turn 1 is between answer markers; in the multi-turn form
    the last ``### Assistant A:`` section is the judged turn."""
    found = _ANSWER_RE.search(judge_prompt)
    if found:
        return tokens_of(found.group(1))
    turns = _TURN_RE.findall(judge_prompt)
    return tokens_of(turns[-1]) if turns else 300
