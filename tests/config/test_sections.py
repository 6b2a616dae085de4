"""Top-level sections: each one known is validated by its owner; any other is refused at its
position, with a hint, by `router check` and by hot reload alike."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from router.config.check import check_main, try_load
from router.config.yamlsrc import ConfigError

MODELS = """\
models:
  small:
    deployments:
      - {provider: openai, model: small-x, base_url: "http://127.0.0.1:9/v1"}
    pricing: {input_per_mtok: 0.1, output_per_mtok: 0.4, source: test}
"""


def _check(tmp_path: Path, extra: str) -> tuple[int, str]:
    (tmp_path / "models.yaml").write_text(MODELS)
    (tmp_path / "extra.yaml").write_text(extra)
    out = io.StringIO()
    return check_main(tmp_path, out), out.getvalue()


def test_a_top_level_cache_section_is_refused_with_where_caching_lives(tmp_path: Path) -> None:
    code, output = _check(tmp_path, "cache: {anything: 42}\n")
    assert code == 1, output
    assert f"{tmp_path / 'extra.yaml'}:1:1: unknown section 'cache'" in output
    assert "policies.<name>.cache" in output
    assert isinstance(try_load(tmp_path), ConfigError)  # what hot reload sees


@pytest.mark.parametrize("section", ["caches", "polices", "routing"])
def test_other_unknown_sections_are_refused(tmp_path: Path, section: str) -> None:
    code, output = _check(tmp_path, f"{section}: {{}}\n")
    assert code == 1, output
    assert f"unknown section '{section}'" in output


def test_the_known_sections_pass(tmp_path: Path) -> None:
    code, output = _check(tmp_path, "server: {}\nauth: {}\npolicies: {}\ntests: []\n")
    assert code == 0, output
