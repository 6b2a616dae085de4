"""The learned difficulty signal: pure-Python scoring, the ``difficulty:`` condition, its effect
on quality, and the config that wires a model file in."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from router.config.load import load_config
from router.config.yamlsrc import ConfigError, ConfigIssue
from router.policy.classify import classify
from router.policy.decide import DecisionInput, decide
from router.policy.difficulty import (
    DENSE,
    FORMAT,
    FORMAT_1,
    HEAD_CHARS,
    HEADS,
    TAIL_CHARS,
    char_grams,
    dense_features,
    from_json,
    scaled_quality,
    text_features,
)
from router.shapes import ANONYMOUS
from router.signals import SignalSnapshot
from support.policy import CATALOG, chat, policies, policy_issues


def export(**over: object) -> dict[str, object]:
    data: dict[str, object] = {
        "format": FORMAT_1,
        "strong": "out-cheap",
        "weak": "in-cheap",
        "bias": 0.5,
        "mean_difficulty": 0.4,
        "dense_weights": {name: 0.0 for name in DENSE},
        "words": {"prove": -4.0, "hello": 2.0},
        "chars": {" qua": -1.0, "ntum": -1.0},
        "bigrams": {"step by": -3.0},
        "source": "test",
    }
    data.update(over)
    return data


MODEL = from_json(export())


def z_of(p: float) -> float:
    return math.log(p / (1 - p))


def test_known_words_score_their_weight_over_the_distinct_words() -> None:
    # words {hello, there}: (2.0 + 0) / 2 ; no bigram weight; bias 0.5
    p = MODEL.cheap_enough("Hello there", "general", 3)
    assert z_of(p) == pytest.approx(0.5 + 2.0 / 2)
    assert MODEL.difficulty("Hello there", "general", 3) == pytest.approx(1 - p)


def test_an_unknown_word_scores_through_its_4_grams_and_bigrams_count_too() -> None:
    # "quantum" is not a known word: its 4-grams " qua" and "ntum" weigh -1 each
    assert {" qua", "ntum"} <= set(char_grams("quantum"))
    p = MODEL.cheap_enough("quantum", "general", 2)
    assert z_of(p) == pytest.approx(0.5 - 2.0)
    # words {step, by, step?}: distinct {step, by}; bigrams {"step by"}: -3 / 1
    p2 = MODEL.cheap_enough("step by", "general", 2)
    assert z_of(p2) == pytest.approx(0.5 - 3.0)


def test_dense_features_use_task_prompt_size_and_turns() -> None:
    weights = {name: 0.0 for name in DENSE} | {"task=reasoning": 1.5, "multi_turn": -1.0}
    m = from_json(export(dense_weights=weights, words={}, chars={}, bigrams={}))
    assert z_of(m.cheap_enough("x", "reasoning", 10)) == pytest.approx(0.5 + 1.5)
    assert z_of(m.cheap_enough("x", "code", 10, multi_turn=True)) == pytest.approx(0.5 - 1.0)
    assert dense_features("general", 0, False) == (0.0, 0.0, 1.0, 0.0, 0.0)


def test_only_the_head_and_tail_of_a_long_prompt_are_read() -> None:
    head, tail = "a " * (HEAD_CHARS // 2), "b " * (TAIL_CHARS // 2)
    middle = "prove " * 20_000  # 120 KB the signal never reads
    feats = text_features(head + middle + tail)
    assert "prove" not in feats.words
    assert feats.words == frozenset({"a", "b"})


def test_malformed_files_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="format"):
        from_json(export(format="other"))
    with pytest.raises(ValueError, match="dense features"):
        from_json(export(dense_weights={"task=code": 1.0}))
    with pytest.raises(ValueError, match="malformed"):
        from_json({k: v for k, v in export().items() if k != "bias"})


def test_scaled_quality_narrows_gaps_on_easy_requests_and_widens_them_on_hard_ones() -> None:
    assert scaled_quality(0.6, 0.9, 0.2, 0.4) == pytest.approx(0.9 - 0.3 * 0.5)
    assert scaled_quality(0.6, 0.9, 0.8, 0.4) == pytest.approx(0.9 - 0.3 * 2.0)
    assert scaled_quality(0.6, 0.9, 0.4, 0.4) == pytest.approx(0.6)  # average: catalog value
    assert scaled_quality(0.6, 0.9, None, 0.4) == 0.6
    assert scaled_quality(0.1, 0.9, 1.0, 0.1) == 0.0  # capped at 3x, floored at 0


ROUTING = """
policies:
  balanced:
    rules:
      - name: easy
        when: {difficulty: {max: 0.3}}
        candidates: [in-cheap]
        fallbacks: [out-cheap]
      - name: hard
        candidates: [out-cheap]
  floor:
    rules:
      - name: first-good-enough
        objective: priority
        candidates: [in-cheap, out-cheap]
        constraints: {min_quality: 0.75}
        quality_from: difficulty
  catalog-floor:
    rules:
      - name: first-good-enough
        objective: priority
        candidates: [in-cheap, out-cheap]
        constraints: {min_quality: 0.75}
"""


def _decide(text: str, difficulty: float | None, policy: str = "balanced") -> str:
    request = chat(text, model_name=policy)
    features = dataclasses.replace(classify(request), difficulty=difficulty)
    decision = decide(
        DecisionInput(
            request, features, ANONYMOUS, {}, policies(ROUTING), CATALOG, SignalSnapshot(), 0.0
        )
    )
    return f"{decision.rule}:{decision.model}"


def test_the_difficulty_condition_routes_by_the_signal() -> None:
    assert _decide("Hello", 0.1) == "easy:in-cheap"
    assert _decide("Hello", 0.3) == "easy:in-cheap"  # the bound is inclusive
    assert _decide("Hello", 0.31) == "hard:out-cheap"
    assert _decide("Hello", None) == "hard:out-cheap"  # no signal: the condition is false


def test_a_low_difficulty_lets_the_cheaper_model_pass_a_quality_floor() -> None:
    # general: in-cheap 0.7 < 0.75 floor <= out-cheap 0.8; mean difficulty 0.5 (no model)
    prompt = "Write a short poem about the sea"
    assert _decide(prompt, None, "floor").endswith("out-cheap")
    assert _decide(prompt, 0.5, "floor").endswith("out-cheap")  # average: catalog numbers
    assert _decide(prompt, 0.1, "floor").endswith("in-cheap")  # 0.8 - 0.1 * 0.2 = 0.78
    assert _decide(prompt, 0.9, "floor").endswith("out-cheap")  # 0.8 - 0.1 * 1.8 = 0.62
    # without 'quality_from: difficulty' the catalog's numbers hold whatever the signal says
    assert _decide(prompt, 0.1, "catalog-floor").endswith("out-cheap")


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("{difficulty: {max: 1.5}}", "less than or equal to 1"),
        ("{difficulty: {min: 0.6, max: 0.2}}", "'min' is above 'max'"),
        ("{difficulty: {}}", "give 'min', 'max' or both"),
        ("{difficulty: {maximum: 0.2}}", "unknown key 'maximum'"),
    ],
)
def test_bad_difficulty_conditions_are_located_errors(when: str, message: str) -> None:
    issues: list[ConfigIssue] = []
    text = f"""
policies:
  p:
    rules:
      - name: r
        when: {when}
        candidates: [in-cheap]
"""
    policy_issues(text, CATALOG, issues)
    assert issues, "expected a config issue"
    assert any(message in i.message for i in issues), [i.message for i in issues]
    assert all(i.position.line == 6 for i in issues)  # the `when:` line


MODELS_YAML = """
models:
  cheap:
    deployments: [{provider: openai, model: c, base_url: "http://127.0.0.1:9"}]
    pricing: {input_per_mtok: 1, output_per_mtok: 1}
"""
POLICY_YAML = """
policies:
  p:
    rules:
      - name: easy
        when: {difficulty: {max: 0.2}}
        candidates: [cheap]
      - name: rest
        candidates: [cheap]
"""


def test_a_difficulty_condition_without_a_model_is_a_located_config_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "models.yaml").write_text(MODELS_YAML)
    (tmp_path / "routing.yaml").write_text(POLICY_YAML)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert "routing.yaml:6:" in str(err.value)
    assert "needs a difficulty model" in str(err.value)


def test_the_configured_model_file_is_loaded_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text(MODELS_YAML)
    (tmp_path / "routing.yaml").write_text(POLICY_YAML)
    (tmp_path / "server.yaml").write_text("server: {difficulty_model: signal/d.json}\n")
    with pytest.raises(ConfigError, match=r"server.yaml:1:.*cannot read difficulty model"):
        load_config(tmp_path)
    (tmp_path / "signal").mkdir()
    (tmp_path / "signal" / "d.json").write_text(json.dumps(export()))
    config = load_config(tmp_path)
    assert config.difficulty is not None
    features = classify(chat("prove it"), config.difficulty)
    assert features.difficulty == pytest.approx(
        config.difficulty.difficulty("prove it", features.task, features.prompt_tokens)
    )
    assert features.difficulty_mean == 0.4


# -- format 2: every head from one pass, and difficulty_per_cost ---------------------------


def export2(**over: object) -> dict[str, object]:
    """Four heads: cheap enough, gain, log answer tokens of the strong and the weak model."""
    data: dict[str, object] = {
        "format": FORMAT,
        "heads": list(HEADS),
        "strong": "out-cheap",
        "weak": "in-cheap",
        "bias": [0.5, 0.1, math.log1p(100), math.log1p(50)],
        "mean_difficulty": 0.4,
        "upgrade_cost": {
            "mean_gain": 0.2,
            "mean_prompt_tokens": 100.0,
            "mean_answer_tokens": {"strong": 100.0, "weak": 50.0},
            "gain_floor": 0.03,
        },
        "dense_weights": {name: [0.0, 0.0, 0.0, 0.0] for name in DENSE},
        "words": {"prove": [-4.0, 0.8, 2.0, 0.0], "hello": [2.0, -0.4, 0.0, 0.0]},
        "chars": {" qua": [-1.0, 0.2, 0.0, 0.0]},
        "bigrams": {"step by": [-3.0, 0.6, 1.0, 1.0]},
        "source": "test v2",
    }
    data.update(over)
    return data


# USD per token (input, output): the strong model dearer on both
STRONG_PRICE, WEAK_PRICE = (3e-6, 10e-6), (1e-6, 2e-6)


def _rate(gain: float, prompt: float, strong_answer: float, weak_answer: float) -> float:
    (s_in, s_out), (w_in, w_out) = STRONG_PRICE, WEAK_PRICE
    return gain / (prompt * (s_in - w_in) + strong_answer * s_out - weak_answer * w_out)


def test_one_pass_scores_every_head_and_prices_the_upgrade() -> None:
    model = from_json(export2()).priced(STRONG_PRICE, WEAK_PRICE)
    average = _rate(0.2, 100, 100, 50)
    # "prove it": words {prove, it}; each head's word weight over 2 words, plus its bias
    score = model.score("prove it", "general", 100)
    assert score.difficulty == pytest.approx(1 - 1 / (1 + math.exp(-(0.5 - 4.0 / 2))))
    strong = math.expm1(math.log1p(100) + 2.0 / 2)
    assert score.per_cost == pytest.approx(_rate(0.1 + 0.8 / 2, 100, strong, 50) / average)
    # the same value the one-head accessors give
    assert score.difficulty == pytest.approx(model.difficulty("prove it", "general", 100))
    # a predicted gain below the floor counts as the floor: "hello" predicts 0.1 - 0.4 < 0
    low = model.score("hello", "general", 100)
    assert low.per_cost == pytest.approx(_rate(0.03, 100, 100, 50) / average)
    # a bigram and an unknown word's 4-grams feed every head from the same rows
    assert model.logits("step by", "general", 100, False)[1] == pytest.approx(0.1 + 0.6)
    assert model.logits("quantum", "general", 100, False)[1] == pytest.approx(0.1 + 0.2)


def test_without_prices_or_cost_heads_there_is_no_per_cost_score() -> None:
    assert from_json(export2()).score("prove it", "general", 100).per_cost is None
    assert MODEL.score("prove it", "general", 100).per_cost is None  # a format 1 file
    with pytest.raises(ValueError, match="no cost heads"):
        MODEL.priced(STRONG_PRICE, WEAK_PRICE)
    with pytest.raises(ValueError, match="nothing to measure against"):
        from_json(export2()).priced(WEAK_PRICE, STRONG_PRICE)  # the "strong" one is cheaper
    with pytest.raises(ValueError, match="one per head"):
        from_json(export2(bias=[0.5, 0.1]))


def _decide_per_cost(per_cost: float | None) -> str:
    text = """
policies:
  balanced:
    rules:
      - name: upgrade
        when: {difficulty_per_cost: {min: 1.5}}
        candidates: [out-cheap]
      - name: cheap
        candidates: [in-cheap]
"""
    request = chat("Hello", model_name="balanced")
    features = dataclasses.replace(classify(request), difficulty_per_cost=per_cost)
    decision = decide(
        DecisionInput(
            request, features, ANONYMOUS, {}, policies(text), CATALOG, SignalSnapshot(), 0.0
        )
    )
    return f"{decision.rule}:{decision.model}"


def test_the_difficulty_per_cost_condition_routes_by_the_signal() -> None:
    assert _decide_per_cost(3.0) == "upgrade:out-cheap"
    assert _decide_per_cost(1.5) == "upgrade:out-cheap"  # inclusive
    assert _decide_per_cost(1.49) == "cheap:in-cheap"
    assert _decide_per_cost(None) == "cheap:in-cheap"  # no score: the condition is false


def test_a_difficulty_per_cost_bound_may_exceed_one_but_not_go_negative() -> None:
    issues: list[ConfigIssue] = []
    text = """
policies:
  p:
    rules:
      - name: r
        when: {difficulty_per_cost: {min: -1}}
        candidates: [in-cheap]
"""
    policy_issues(text, CATALOG, issues)
    assert any("greater than or equal to 0" in i.message for i in issues)
    assert all(i.position.line == 6 for i in issues)
    issues.clear()
    policy_issues(text.replace("min: -1", "min: 2.5"), CATALOG, issues)
    assert not issues


PER_COST_MODELS = """
models:
  cheap:
    deployments: [{provider: openai, model: c, base_url: "http://127.0.0.1:9"}]
    pricing: {input_per_mtok: 1, output_per_mtok: 2}
  dear:
    deployments: [{provider: openai, model: d, base_url: "http://127.0.0.1:9"}]
    pricing: {input_per_mtok: 3, output_per_mtok: 10}
"""
PER_COST_POLICY = """
policies:
  p:
    rules:
      - name: upgrade
        when: {difficulty_per_cost: {min: 1.0}}
        candidates: [dear]
      - name: rest
        candidates: [cheap]
"""


def test_a_difficulty_per_cost_rule_needs_a_model_with_cost_heads_and_prices(
    tmp_path: Path,
) -> None:
    (tmp_path / "models.yaml").write_text(PER_COST_MODELS)
    (tmp_path / "routing.yaml").write_text(PER_COST_POLICY)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)  # no model file at all
    assert "routing.yaml:6:" in str(err.value)
    assert "needs a difficulty model" in str(err.value)
    (tmp_path / "server.yaml").write_text("server: {difficulty_model: d.json}\n")
    with pytest.raises(ConfigError, match="cannot read difficulty model"):
        load_config(tmp_path)  # configured, but the file is missing
    (tmp_path / "d.json").write_text(json.dumps(export(strong="dear", weak="cheap")))
    with pytest.raises(ConfigError, match=r"routing.yaml:6:.*no cost heads"):
        load_config(tmp_path)  # a format 1 file
    (tmp_path / "d.json").write_text(json.dumps(export2(strong="dear", weak="unknown")))
    with pytest.raises(ConfigError, match="need prices in the catalog"):
        load_config(tmp_path)
    (tmp_path / "d.json").write_text(json.dumps(export2(strong="dear", weak="cheap")))
    config = load_config(tmp_path)
    assert config.difficulty is not None
    features = classify(chat("prove it", model_name="p"), config.difficulty)
    want = from_json(export2()).priced(STRONG_PRICE, WEAK_PRICE)  # the same prices, per token
    expected = want.score("prove it", features.task, features.prompt_tokens)
    assert features.difficulty_per_cost == pytest.approx(expected.per_cost)
    assert features.difficulty == pytest.approx(expected.difficulty)
