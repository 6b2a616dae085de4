"""Keys as config: hashes or env vars, expiry, constant-time lookup, and what
``router keys create`` prints (which must load as config and authenticate)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from router.api.auth import Authenticator
from router.cli import main
from router.config.load import load_config
from router.config.schema import AuthSpec, KeySpec
from router.config.yamlsrc import ConfigError
from router.errors import AuthenticationFailed
from router.tenancy.keys import KEY_PREFIX, key_hash, new_key

CATALOG = """\
models:
  m:
    pricing: {input_per_mtok: 1, output_per_mtok: 2}
    deployments: [{name: m@x, provider: openai, model: m, base_url: "http://127.0.0.1:9"}]
policies:
  p:
    default: true
    rules: [{name: r, candidates: [m]}]
"""


def _auth(*keys: dict[str, object]) -> AuthSpec:
    return AuthSpec.model_validate({"keys": list(keys)})


def test_a_hashed_key_authenticates_and_a_wrong_one_does_not() -> None:
    key = new_key()
    auth = Authenticator(_auth({"name": "ci", "team": "plat", "hash": key_hash(key)}), {})
    who = auth.authenticate(f"Bearer {key}")
    assert (who.name, who.team, who.is_master) == ("ci", "plat", False)
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(f"Bearer {key}x")
    with pytest.raises(AuthenticationFailed, match="Missing"):
        auth.authenticate(None)


def test_env_keys_and_the_master_key_still_work_beside_hashes() -> None:
    spec = _auth(
        {"name": "envkey", "key_env": "K_ENV"},
        {"name": "unset", "key_env": "K_UNSET"},
        {"name": "hashed", "hash": key_hash("h-secret")},
    )
    auth = Authenticator(spec, {"K_ENV": "e-secret", "ROUTER_MASTER_KEY": "m-secret"})
    assert auth.authenticate("Bearer e-secret").name == "envkey"
    assert auth.authenticate(None, api_key="h-secret").name == "hashed"
    assert auth.authenticate("Bearer m-secret").is_master
    with pytest.raises(AuthenticationFailed):
        auth.authenticate("Bearer ")  # an unset variable never matches an empty key


def test_an_expired_key_is_refused_and_says_when_it_expired() -> None:
    spec = _auth(
        {"name": "old", "hash": key_hash("k-old"), "expires": "2026-03-01"},
        {"name": "timed", "hash": key_hash("k-timed"), "expires": "2026-03-01T12:00:00+02:00"},
    )
    before = datetime(2026, 2, 28, 23, 59, tzinfo=UTC).timestamp()
    after = datetime(2026, 3, 1, 0, 0, tzinfo=UTC).timestamp()
    assert Authenticator(spec, {}, wall_clock=lambda: before).authenticate("Bearer k-old")
    late = Authenticator(spec, {}, wall_clock=lambda: after)
    with pytest.raises(AuthenticationFailed, match="'old' expired at 2026-03-01T00:00:00") as exc:
        late.authenticate("Bearer k-old")
    assert exc.value.code == "expired_api_key"
    # 12:00 at +02:00 is 10:00 UTC: still valid at 09:59 UTC, refused at 10:00 UTC.
    at = datetime(2026, 3, 1, 9, 59, tzinfo=UTC).timestamp()
    assert Authenticator(spec, {}, wall_clock=lambda: at).authenticate("Bearer k-timed")
    at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC).timestamp()
    with pytest.raises(AuthenticationFailed, match="10:00:00"):
        Authenticator(spec, {}, wall_clock=lambda: at).authenticate("Bearer k-timed")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "a"}, "exactly one of 'hash'"),
        ({"name": "a", "key_env": "X", "hash": key_hash("x")}, "exactly one of 'hash'"),
        ({"name": "a", "hash": "sha256:XYZ"}, "should match pattern"),
        ({"name": "a", "hash": "md5:" + "0" * 64}, "should match pattern"),
        ({"name": "a b", "hash": key_hash("x")}, "should match pattern"),
    ],
)
def test_malformed_key_entries_are_refused(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KeySpec.model_validate(entry)


def test_config_names_duplicate_keys_and_unknown_allow_names(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        CATALOG
        + "auth:\n  keys:\n"
        + f"    - {{name: a, hash: {key_hash('1')}, allow: {{models: [nope], policies: [p]}}}}\n"
        + f"    - {{name: a, hash: {key_hash('2')}}}\n"
        + f"    - {{name: b, hash: {key_hash('1')}}}\n"
        + "  teams:\n    t: {allow: {aliases: [auto, fast]}}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path)
    text = str(exc.value)
    assert "allow: unknown model 'nope'" in text
    assert "key name 'a' is used twice" in text
    assert "key 'b' has the same hash as 'a'" in text
    assert "allow: unknown alias 'fast'" in text
    assert "unknown policy" not in text  # 'p' exists
    assert re.search(r"c\.yaml:\d+:\d+: ", text)


def test_keys_create_prints_a_key_once_and_an_entry_that_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["keys", "create", "--name", "ci-bot", "--team", "platform", "--tag", "ci"]
    assert main([*args, "--expires", "2099-01-01"]) == 0
    out = capsys.readouterr().out
    key = next(w for w in out.split() if w.startswith(KEY_PREFIX))
    entry = out[out.index("- name:") :]
    (tmp_path / "c.yaml").write_text(
        CATALOG + "auth:\n  keys:\n" + "".join(f"    {line}\n" for line in entry.splitlines())
    )
    config = load_config(tmp_path)
    assert yaml.safe_load(entry)[0]["hash"] == key_hash(key)
    assert key not in entry  # only the hash goes into config
    who = Authenticator(config.auth, {}).authenticate(f"Bearer {key}")
    assert (who.name, who.team, who.tags) == ("ci-bot", "platform", frozenset({"ci"}))
    # Every run draws a new key.
    assert main(args) == 0
    assert key not in capsys.readouterr().out


def test_keys_create_refuses_a_name_config_would_refuse(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keys", "create", "--name", "has space"]) == 2
    assert "name" in capsys.readouterr().err
