"""Every test here plans emulator behaviour; none may leave a plan for the next test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.stack import Emulators


@pytest.fixture(autouse=True)
def _no_leftover_plans(emulators: Emulators) -> Iterator[None]:
    yield
    emulators.reset()
