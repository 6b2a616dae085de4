"""The learned difficulty signal, scored per request in pure Python (no scikit-learn, no numpy).

``difficulty`` is the probability that a request needs the strong model: one minus a logistic
regression's estimate that the cheap model's answer is at least as good as the strong one's
(trained offline by ``router train``; see ``router.quality.train`` and docs/quality.md).

A second reading of the same features, ``difficulty_per_cost``, prices the upgrade: the
strong model's predicted quality gain over the cheap one (a ridge regression of the score
difference) per predicted extra cost of sending the request to it (prompt tokens and two
ridge regressions of each model's log answer tokens, times the catalog's prices), divided by
the same ratio for the average training request (mean gain over mean extra cost); a
predicted gain below the file's ``gain_floor`` counts as that floor. So 1.0 is
what a random mix buys; a request above 1 buys more quality per dollar than that. Format 2
files hold all heads, each n-gram's weights as one list (``router-difficulty/2``): the
features are extracted once per request, each n-gram looked up once, and every head summed
from the same rows (``score``). A format 1 file (one head) serves ``difficulty`` alone.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import pairwise
from types import MappingProxyType
from typing import Any

FORMAT = "router-difficulty/2"
FORMAT_1 = "router-difficulty/1"
# The heads of a format 2 file, in order: the logistic P(cheap enough), then ridge regressions
# of the score gain (strong minus cheap) and of log(1 + answer tokens) of each model.
HEADS = ("cheap_enough", "gain", "log_answer_tokens_strong", "log_answer_tokens_weak")
MAX_LOG_TOKENS = 12.0  # a predicted answer is clamped to e^12 (~160k) tokens
MIN_EXTRA_COST = 1e-9  # USD: an upgrade predicted to cost nothing (or to save) is not free
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
    bigrams: frozenset[tuple[str, str]]  # pairs, not joined text: no string built per pair


def window(text: str) -> str:
    """The part of a prompt the signal reads: head and tail, lower-cased."""
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        text = text[:HEAD_CHARS] + " " + text[-TAIL_CHARS:]
    return text.lower()


def tokens(text: str) -> list[str]:
    """The window's words, in order (lower-cased, punctuation as space)."""
    return window(text).translate(_PUNCTUATION).split()


def text_features(text: str) -> TextFeatures:
    words = tokens(text)
    return TextFeatures(frozenset(words), frozenset(pairwise(words)))


def unknown_grams(words: Iterable[str]) -> list[str]:
    """The 4-grams of every word, in order, duplicates kept (as training counts them)."""
    grams: list[str] = []
    for word in words:
        padded = f" {word} "
        grams += [padded[i : i + CHAR_N] for i in range(len(padded) - CHAR_N + 1)]
    return grams


def char_grams(word: str) -> list[str]:
    padded = f" {word} "
    return [padded[i : i + CHAR_N] for i in range(len(padded) - CHAR_N + 1)]


def dense_features(task: str, prompt_tokens: int, multi_turn: bool) -> tuple[float, ...]:
    onehot = tuple(1.0 if task == t else 0.0 for t in TASKS)
    return (*onehot, math.log1p(max(prompt_tokens, 0)) / 10.0, 1.0 if multi_turn else 0.0)


Weights = tuple[float, ...]  # one per head


@dataclass(frozen=True, slots=True)
class UpgradeCost:
    """What pricing an upgrade needs beyond the heads: the training prompts' means (so 1.0 is
    the average upgrade) and, bound from the catalog at config load (``priced``), USD per
    token of each model."""

    mean_gain: float
    mean_prompt_tokens: float
    mean_answer_tokens: tuple[float, float]  # strong, weak
    # A predicted gain is taken as at least this: below it the prediction is noise, and a
    # negative one over a tiny extra cost would rank a cheap request last for no reason.
    gain_floor: float = 0.0
    prices: tuple[float, float, float, float] | None = None  # strong in, out; weak in, out
    average_rate: float = 0.0  # mean gain / mean extra cost, at those prices

    def extra_cost(self, prompt_tokens: float, strong_answer: float, weak_answer: float) -> float:
        assert self.prices is not None
        s_in, s_out, w_in, w_out = self.prices
        extra = prompt_tokens * (s_in - w_in) + strong_answer * s_out - weak_answer * w_out
        return max(extra, MIN_EXTRA_COST)


@dataclass(frozen=True, slots=True)
class Score:
    """The signal's reading of one request, computed once (``classify``)."""

    difficulty: float
    per_cost: float | None  # None: a format 1 file, or prices not bound


@dataclass(frozen=True, slots=True)
class DifficultyModel:
    """Exported weights, keyed by n-gram text (no hashing at serve time); each n-gram holds
    one weight per head (``heads``)."""

    bias: Weights
    word_values: Mapping[str, Weights]  # a known word's weights plus its 4-grams' weights
    char_weights: Mapping[str, Weights]  # for words not in word_values
    bigram_weights: Mapping[tuple[str, str], Weights]  # keyed by the pair
    dense_weights: tuple[Weights, ...]  # in DENSE order
    mean_difficulty: float  # over the training prompts: what "average" means for quality
    strong: str  # the models the labels compared
    weak: str
    source: str  # how it was built: data, seed, held-out units, command
    heads: tuple[str, ...] = HEADS[:1]
    upgrade: UpgradeCost | None = None  # format 2: what difficulty_per_cost needs

    @property
    def prices_cost(self) -> bool:
        """Whether the file has the heads ``difficulty_per_cost`` needs."""
        return self.heads == HEADS and self.upgrade is not None

    def priced(self, strong: tuple[float, float], weak: tuple[float, float]) -> DifficultyModel:
        """This model with the two models' prices (USD per input and output token) bound, so
        ``score`` gives ``difficulty_per_cost``; raises ``ValueError`` when the average
        upgrade costs nothing or gains nothing (no scale to measure against)."""
        up = self.upgrade
        if up is None or not self.prices_cost:
            raise ValueError("the difficulty file has no cost heads (format 1): retrain it")
        bound = replace(up, prices=(*strong, *weak))
        mean_extra = bound.extra_cost(up.mean_prompt_tokens, *up.mean_answer_tokens)
        if up.mean_gain <= 0 or mean_extra <= MIN_EXTRA_COST:
            raise ValueError(
                f"the average upgrade gains {up.mean_gain:.4g} for {mean_extra:.4g} USD more: "
                "difficulty_per_cost has nothing to measure against"
            )
        return replace(self, upgrade=replace(bound, average_rate=up.mean_gain / mean_extra))

    def logits(self, text: str, task: str, prompt_tokens: int, multi_turn: bool) -> list[float]:
        """Every head's linear score; each n-gram looked up once for all heads."""
        seq = tokens(text)
        words = frozenset(seq)
        z = list(self.bias)
        if words:
            values = self.word_values
            known = words & values.keys()
            rows = list(map(values.__getitem__, known))
            unknown = words - known
            if unknown:
                # sorted: set order varies per process (string hashing is salted)
                grams = unknown_grams(sorted(unknown)[:MAX_UNKNOWN_WORDS])
                rows += filter(None, map(self.char_weights.get, grams))
            if rows:
                n = len(words)
                for h, column in enumerate(zip(*rows, strict=True)):
                    z[h] += sum(column) / n
        table = self.bigram_weights
        bigrams = frozenset(pairwise(seq)) if table else None  # a file without: not built
        if bigrams:
            hit = list(map(table.__getitem__, bigrams & table.keys()))
            if hit:
                m = len(bigrams)
                for h, column in enumerate(zip(*hit, strict=True)):
                    z[h] += sum(column) / m
        for ws, x in zip(self.dense_weights, dense_features(task, prompt_tokens, multi_turn),
                         strict=True):  # fmt: skip
            if x:
                for h, w in enumerate(ws):
                    z[h] += w * x
        return z

    def score(self, text: str, task: str, prompt_tokens: int, multi_turn: bool = False) -> Score:
        """Difficulty and, where the file and prices allow, difficulty_per_cost."""
        z = self.logits(text, task, prompt_tokens, multi_turn)
        difficulty = 1.0 - _sigmoid(z[0])
        up = self.upgrade
        if up is None or up.prices is None:
            return Score(difficulty, None)
        strong = math.expm1(min(max(z[2], 0.0), MAX_LOG_TOKENS))
        weak = math.expm1(min(max(z[3], 0.0), MAX_LOG_TOKENS))
        rate = max(z[1], up.gain_floor) / up.extra_cost(prompt_tokens, strong, weak)
        return Score(difficulty, rate / up.average_rate)

    def cheap_enough(
        self, text: str, task: str, prompt_tokens: int, multi_turn: bool = False
    ) -> float:
        """P(the weak model's answer is at least as good as the strong one's)."""
        return _sigmoid(self.logits(text, task, prompt_tokens, multi_turn)[0])

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
    fmt = data.get("format")
    if fmt not in (FORMAT, FORMAT_1):
        raise ValueError(f"not a {FORMAT} file (format: {fmt!r})")
    one = fmt == FORMAT_1
    heads = HEADS[:1] if one else tuple(str(h) for h in data.get("heads", ()))
    if heads not in (HEADS[:1], HEADS):
        raise ValueError(f"heads must be {', '.join(HEADS)}")

    def weights(value: Any) -> Weights:
        row = (float(value),) if one else tuple(float(v) for v in value)
        if len(row) != len(heads):
            raise ValueError(f"{value!r}: expected {len(heads)} weights, one per head")
        return row

    def table(name: str) -> Mapping[str, Weights]:
        return MappingProxyType({str(k): weights(v) for k, v in data[name].items()})

    def pairs(name: str) -> Mapping[tuple[str, str], Weights]:
        found = {}
        for k, v in data[name].items():
            first, _, second = str(k).partition(" ")
            found[first, second] = weights(v)
        return MappingProxyType(found)

    try:
        dense = data["dense_weights"]
        if list(dense) != list(DENSE):
            raise ValueError(f"dense features must be {', '.join(DENSE)}")
        cost = data.get("upgrade_cost")
        upgrade = None
        if cost is not None:
            answers = cost["mean_answer_tokens"]
            upgrade = UpgradeCost(
                float(cost["mean_gain"]),
                float(cost["mean_prompt_tokens"]),
                (float(answers["strong"]), float(answers["weak"])),
                float(cost.get("gain_floor", 0.0)),
            )
        return DifficultyModel(
            bias=weights(data["bias"]),
            word_values=table("words"),
            char_weights=table("chars"),
            bigram_weights=pairs("bigrams"),
            dense_weights=tuple(weights(dense[name]) for name in DENSE),
            mean_difficulty=float(data["mean_difficulty"]),
            strong=str(data["strong"]),
            weak=str(data["weak"]),
            source=str(data.get("source", "")),
            heads=heads,
            upgrade=upgrade,
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
