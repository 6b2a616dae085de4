"""A small RouteLLM-shaped data directory, written per test, whose outcomes follow a rule the
difficulty signal can learn: the cheap model fails exactly the prompts that say "integral"."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
SUBJECTS = ("astronomy", "calculus", "history", "law", "music", "nutrition", "physics", "poetry")
CONTAMINATED_MMLU = "Which planet is closest to the sun number 0?\nA. x\nB. y\nAnswer:"


def mmlu_prompt(subject: str, i: int) -> str:
    hard = "Evaluate the integral of x dx" if i % 3 == 0 else "Name the usual example"
    return f"{hard} in {subject}, item {i}?\nA. one\nB. two\nAnswer:"


def write_routellm(root: Path) -> Path:
    (root / "mmlu").mkdir(parents=True)
    (root / "gsm8k").mkdir()
    (root / "mt_bench").mkdir()
    for subject in SUBJECTS:
        with (root / "mmlu" / f"mmlu_{subject}.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["prompt", WEAK, STRONG])
            for i in range(30):
                prompt = mmlu_prompt(subject, i)
                w.writerow([prompt, "False" if "integral" in prompt else "True", "True"])
    with (root / "mmlu" / "mmlu_astronomy.csv").open("a", newline="") as fh:
        csv.writer(fh).writerow([CONTAMINATED_MMLU, "True", "True"])
    (root / "mmlu" / "contaminated_prompts.jsonl").write_text(
        json.dumps({"train_prompt": "x", "eval_prompt": CONTAMINATED_MMLU, "eval_idx": 1}) + "\n"
    )
    with (root / "gsm8k" / "gsm8k_responses.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt", WEAK, STRONG, f"{WEAK}_response", f"{STRONG}_response"])
        for i in range(40):
            hard = i % 2 == 0
            prompt = f"{'Compute the integral' if hard else 'Add'} {i} and {i + 1}. How many?"
            w.writerow([prompt, str(not hard), "True", "x" * 240, "y" * 200])
    (root / "gsm8k" / "contaminated_prompts.jsonl").write_text("")
    questions = [
        (81, "writing", ["Write a travel blog post about Hawaii.", "Rewrite it in verse."]),
        (101, "reasoning", ["David has three sisters. How many brothers?", "And if not?"]),
        (111, "math", ["Solve the integral of x squared step by step.", "Now of x cubed."]),
        (121, "coding", ["Write a python function that reverses a list.", "Add type hints."]),
        (131, "extraction", ["Extract the names from this text: Ann met Bob.", "As JSON."]),
    ]
    with (root / "mt_bench" / "question.jsonl").open("w") as fh:
        for qid, category, turns in questions:
            fh.write(json.dumps({"question_id": qid, "category": category, "turns": turns}) + "\n")
    with (root / "mt_bench" / "judgements.jsonl").open("w") as fh:
        for qid, category, _ in questions:
            for model, score in ((STRONG, 9), (WEAK, 5 if category == "math" else 9)):
                answer = "word " * (50 if model == STRONG else 20)
                one = (
                    "[Question]\nq\n\n[The Start of Assistant's Answer]\n"
                    f"{answer}\n[The End of Assistant's Answer]"
                )
                two = (
                    "<|The Start of Assistant A's Conversation with User|>\n\n### User:\nq\n\n"
                    f"### Assistant A:\nfirst\n\n### User:\nq2\n\n### Assistant A:\n{answer}\n\n"
                    "<|The End of Assistant A's Conversation with User|>"
                )
                for turn, text in ((1, one), (2, two)):
                    row = {
                        "question_id": qid,
                        "model": model,
                        "judge": ["gpt-4", "single-v1"],
                        "user_prompt": text,
                        "judgment": "",
                        "score": score,
                        "turn": turn,
                    }
                    fh.write(json.dumps(row) + "\n")
    (root / "mt_bench" / "contaminated_prompts.jsonl").write_text(
        json.dumps({"train_prompt": "x", "eval_prompt": questions[0][2][0], "eval_idx": 0}) + "\n"
    )
    return root


REPO = Path(__file__).resolve().parents[2]


def shared_data() -> Path | None:
    """The shared RouteLLM data: ``$ROUTER_SHARED_DIR`` or ``../shared`` beside the repo."""
    root = Path(os.environ.get("ROUTER_SHARED_DIR") or REPO.parent / "shared")
    data = root / "data" / "routellm"
    return data if data.is_dir() else None
