"""``router train`` and ``router eval`` end to end on the fixture data, and on the shared
RouteLLM data when it is there (CI has it beside the repo)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from router.cli import main
from router.config.load import load_config
from support.quality import REPO, shared_data


@pytest.fixture
def config_dir(tmp_path: Path, routellm_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The shipped policies with a signal trained on the fixture data."""
    target = tmp_path / "policies"
    target.mkdir()
    for f in (REPO / "policies").glob("*.yaml"):
        shutil.copy(f, target / f.name)
    assert main(["train", str(routellm_dir), "-o", str(target / "difficulty.json")]) == 0
    out = capsys.readouterr().out
    assert "held out" in out
    assert "MMLU subjects" in out
    return target


def test_eval_reports_every_policy_against_the_references(
    routellm_dir: Path, config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    code = main(["eval", str(routellm_dir), "--config", str(config_dir), "-o", str(out_dir),
                 "--split", "all"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "model mapping: gpt-4-1106-preview -> gpt-4o" in text
    for row in ("always gpt-4o (strong)", "always mai-code-1-flash (cheap)", "oracle",
                "policy balanced", "random mix at the cost of balanced"):  # fmt: skip
        assert row in text
    assert "sweep policy balanced: APGR" in text
    assert "sweep difficulty_per_cost signal: APGR" in text
    assert "task classifier on MT-Bench" in text
    report = json.loads((out_dir / "eval.json").read_text())
    assert (out_dir / "cost_quality.png").read_bytes()[:4] == b"\x89PNG"
    overall = report["overall"]
    assert overall["prompts"] == 8 * 30 + 40 + 8
    strong, weak = overall["frame"]["strong"], overall["frame"]["weak"]
    assert strong["strong_share"] == 1.0
    assert weak["strong_share"] == 0.0
    assert weak["cost_usd"] < strong["cost_usd"]
    curve = next(c for c in report["curves"] if c["name"] == "policy balanced")
    # the shipped balanced sweeps its difficulty_per_cost bound: the strong share grows as it
    # falls, from none to all
    assert [p["name"].split(" ")[1][:21] for p in curve["points"][:1]] == ["difficulty_per_cost>="]
    shares = [p["strong_share"] for p in curve["points"]]
    assert shares == sorted(shares)
    assert (shares[0], shares[-1]) == (0.0, 1.0)
    # the fixture's rule is learnable: the sweep beats the random mix everywhere inside
    assert curve["apgr"] > 0.6
    assert curve["losses_to_random"] == 0
    confusion = report["confusion"]
    assert confusion["prompts"] == 8
    assert sum(confusion["matrix"]["code"].values()) == 2  # the coding question, 2 turns


def test_a_missing_data_set_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(tmp_path / "nowhere"), "--config", str(REPO / "policies")]) == 2
    assert "neither a RouteLLM data directory nor a .jsonl" in capsys.readouterr().err


def test_eval_refuses_unknown_policies(
    routellm_dir: Path, config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eval", str(routellm_dir), "--config", str(config_dir), "-o",
                 str(tmp_path / "o"), "--policy", "nope"])  # fmt: skip
    assert code == 2
    assert "unknown policies: nope" in capsys.readouterr().err


def test_write_quality_records_sources_and_keeps_placeholders(
    routellm_dir: Path, config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = config_dir / "models.yaml"
    before = models.read_text()
    code = main(["eval", str(routellm_dir), "--config", str(config_dir), "-o",
                 str(tmp_path / "o"), "--split", "all", "--policy", "balanced",
                 "--write-quality", str(models)])  # fmt: skip
    assert code == 0
    after = models.read_text()
    assert after != before
    catalog = load_config(config_dir).catalog  # still a valid config
    data = yaml.safe_load(after)["models"]
    assert set(data["gpt-4o"]["quality"]) == {"code", "reasoning", "general"}
    lines = after.splitlines()
    general = next(ln for ln in lines if ln.strip().startswith("general:") and "measured" in ln)
    assert "prompts classified general" in general
    assert "gpt-4-1106-preview -> gpt-4o" in general
    # the fixture has two code prompts: too few, so code keeps its number, marked
    code_lines = [ln for ln in lines if ln.strip().startswith("code:")]
    assert all("PLACEHOLDER" in ln for ln in code_lines[:2])
    assert catalog.models["mai-code-1-flash"].quality["code"] == 0.8  # unchanged
    measured = catalog.models["mai-code-1-flash"].quality["general"]
    assert measured != 0.6
    # claude-sonnet has no outcome data: untouched
    assert "claude-sonnet" in after
    assert "PLACEHOLDER scores for this example" in after


def test_eval_on_the_shared_routellm_data_runs_in_under_a_minute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = shared_data()
    if data is None:
        pytest.skip("shared RouteLLM data not found (../shared/data/routellm beside the repo)")
    started = time.monotonic()
    code = main(["eval", str(data), "--config", str(REPO / "policies"), "-o", str(tmp_path),
                 "--sample", "1500", "--policy", "balanced", "--policy", "coding"])  # fmt: skip
    elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 60, f"router eval took {elapsed:.1f}s"
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["overall"]["prompts"] == 1500
    assert "fixed sample of 1500" in report["dataset"] or "fixed sample of 1500" in report["split"]
    assert report["confusion"]["prompts"] == 144  # all MT-Bench turns, contaminated dropped
    text = capsys.readouterr().out
    assert "held out, seed 14" in text
