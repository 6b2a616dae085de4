"""Who is calling: the master key and client keys, compared in constant time over hashes.

Client keys come from config, as a hash (``hash: sha256:<hex>``, so the file can be committed)
or as the name of an environment variable holding the key (``key_env``). A key may carry an
expiry. The authenticator is rebuilt on every config reload, so a reload adds, changes and
revokes keys without a restart. The routes that need no key are one constant,
``PUBLIC_PATHS``.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC

from router.config.schema import AuthSpec
from router.errors import AuthenticationFailed
from router.shapes import ANONYMOUS, Principal
from router.tenancy.keys import digest, expiry_instant, hash_digest

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MASTER_KEY_ENV = "ROUTER_MASTER_KEY"


@dataclass(frozen=True, slots=True)
class _KeyEntry:
    digest: bytes
    principal: Principal
    expires_at: float | None = None  # POSIX seconds
    expires_text: str = ""


class Authenticator:
    """Resolves a bearer token to a principal; ``enabled`` is false when no key is configured."""

    def __init__(
        self,
        spec: AuthSpec,
        environ: Mapping[str, str] | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ if environ is None else environ
        self._wall_clock = wall_clock
        self._entries: list[_KeyEntry] = []
        master = env.get(MASTER_KEY_ENV)
        if master:
            self._entries.append(_KeyEntry(digest(master), Principal("master", is_master=True)))
        for key in spec.keys:
            if key.hash is not None:
                raw: bytes | None = hash_digest(key.hash)
            else:
                value = env.get(key.key_env) if key.key_env else None
                raw = digest(value) if value else None
            if raw is None:
                continue  # its variable is unset: that key cannot authenticate
            who = Principal(key.name, key.team, frozenset(key.tags))
            expires = expiry_instant(key.expires)
            self._entries.append(
                _KeyEntry(
                    raw,
                    who,
                    expires.timestamp() if expires else None,
                    expires.astimezone(UTC).isoformat() if expires else "",
                )
            )

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def authenticate(self, authorization: str | None, api_key: str | None = None) -> Principal:
        if not self._entries:
            return ANONYMOUS
        token = _bearer(authorization) or api_key
        if not token:
            raise AuthenticationFailed(
                "Missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                code="missing_api_key",
            )
        presented = digest(token)
        found: _KeyEntry | None = None
        # Compare against every entry so timing does not reveal which one matched.
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, presented):
                found = entry
        if found is None:
            raise AuthenticationFailed("Incorrect API key provided")
        if found.expires_at is not None and self._wall_clock() >= found.expires_at:
            raise AuthenticationFailed(
                f"API key {found.principal.name!r} expired at {found.expires_text}",
                code="expired_api_key",
            )
        return found.principal


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
