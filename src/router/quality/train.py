"""``router train``: fit the difficulty signal on outcome data and export it for the server.

Logistic regression (scikit-learn) over hashed features: the word, 4-gram and bigram
features of ``router.difficulty.text_features`` are hashed (CRC-32) into ``2**20`` columns, so
the fitted model has a fixed size whatever the vocabulary; the dense features follow. The
export inverts the hashing for every n-gram seen in training (its bucket's weight), so the
server scores with dictionary look-ups and no hashing. On every training prompt the exported
scorer gives the same probability as scikit-learn (a test holds it to that).

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
MIN_DF = 3  # an n-gram in one or two training prompts is noise, and bloats the file
REGULARISATION_C = 4.0
DIGITS = 6  # significant digits kept in the export


@dataclass(frozen=True, slots=True)
class Vocab:
    words: frozenset[str]
    grams: frozenset[str]
    bigrams: frozenset[str]


def _bucket(kind: str, text: str) -> int:
    return zlib.crc32(f"{kind}|{text}".encode()) % BUCKETS


def vocab_of(outcomes: Sequence[Outcome]) -> Vocab:
    words: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    for o in outcomes:
        f = text_features(o.prompt)
        words.update(f.words)
        bigrams.update(f.bigrams)
    grams: Counter[str] = Counter()
    for word in words:
        grams.update(set(char_grams(word)))  # a gram's df: the words it occurs in
    keep_words = frozenset(w for w, n in words.items() if n >= MIN_DF)
    return Vocab(
        keep_words,
        frozenset(g for g, n in grams.items() if n >= MIN_DF),
        frozenset(b for b, n in bigrams.items() if n >= MIN_DF),
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
        for b in feats.bigrams & vocab.bigrams:
            col = _bucket("b", b)
            sparse[col] = sparse.get(col, 0.0) + share
    features = request_of(outcome, "train")[1]
    dense = dense_features(features.task, features.prompt_tokens, bool(outcome.history))
    return sparse, dense


@dataclass(frozen=True, slots=True)
class Fitted:
    export: dict[str, Any]  # JSON-ready, for the server
    train_probabilities: tuple[float, ...]  # scikit-learn's P(cheap enough), per train prompt


def fit(split: Split, command: str, c: float = REGULARISATION_C) -> Fitted:
    """Train on ``split.train``."""
    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    data = split.train
    outcomes = list(data.outcomes)
    vocab = vocab_of(outcomes)
    labels = np.array([o.cheap_is_enough(data.strong, data.weak) for o in outcomes], dtype=int)
    indptr, indices, values = [0], list[int](), list[float]()
    dense_rows: list[tuple[float, ...]] = []
    for o in outcomes:
        sparse, dense = row_of(o, vocab)
        indices.extend(sparse)
        values.extend(sparse.values())
        indptr.append(len(indices))
        dense_rows.append(dense)
    x = hstack(
        [
            csr_matrix((values, indices, indptr), shape=(len(outcomes), BUCKETS)),
            csr_matrix(np.array(dense_rows)),
        ],
        format="csr",
    )
    model = LogisticRegression(C=c, max_iter=2000, solver="liblinear", random_state=split.seed)
    model.fit(x, labels)
    coef = model.coef_[0]
    weights, dense_w = coef[:BUCKETS], coef[BUCKETS:]

    def w(kind: str, text: str) -> float:
        return float(weights[_bucket(kind, text)])

    chars = {g: _round(w("c", g)) for g in sorted(vocab.grams)}
    words = {
        word: _round(w("w", word) + sum(chars.get(g, 0.0) for g in char_grams(word)))
        for word in sorted(vocab.words)
    }
    p_cheap = model.predict_proba(x)[:, 1]
    export: dict[str, Any] = {
        "format": FORMAT,
        "strong": data.strong,
        "weak": data.weak,
        "label": f"1 when {data.weak}'s answer scores at least {data.strong}'s",
        "source": (
            f"{data.name}: {len(outcomes)} prompts ({data.mapping_note()}); seed "
            f"{split.seed}; held-out MMLU subjects: {', '.join(split.held_out_groups)}; "
            f"logistic regression C={c}, {BUCKETS} hashed buckets, min df {MIN_DF}; "
            f"rebuild: {command}"
        ),
        "bias": float(model.intercept_[0]),
        "mean_difficulty": float(1.0 - p_cheap.mean()),
        "train_positive_share": float(labels.mean()),
        "dense_weights": {name: float(v) for name, v in zip(DENSE, dense_w, strict=True)},
        "words": {k: v for k, v in words.items() if v != 0.0},
        "chars": {k: v for k, v in chars.items() if v != 0.0},
        "bigrams": {b: v for b in sorted(vocab.bigrams) if (v := _round(w("b", b))) != 0.0},
    }
    return Fitted(export, tuple(float(p) for p in p_cheap))


def _round(value: float) -> float:
    return float(f"{value:.{DIGITS}g}")


def save(export: dict[str, Any], path: Path) -> DifficultyModel:
    path.write_text(json.dumps(export, separators=(",", ":"), sort_keys=False) + "\n")
    return from_json(export)
