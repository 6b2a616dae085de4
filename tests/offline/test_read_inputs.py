"""The offline commands' inputs: what a command says, and that it stops, when one is unreadable."""

from __future__ import annotations

import io
from pathlib import Path

from router.config.load import load_config
from router.offline import read_inputs
from router.quality.commands import load_dataset
from router.requestlog.read import open_log

POLICIES = """\
models:
  small:
    pricing: {input_per_mtok: 1, output_per_mtok: 2}
    deployments:
      - {name: small@a, provider: openai, model: s, base_url: "http://127.0.0.1:9"}
policies:
  p:
    default: true
    rules: [{name: r, objective: priority, candidates: [small]}]
"""


def test_an_invalid_config_is_named_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("policies: {p: {rules: 3}}\n")
    err = io.StringIO()
    read = read_inputs("router eval", tmp_path, load_config, lambda: "never read", err)
    assert read is None
    said = err.getvalue()
    assert said.startswith(f"router eval: config at {tmp_path} is invalid:\n")
    assert "c.yaml:1:" in said


def test_an_unreadable_data_source_is_named_after_a_valid_config(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(POLICIES)
    err = io.StringIO()
    data = tmp_path / "outcomes.csv"
    read = read_inputs("router eval", tmp_path, load_config, lambda: load_dataset(data), err)
    assert read is None
    assert err.getvalue() == (
        f"router eval: {data}: neither a RouteLLM data directory nor a .jsonl outcome file\n"
    )


def test_both_read_come_back_together(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(POLICIES)
    log = tmp_path / "requests.jsonl"
    log.write_text("")
    err = io.StringIO()
    read = read_inputs("router replay", tmp_path, load_config, lambda: open_log(str(log)), err)
    assert read is not None
    config, source = read
    assert list(config.policies.policies) == ["p"]
    assert source.total == 0
    assert err.getvalue() == ""
