"""``router train``: fit the difficulty signal on outcome data and export it for the server.

Four heads over the same features (``router.policy.difficulty.HEADS``): a logistic regression
of P(the cheap model's answer is as good), and ridge regressions of the score gain of the
strong model and of each model's log(1 + answer tokens), which together price an upgrade
(``difficulty_per_cost``). The ridge strengths were chosen on a validation split of the
training prompts (whole MMLU subjects kept back by another seed), never on held-out ones;
docs/quality.md has the figures.

Each head is fitted (scikit-learn) over hashed features: the word, 4-gram and bigram
features of ``router.difficulty.text_features`` are hashed (CRC-32) into ``2**20`` columns, so
the fitted model has a fixed size whatever the vocabulary; the dense features follow. The
export inverts the hashing for every n-gram seen in training (its bucket's weight), so the
server scores with dictionary look-ups and no hashing. On every training prompt the exported
scorer gives the probability scikit-learn gives, to within 1e-3 (a test holds it to that).

The file must fit a Kubernetes ConfigMap (1 MiB) with room to spare, so the export is kept
small: an n-gram must occur in one training prompt in a thousand (``MIN_DF_SHARE``) to get a
column, 4-gram and bigram weights under ``PRUNE`` are dropped, and every weight keeps
``DIGITS`` significant digits. Words are never pruned: a word missing from the export would
be scored through its 4-grams instead, a different path. docs/quality.md has what these cuts
did to the file's size and to the held-out figures.

Only the training part of the fixed-seed split (``holdout``) is used; the file records the
seed, the held-out MMLU subjects and the command that rebuilds it.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.policy.difficulty import (
    DENSE,
    FORMAT,
    HEADS,
    MAX_UNKNOWN_WORDS,
    DifficultyModel,
    char_grams,
    dense_features,
    from_json,
    text_features,
)
from router.quality.holdout import Split
from router.quality.outcomes import Outcome
from router.quality.simulate import request_of

BUCKETS = 2**20
# An n-gram in fewer training prompts than this gets a weight fitted to noise, and costs file
# size: one in a thousand prompts (at least 3). On the RouteLLM data that is 10: the file was
# 1.5 MB at a floor of 3, a fifth of that at 10, with the same held-out ROC AUC.
MIN_DF = 3
MIN_DF_SHARE = 0.001
REGULARISATION_C = 4.0
GAIN_ALPHA = 0.3  # ridge strength of the gain head
LENGTH_ALPHA = 10.0  # ... and of the two answer-length heads
# difficulty_per_cost reads a predicted gain below this as this (chosen on the validation
# splits: it was the floor, of 0, 0.01, 0.03, 0.05 and 0.1, with no sweep point at or below
# the random mix on either and the largest smallest margin)
GAIN_FLOOR = 0.03
DIGITS = 4  # significant digits kept in the export
PRUNE = 0.01  # 4-gram and bigram weights smaller than this (absolute, in every head) dropped
# Word bigrams as features: off. On the validation splits they added 0.0004 and 0.0011 to the
# mean margin of the difficulty_per_cost sweep over the random mix, and cost a third of the
# file and a fifth of the scoring time (building and looking up each request's pairs).
BIGRAMS = False


@dataclass(frozen=True, slots=True)
class Vocab:
    words: frozenset[str]
    grams: frozenset[str]
    bigrams: frozenset[str]


def _bucket(kind: str, text: str) -> int:
    return zlib.crc32(f"{kind}|{text}".encode()) % BUCKETS


def vocab_of(outcomes: Sequence[Outcome], min_df: int = MIN_DF) -> Vocab:
    words: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    for o in outcomes:
        f = text_features(o.prompt)
        words.update(f.words)
        if BIGRAMS:
            bigrams.update(map(" ".join, f.bigrams))
    grams: Counter[str] = Counter()
    for word in words:
        grams.update(set(char_grams(word)))  # a gram's df: the words it occurs in
    keep_words = frozenset(w for w, n in words.items() if n >= min_df)
    return Vocab(
        keep_words,
        frozenset(g for g, n in grams.items() if n >= min_df),
        frozenset(b for b, n in bigrams.items() if n >= min_df),
    )


def row_of(outcome: Outcome, vocab: Vocab) -> tuple[dict[int, float], tuple[float, ...]]:
    """Hashed sparse features (column -> value) and dense features of one prompt, exactly as
    ``DifficultyModel.cheap_enough`` will see them."""
    feats = text_features(outcome.prompt)
    sparse: dict[int, float] = {}
    if feats.words:
        share = 1.0 / len(feats.words)
        known = feats.words & vocab.words
        unknown = sorted(feats.words - known)[:MAX_UNKNOWN_WORDS]
        for word in known:
            col = _bucket("w", word)
            sparse[col] = sparse.get(col, 0.0) + share
        for word in (*known, *unknown):
            for g in char_grams(word):
                if g in vocab.grams:
                    col = _bucket("c", g)
                    sparse[col] = sparse.get(col, 0.0) + share
    if feats.bigrams:
        share = 1.0 / len(feats.bigrams)
        for b in {" ".join(pair) for pair in feats.bigrams} & vocab.bigrams:
            col = _bucket("b", b)
            sparse[col] = sparse.get(col, 0.0) + share
    features = request_of(outcome, "train")[1]
    dense = dense_features(features.task, features.prompt_tokens, bool(outcome.history))
    return sparse, dense


@dataclass(frozen=True, slots=True)
class Fitted:
    export: dict[str, Any]  # JSON-ready, for the server
    train_probabilities: tuple[float, ...]  # scikit-learn's P(cheap enough), per train prompt
    train_predictions: tuple[tuple[float, ...], ...]  # every head's linear score, per prompt


def min_df_for(prompts: int) -> int:
    return max(MIN_DF, round(prompts * MIN_DF_SHARE))


def targets(split: Split) -> tuple[list[int], list[float], list[float], list[float]]:
    """Per training prompt: cheap enough (0/1), gain, log(1 + answer tokens) of each model."""
    import math

    data = split.train
    s, w = data.strong, data.weak
    out: tuple[list[int], list[float], list[float], list[float]] = ([], [], [], [])
    for o in data.outcomes:
        out[0].append(int(o.cheap_is_enough(s, w)))
        out[1].append(o.scores[s] - o.scores[w])
        out[2].append(math.log1p(o.answer_tokens[s]))
        out[3].append(math.log1p(o.answer_tokens[w]))
    return out


def fit(split: Split, command: str, c: float = REGULARISATION_C) -> Fitted:
    """Train every head on ``split.train``."""
    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression, Ridge

    data = split.train
    outcomes = list(data.outcomes)
    min_df = min_df_for(len(outcomes))
    vocab = vocab_of(outcomes, min_df)
    indptr, indices, values = [0], list[int](), list[float]()
    dense_rows: list[tuple[float, ...]] = []
    prompt_tokens = []
    for o in outcomes:
        sparse, dense = row_of(o, vocab)
        indices.extend(sparse)
        values.extend(sparse.values())
        indptr.append(len(indices))
        dense_rows.append(dense)
        prompt_tokens.append(request_of(o, "train")[1].prompt_tokens)
    x = hstack(
        [
            csr_matrix((values, indices, indptr), shape=(len(outcomes), BUCKETS)),
            csr_matrix(np.array(dense_rows)),
        ],
        format="csr",
    )
    labels, gain, strong_len, weak_len = (np.array(t) for t in targets(split))
    logistic = LogisticRegression(C=c, max_iter=2000, solver="liblinear", random_state=split.seed)
    logistic.fit(x, labels)
    heads: list[tuple[Any, float]] = [(logistic.coef_[0], float(logistic.intercept_[0]))]
    predictions = [logistic.decision_function(x)]
    for target, alpha in ((gain, GAIN_ALPHA), (strong_len, LENGTH_ALPHA), (weak_len, LENGTH_ALPHA)):
        ridge = Ridge(alpha=alpha).fit(x, target)
        heads.append((ridge.coef_, float(ridge.intercept_)))
        predictions.append(ridge.predict(x))
    coef = np.stack([h[0] for h in heads], axis=1)  # columns x heads
    weights, dense_w = coef[:BUCKETS], coef[BUCKETS:]

    def w(kind: str, text: str) -> np.ndarray[Any, Any]:
        return weights[_bucket(kind, text)]  # type: ignore[no-any-return]

    chars = {g: w("c", g) for g in sorted(vocab.grams)}
    zero = np.zeros(len(HEADS))
    words = {
        word: _rounded(w("w", word) + sum((chars.get(g, zero) for g in char_grams(word)), zero))
        for word in sorted(vocab.words)
    }  # from the unpruned 4-gram weights: a known word scores exactly as it was trained
    p_cheap = logistic.predict_proba(x)[:, 1]
    names = (data.strong, data.weak)
    export: dict[str, Any] = {
        "format": FORMAT,
        "strong": data.strong,
        "weak": data.weak,
        "heads": list(HEADS),
        "label": f"1 when {data.weak}'s answer scores at least {data.strong}'s",
        "source": (
            f"{data.name}: {len(outcomes)} prompts ({data.mapping_note()}); seed "
            f"{split.seed}; held-out MMLU subjects: {', '.join(split.held_out_groups)}; "
            f"logistic regression C={c} (cheap enough), ridge alpha={GAIN_ALPHA:g} (gain, floor "
            f"{GAIN_FLOOR:g}) and "
            f"{LENGTH_ALPHA:g} (log answer tokens), {BUCKETS} hashed buckets, min df "
            f"{min_df}; {'word bigrams; ' if BIGRAMS else 'no word bigrams; '}4-gram and bigram "
            f"weights under {PRUNE:g} in every head pruned, "
            f"{DIGITS} significant digits; rebuild: {command}"
        ),
        "bias": [h[1] for h in heads],
        "mean_difficulty": float(1.0 - p_cheap.mean()),
        "train_positive_share": float(labels.mean()),
        "upgrade_cost": {
            "mean_gain": float(gain.mean()),
            "gain_floor": GAIN_FLOOR,
            "mean_prompt_tokens": float(np.mean(prompt_tokens)),
            "mean_answer_tokens": {
                role: float(np.mean([o.answer_tokens[name] for o in outcomes]))
                for role, name in zip(("strong", "weak"), names, strict=True)
            },
        },
        "dense_weights": {name: _rounded(v) for name, v in zip(DENSE, dense_w, strict=True)},
        "words": {k: v for k, v in words.items() if any(v)},
        "chars": _pruned(chars),
        "bigrams": _pruned({b: w("b", b) for b in sorted(vocab.bigrams)}),
    }
    rows = tuple(zip(*(map(float, p) for p in predictions), strict=True))
    return Fitted(export, tuple(float(p) for p in p_cheap), rows)


def _pruned(weights: dict[str, Any]) -> dict[str, list[float]]:
    return {k: _rounded(v) for k, v in weights.items() if max(abs(v)) >= PRUNE}


def _rounded(values: Any) -> list[float]:
    return [_round(float(v)) for v in values]


def _round(value: float) -> float:
    rounded = float(f"{value:.{DIGITS}g}")
    return 0 if rounded == 0 else rounded  # "0" is shorter than "0.0" in the file


def save(export: dict[str, Any], path: Path) -> DifficultyModel:
    path.write_text(json.dumps(export, separators=(",", ":"), sort_keys=False) + "\n")
    return from_json(export)
