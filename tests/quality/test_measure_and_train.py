"""APGR and the random mix as RouteLLM defines them; the trained signal scores in pure Python
exactly as scikit-learn does, and learns the fixture's rule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from router.config.catalog import Catalog
from router.config.load import load_config
from router.policy.difficulty import from_json
from router.quality import holdout, routellm
from router.quality.measure import Frame, Point, apgr, beats_random, oracle, point
from router.quality.outcomes import Outcome
from router.quality.simulate import prepare, request_of
from router.quality.train import fit

REPO = Path(__file__).resolve().parents[2]


def catalog() -> Catalog:
    return load_config(REPO / "policies").catalog


FRAME = Frame(strong=Point("strong", 0.8, 10.0, 1.0, None), weak=Point("weak", 0.6, 2.0, 0.0, None))


def test_the_random_mix_is_the_straight_line_between_the_two_ends() -> None:
    mid = FRAME.random_at_cost(6.0)
    assert mid.strong_share == pytest.approx(0.5)
    assert mid.quality == pytest.approx(0.7)
    assert FRAME.pgr(mid) == pytest.approx(0.5)
    assert FRAME.random_at_cost(50.0).strong_share == 1.0  # clipped
    # APGR of points on the diagonal is 0.5; a curve above it scores more
    diagonal = [Point(f"{s}", 0.6 + 0.2 * s, 2 + 8 * s, s, None) for s in (0.25, 0.5, 0.75)]
    assert apgr(FRAME, diagonal) == pytest.approx(0.5)
    above = [Point("a", 0.78, 4.0, 0.25, None)]
    assert apgr(FRAME, above) == pytest.approx(0.25 * 0.9 / 2 + 0.75 * (0.9 + 1) / 2)
    assert beats_random(FRAME, above) == (0, pytest.approx(0.78 - 0.65))
    assert beats_random(FRAME, diagonal)[0] == 3  # a tie is not a win


def test_oracle_and_points_score_the_chosen_models(routellm_dir: Path) -> None:
    data = routellm.load(routellm_dir)
    cases = prepare(data, catalog())
    strong, weak = data.models
    best = oracle(cases, strong, weak)
    everyone_strong = point("s", cases, [strong] * len(cases), strong)
    assert best.quality >= everyone_strong.quality
    assert best.cost_usd < everyone_strong.cost_usd
    assert best.strong_share == pytest.approx(
        sum(not c.outcome.cheap_is_enough(strong, weak) for c in cases) / len(cases)
    )
    refused = point("r", cases, [None] * len(cases), strong)
    assert (refused.quality, refused.cost_usd, refused.refused) == (0.0, 0.0, len(cases))
    # cost is prompt tokens x input price + answer tokens x output price
    c = cases[0]
    price = catalog().models[strong].price
    expected = price.cost(c.features.prompt_tokens, c.outcome.answer_tokens[strong])
    assert c.cost[strong] == pytest.approx(expected)
    prof = catalog().models[strong].latency
    assert prof is not None
    assert c.latency[strong] == pytest.approx(
        prof.ttft_s + c.outcome.answer_tokens[strong] / prof.output_tokens_per_s
    )


def test_the_exported_signal_scores_like_scikit_learn_and_learns_the_rule(
    routellm_dir: Path,
) -> None:
    data = routellm.load(routellm_dir)
    parts = holdout.split(data, seed=14)
    fitted = fit(parts, "test command")
    model = from_json(fitted.export)
    assert "rebuild: test command" in model.source
    assert ", ".join(parts.held_out_groups) in model.source
    ours = []
    for o in parts.train.outcomes:
        _chat, f = request_of(o, "x")
        ours.append(model.cheap_enough(o.prompt, f.task, f.prompt_tokens, bool(o.history)))
    # the same as scikit-learn within what 4 significant digits and pruning leave
    assert ours == pytest.approx(list(fitted.train_probabilities), abs=1e-3)
    # every head, from the one pass the server makes: gain within 0.01, log answer tokens
    # within 0.02 (e^0.02: 2% of an answer's predicted length)
    for o, want in zip(parts.train.outcomes, fitted.train_predictions, strict=True):
        _chat, f = request_of(o, "x")
        got = model.logits(o.prompt, f.task, f.prompt_tokens, bool(o.history))
        assert got[1] == pytest.approx(want[1], abs=1e-2)
        assert got[2:] == pytest.approx(want[2:], abs=2e-2)

    # held out: the fixture's GSM8K answers are 50-60 tokens, MMLU's 8: the length heads
    # learn which is which, and the gain head that "integral" is where the strong model gains
    def heads(o: Outcome) -> list[float]:
        _chat, f = request_of(o, "x")
        return model.logits(o.prompt, f.task, f.prompt_tokens, bool(o.history))

    gsm = [o for o in parts.test.outcomes if o.benchmark == "gsm8k"]
    mmlu = [o for o in parts.test.outcomes if o.benchmark == "mmlu"]
    for head in (2, 3):
        shortest = min(heads(o)[head] for o in gsm)
        assert shortest > max(heads(o)[head] for o in mmlu) + 0.3
        assert shortest > math.log1p(8)
    gains = {
        "integral" in o.prompt.lower(): model.logits(o.prompt, "general", 20, False)[1] for o in gsm
    }
    assert gains[True] > gains[False] + 0.2
    # held-out subjects: the word "integral" still marks the prompts the cheap model fails
    hard, easy = [], []
    for o in parts.test.outcomes:
        _chat, f = request_of(o, "x")
        d = model.difficulty(o.prompt, f.task, f.prompt_tokens, bool(o.history))
        (hard if "integral" in o.prompt.lower() else easy).append(d)
    assert min(hard) > max(easy)
