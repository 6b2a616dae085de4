"""Keys from config, hot-reloaded: a reload adds, changes and revokes keys without a restart,
seen through the official OpenAI SDK."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from support.stack import Emulators, RouterFactory
from support.tenancy import ask, key_line, write_atomically, write_tenancy_config


def test_a_reload_adds_changes_and_revokes_keys(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    cfg = write_tenancy_config(
        tmp_path / "c", emulators, "auth:\n  keys:\n" + key_line("alice", "k-alice")
    )
    router = start_router(cfg)
    state = router.app.state.router
    assert ask(router.v1, "k-alice")
    with pytest.raises(openai.AuthenticationError):
        ask(router.v1, "k-bob")

    # Add bob, move alice to a new key (the old one is revoked by the same reload).
    write_atomically(
        cfg / "auth.yaml",
        "auth:\n  keys:\n" + key_line("alice", "k-alice-2") + key_line("bob", "k-bob"),
    )
    assert state.reload()
    assert ask(router.v1, "k-bob")
    assert ask(router.v1, "k-alice-2")
    with pytest.raises(openai.AuthenticationError) as exc:
        ask(router.v1, "k-alice")
    assert exc.value.status_code == 401

    # Revoke bob: gone at once.
    write_atomically(cfg / "auth.yaml", "auth:\n  keys:\n" + key_line("alice", "k-alice-2"))
    assert state.reload()
    with pytest.raises(openai.AuthenticationError):
        ask(router.v1, "k-bob")
    assert ask(router.v1, "k-alice-2")


def test_an_expired_key_gets_a_401_naming_the_expiry(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    auth = (
        "auth:\n  keys:\n"
        + key_line("old", "k-old", "expires: 2020-01-01")
        + key_line("new", "k-new", "expires: 2999-01-01")
    )
    router = start_router(write_tenancy_config(tmp_path / "c", emulators, auth))
    assert ask(router.v1, "k-new")
    with pytest.raises(openai.AuthenticationError) as exc:
        ask(router.v1, "k-old")
    assert "expired at 2020-01-01T00:00:00+00:00" in str(exc.value)
    assert exc.value.code == "expired_api_key"
