"""Client key material: new random keys, and the ``sha256:<hex>`` form config stores.

Config holds hashes only, so a key file can be committed; the key itself is printed once, by
``router keys create``, and never stored by router.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime

from router.config.schema import KEY_HASH_PREFIX

KEY_PREFIX = "rk-"  # recognisable in logs and secret scanners; not a secret itself


def new_key() -> str:
    """256 bits from the OS's CSPRNG, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_hash(key: str) -> str:
    """The form config's ``hash:`` holds."""
    return KEY_HASH_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def hash_digest(value: str) -> bytes:
    """``sha256:<hex>`` -> the raw 32-byte digest the authenticator compares."""
    return bytes.fromhex(value.removeprefix(KEY_HASH_PREFIX))


def expiry_instant(value: datetime | date | None) -> datetime | None:
    """A key's ``expires``: a date means midnight UTC at its start; a naive time is UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def key_entry_yaml(
    name: str,
    key: str,
    team: str | None = None,
    tags: tuple[str, ...] = (),
    expires: str | None = None,
) -> str:
    """The ``auth.keys`` entry for ``key``, as YAML to paste into ``policies/``."""
    lines = [f"- name: {name}"]
    if team:
        lines.append(f"  team: {team}")
    if tags:
        lines.append(f"  tags: [{', '.join(tags)}]")
    lines.append(f"  hash: {key_hash(key)}")
    if expires:
        lines.append(f"  expires: {expires}")
    return "\n".join(lines) + "\n"
