"""Reading outcome data: the RouteLLM adapter, our JSONL format, and the fixed-seed hold-out."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.quality import holdout, routellm
from router.quality.outcomes import read_jsonl, write_jsonl
from support.quality import CONTAMINATED_MMLU, SUBJECTS


def test_routellm_files_map_onto_router_models_and_drop_contaminated_prompts(
    routellm_dir: Path,
) -> None:
    data = routellm.load(routellm_dir)
    assert data.models == ("gpt-4o", "mai-code-1-flash")
    assert "gpt-4-1106-preview -> gpt-4o" in data.mapping_note()
    assert "Mixtral-8x7B-Instruct-v0.1 -> mai-code-1-flash" in data.mapping_note()
    assert data.dropped == {"mmlu: contaminated": 1, "mt_bench: contaminated": 2}
    assert all(o.prompt != CONTAMINATED_MMLU for o in data.outcomes)
    by_bench = {b: [o for o in data.outcomes if o.benchmark == b] for b in routellm.BENCHMARKS}
    assert len(by_bench["mmlu"]) == 30 * len(SUBJECTS)
    assert len(by_bench["gsm8k"]) == 40
    assert len(by_bench["mt_bench"]) == 8  # 5 questions x 2 turns, one question contaminated
    hard = next(o for o in by_bench["mmlu"] if "integral" in o.prompt)
    assert hard.scores == {"gpt-4o": 1.0, "mai-code-1-flash": 0.0}
    assert not hard.cheap_is_enough("gpt-4o", "mai-code-1-flash")


def test_answer_lengths_come_from_the_answer_text_where_the_data_has_it(
    routellm_dir: Path,
) -> None:
    data = routellm.load(routellm_dir)
    gsm = next(o for o in data.outcomes if o.benchmark == "gsm8k")
    assert gsm.answer_tokens == {"gpt-4o": 50, "mai-code-1-flash": 60}  # 200 and 240 chars
    mmlu = next(o for o in data.outcomes if o.benchmark == "mmlu")
    assert set(mmlu.answer_tokens.values()) == {routellm.MMLU_ANSWER_TOKENS}
    turn2 = next(o for o in data.outcomes if o.id == "mt_bench/111/2")
    assert turn2.history == ("Solve the integral of x squared step by step.",)
    assert turn2.prompt == "Now of x cubed."
    assert turn2.scores == {"gpt-4o": 0.9, "mai-code-1-flash": 0.5}
    assert turn2.answer_tokens["gpt-4o"] == 63  # "word " x 50, stripped: 249 chars
    assert turn2.category == "math"


def test_a_directory_without_outcome_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "mmlu").mkdir()
    with pytest.raises(ValueError, match="no RouteLLM outcome files"):
        routellm.load(tmp_path)


def test_jsonl_round_trips(routellm_dir: Path, tmp_path: Path) -> None:
    data = routellm.load(routellm_dir)
    path = tmp_path / "outcomes.jsonl"
    write_jsonl(data, path)
    again = read_jsonl(path)
    assert (again.strong, again.weak) == (data.strong, data.weak)
    assert again.outcomes == data.outcomes


def test_jsonl_rows_must_score_both_models(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"strong": "a", "weak": "b"}\n{"prompt": "p", "scores": {"a": 1}}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: scores must name both"):
        read_jsonl(path)


def test_the_hold_out_keeps_back_whole_subjects_and_is_stable(routellm_dir: Path) -> None:
    data = routellm.load(routellm_dir)
    split = holdout.split(data, seed=14)
    assert len(split.held_out_groups) == 2  # 25% of 8 subjects
    train_subjects = {o.group for o in split.train.outcomes if o.benchmark == "mmlu"}
    test_subjects = {o.group for o in split.test.outcomes if o.benchmark == "mmlu"}
    assert test_subjects == set(split.held_out_groups)
    assert train_subjects.isdisjoint(test_subjects)
    train_ids = {o.id for o in split.train.outcomes}
    assert train_ids.isdisjoint(o.id for o in split.test.outcomes)
    assert len(train_ids) + len(split.test.outcomes) == len(data.outcomes)
    # MT-Bench: both turns of a question on the same side
    sides = {o.id.rsplit("/", 1)[0]: o.id in train_ids for o in data.outcomes
             if o.benchmark == "mt_bench"}  # fmt: skip
    for o in data.outcomes:
        if o.benchmark == "mt_bench":
            assert (o.id in train_ids) == sides[o.id.rsplit("/", 1)[0]]
    again = holdout.split(data, seed=14)
    assert again.held_out_groups == split.held_out_groups
    assert [o.id for o in again.test.outcomes] == [o.id for o in split.test.outcomes]
    assert holdout.split(data, seed=15).held_out_groups != split.held_out_groups
