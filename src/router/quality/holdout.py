"""The fixed-seed split between prompts the difficulty signal may train on and prompts kept
back for evaluation.

Whole MMLU subjects are held out (a model that saw no astronomy question must still route
astronomy well), GSM8K by row, MT-Bench by question (both turns together). The choice is a
keyed hash of the seed and the unit's name, not ``random``: the same seed gives the same split
on every Python version and machine, and adding a subject does not reshuffle the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from router.quality.outcomes import Dataset, Outcome

SEED = 14
# Fraction of each benchmark's units kept back; MMLU's are subjects (11 of the 43 shipped).
HELD_OUT_SHARE = {"mmlu": 0.25, "gsm8k": 0.3, "mt_bench": 0.5}
DEFAULT_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Split:
    train: Dataset
    test: Dataset
    held_out_groups: tuple[str, ...]  # whole MMLU subjects kept back
    seed: int


def unit_of(outcome: Outcome) -> str:
    """What is held out as one piece."""
    if outcome.benchmark == "mmlu":
        return f"mmlu/{outcome.group}"
    if outcome.benchmark == "mt_bench":
        return outcome.id.rsplit("/", 1)[0]  # the question, both turns
    return outcome.id


def rank(seed: int, unit: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def held_out_units(units: Iterable[str], share: float, seed: int) -> frozenset[str]:
    """The ``share`` of ``units`` (at least one) with the lowest keyed hash."""
    ordered = sorted(set(units), key=lambda u: rank(seed, u))
    count = max(1, round(share * len(ordered))) if ordered else 0
    return frozenset(ordered[:count])


def split(dataset: Dataset, seed: int = SEED) -> Split:
    by_bench: dict[str, set[str]] = {}
    for o in dataset.outcomes:
        by_bench.setdefault(o.benchmark, set()).add(unit_of(o))
    kept_back: set[str] = set()
    for bench, units in by_bench.items():
        kept_back |= held_out_units(units, HELD_OUT_SHARE.get(bench, DEFAULT_SHARE), seed)
    train = [o for o in dataset.outcomes if unit_of(o) not in kept_back]
    test = [o for o in dataset.outcomes if unit_of(o) in kept_back]
    groups = sorted(u.removeprefix("mmlu/") for u in kept_back if u.startswith("mmlu/"))
    return Split(
        train=dataset.subset(train, f"{dataset.name} (train, seed {seed})"),
        test=dataset.subset(test, f"{dataset.name} (held out, seed {seed})"),
        held_out_groups=tuple(groups),
        seed=seed,
    )
