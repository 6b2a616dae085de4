"""Quality tests never reach the network; the fixture data is written per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.quality import write_routellm

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def routellm_dir(tmp_path: Path) -> Path:
    return write_routellm(tmp_path / "routellm")
