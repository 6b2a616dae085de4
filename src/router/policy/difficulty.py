"""The learned difficulty signal, scored per request in pure Python (no scikit-learn, no numpy).

``difficulty`` is the probability that a request needs the strong model: one minus a logistic
regression's estimate that the cheap model's answer is at least as good as the strong one's
(trained offline by ``router train``; see ``router.quality.train`` and docs/quality.md).

Features, the same code at training and at serving time (``text_features``):

* the *distinct words* of the prompt's window (lower-cased, punctuation as space), each
  counting 1/n over the n distinct words; every word also contributes its character 4-grams
  (of `` word ``, padded), so a word never seen in training still scores through its pieces;
* the distinct *word bigrams*, each 1/m over the m distinct bigrams;
* dense features: the task class (one-hot), log prompt tokens, a multi-turn flag.

Time is bounded whatever the prompt size: only a window is read (the head and the tail of the
last user turn, 1 KiB in all, as ``classify`` reads a tail), the known words' values (word
weight plus its 4-grams' weights) are precomputed in the exported file so scoring them is one
C-speed set intersection, and the 4-grams of at most ``MAX_UNKNOWN_WORDS`` unknown words are
computed live. An n-gram never seen in training scores 0: in the hashed model its bucket's
weight was learned from other n-grams, i.e. noise.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType
from typing import Any

FORMAT = "router-difficulty/1"
HEAD_CHARS = 256
TAIL_CHARS = 768
MAX_UNKNOWN_WORDS = 16
CHAR_N = 4
TASKS = ("code", "reasoning", "general")
DENSE = ("task=code", "task=reasoning", "task=general", "log_prompt_tokens", "multi_turn")
_PUNCTUATION = str.maketrans({c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\n\t\r"})


@dataclass(frozen=True, slots=True)
class TextFeatures:
    words: frozenset[str]
    bigrams: frozenset[str]


def window(text: str) -> str:
    """The part of a prompt the signal reads: head and tail, lower-cased."""
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        text = text[:HEAD_CHARS] + " " + text[-TAIL_CHARS:]
    return text.lower()


def text_features(text: str) -> TextFeatures:
    words = window(text).translate(_PUNCTUATION).split()
    return TextFeatures(frozenset(words), frozenset(map(" ".join, pairwise(words))))


def char_grams(word: str) -> list[str]:
    padded = f" {word} "
    return [padded[i : i + CHAR_N] for i in range(len(padded) - CHAR_N + 1)]


def dense_features(task: str, prompt_tokens: int, multi_turn: bool) -> tuple[float, ...]:
    onehot = tuple(1.0 if task == t else 0.0 for t in TASKS)
    return (*onehot, math.log1p(max(prompt_tokens, 0)) / 10.0, 1.0 if multi_turn else 0.0)


@dataclass(frozen=True, slots=True)
class DifficultyModel:
    """Exported logistic-regression weights, keyed by n-gram text (no hashing at serve time)."""

    bias: float
    word_values: Mapping[str, float]  # a known word's weight plus its 4-grams' weights
    char_weights: Mapping[str, float]  # for words not in word_values
    bigram_weights: Mapping[str, float]
    dense_weights: tuple[float, ...]  # in DENSE order
    mean_difficulty: float  # over the training prompts: what "average" means for quality
    strong: str  # the models the labels compared
    weak: str
    source: str  # how it was built: data, seed, held-out units, command

    def cheap_enough(
        self, text: str, task: str, prompt_tokens: int, multi_turn: bool = False
    ) -> float:
        """P(the weak model's answer is at least as good as the strong one's)."""
        feats = text_features(text)
        words = feats.words
        z = self.bias
        if words:
            known = words & self.word_values.keys()
            total = sum(map(self.word_values.__getitem__, known))
            unknown = words - known
            if unknown:
                chars = self.char_weights
                # sorted: set order varies per process (string hashing is salted)
                for word in sorted(unknown)[:MAX_UNKNOWN_WORDS]:
                    total += sum(chars.get(g, 0.0) for g in char_grams(word))
            z += total / len(words)
        if feats.bigrams:
            hit = feats.bigrams & self.bigram_weights.keys()
            z += sum(map(self.bigram_weights.__getitem__, hit)) / len(feats.bigrams)
        for w, x in zip(self.dense_weights, dense_features(task, prompt_tokens, multi_turn),
                        strict=True):  # fmt: skip
            z += w * x
        return _sigmoid(z)

    def difficulty(
        self, text: str, task: str, prompt_tokens: int, multi_turn: bool = False
    ) -> float:
        return 1.0 - self.cheap_enough(text, task, prompt_tokens, multi_turn)

    def signature(self) -> str:
        """A short name for this export (a hash of how it was built): the request log records
        it beside each score, so replay knows whether a candidate's signal is the same one."""
        return hashlib.blake2b(self.source.encode(), digest_size=6).hexdigest()


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def from_json(data: Mapping[str, Any]) -> DifficultyModel:
    """Parse an exported file's content; raises ``ValueError`` naming what is wrong."""
    if data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file (format: {data.get('format')!r})")
    try:
        dense = data["dense_weights"]
        if list(dense) != list(DENSE):
            raise ValueError(f"dense features must be {', '.join(DENSE)}")
        return DifficultyModel(
            bias=float(data["bias"]),
            word_values=MappingProxyType({str(k): float(v) for k, v in data["words"].items()}),
            char_weights=MappingProxyType({str(k): float(v) for k, v in data["chars"].items()}),
            bigram_weights=MappingProxyType({str(k): float(v) for k, v in data["bigrams"].items()}),
            dense_weights=tuple(float(dense[name]) for name in DENSE),
            mean_difficulty=float(data["mean_difficulty"]),
            strong=str(data["strong"]),
            weak=str(data["weak"]),
            source=str(data.get("source", "")),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed difficulty file: {exc!r}") from exc


def scaled_quality(
    quality: float | None, top: float | None, difficulty: float | None, mean: float
) -> float | None:
    """A candidate's expected quality for this request: its catalog gap to the rule's best
    candidate, stretched by difficulty / mean difficulty (at most 3x). An easy request narrows
    every gap (the cheap model is nearly as good), a hard one widens it, and an average one
    keeps the catalog's numbers, so ``min_quality`` floors and quality objectives follow the
    request rather than the task class's average."""
    if quality is None or top is None or difficulty is None or mean <= 0:
        return quality
    return max(0.0, top - (top - quality) * min(difficulty / mean, 3.0))
