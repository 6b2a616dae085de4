"""``router train``: fit the difficulty signal on outcome data and export it for the server.

Logistic regression (scikit-learn) over hashed features: the word, 4-gram and bigram
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
DIGITS = 4  # significant digits kept in the export
PRUNE = 0.01  # 4-gram and bigram weights smaller than this (absolute) are left out


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
        bigrams.update(f.bigrams)
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


def min_df_for(prompts: int) -> int:
    return max(MIN_DF, round(prompts * MIN_DF_SHARE))


def fit(split: Split, command: str, c: float = REGULARISATION_C) -> Fitted:
    """Train on ``split.train``."""
    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    data = split.train
    outcomes = list(data.outcomes)
    min_df = min_df_for(len(outcomes))
    vocab = vocab_of(outcomes, min_df)
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

    chars = {g: w("c", g) for g in sorted(vocab.grams)}
    words = {
        word: _round(w("w", word) + sum(chars.get(g, 0.0) for g in char_grams(word)))
        for word in sorted(vocab.words)
    }  # from the unpruned 4-gram weights: a known word scores exactly as it was trained
    p_cheap = model.predict_proba(x)[:, 1]
    export: dict[str, Any] = {
        "format": FORMAT,
        "strong": data.strong,
        "weak": data.weak,
        "label": f"1 when {data.weak}'s answer scores at least {data.strong}'s",
        "source": (
            f"{data.name}: {len(outcomes)} prompts ({data.mapping_note()}); seed "
            f"{split.seed}; held-out MMLU subjects: {', '.join(split.held_out_groups)}; "
            f"logistic regression C={c}, {BUCKETS} hashed buckets, min df {min_df}; "
            f"4-gram and bigram weights under {PRUNE:g} pruned, {DIGITS} significant digits; "
            f"rebuild: {command}"
        ),
        "bias": float(model.intercept_[0]),
        "mean_difficulty": float(1.0 - p_cheap.mean()),
        "train_positive_share": float(labels.mean()),
        "dense_weights": {name: float(v) for name, v in zip(DENSE, dense_w, strict=True)},
        "words": {k: v for k, v in words.items() if v != 0.0},
        "chars": _pruned(chars),
        "bigrams": _pruned({b: w("b", b) for b in sorted(vocab.bigrams)}),
    }
    return Fitted(export, tuple(float(p) for p in p_cheap))


def _pruned(weights: dict[str, float]) -> dict[str, float]:
    return {k: _round(v) for k, v in weights.items() if abs(v) >= PRUNE}


def _round(value: float) -> float:
    return float(f"{value:.{DIGITS}g}")


def save(export: dict[str, Any], path: Path) -> DifficultyModel:
    path.write_text(json.dumps(export, separators=(",", ":"), sort_keys=False) + "\n")
    return from_json(export)
