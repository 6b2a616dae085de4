"""A deliberate bad import breaks the walls in pyproject's import-linter contracts, and the
report names it (CI runs ``lint-imports`` on the tree itself, after mypy)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(src: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the editable install of the real tree.
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_policy_module_reaching_the_store_breaks_the_purity_contract(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "router", src / "router", ignore=shutil.ignore_patterns("*.pyc"))
    classify = src / "router" / "policy" / "classify.py"
    classify.write_text(classify.read_text() + "\nimport router.store  # the bad import\n")

    result = _lint(src, tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "policy is pure: it reaches no I/O, directly or through another module BROKEN" in (
        result.stdout
    )
    assert "router.policy.classify -> router.store" in result.stdout
    # What does not depend on policy still holds on the copy.
    assert "metrics imports nothing of router's KEPT" in result.stdout
