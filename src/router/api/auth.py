"""Who is calling: the master key and static client keys, compared in constant time.

Keys come only from the environment (config names the variable). The routes that need no key
are one constant, ``PUBLIC_PATHS``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

from router.config.schema import AuthSpec
from router.errors import AuthenticationFailed
from router.shapes import ANONYMOUS, Principal

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MASTER_KEY_ENV = "ROUTER_MASTER_KEY"


@dataclass(frozen=True, slots=True)
class _KeyEntry:
    digest: bytes
    principal: Principal


class Authenticator:
    """Resolves a bearer token to a principal; ``enabled`` is false when no key is configured."""

    def __init__(self, spec: AuthSpec, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._entries: list[_KeyEntry] = []
        master = env.get(MASTER_KEY_ENV)
        if master:
            self._entries.append(_KeyEntry(_digest(master), Principal("master", is_master=True)))
        for key in spec.keys:
            value = env.get(key.key_env)
            if value:
                who = Principal(key.name, key.team, frozenset(key.tags))
                self._entries.append(_KeyEntry(_digest(value), who))

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def authenticate(self, authorization: str | None, api_key: str | None = None) -> Principal:
        if not self._entries:
            return ANONYMOUS
        token = _bearer(authorization) or api_key
        if not token:
            raise AuthenticationFailed(
                "Missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key"
            )
        digest = _digest(token)
        found: Principal | None = None
        # Compare against every entry so timing does not reveal which one matched.
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, digest):
                found = entry.principal
        if found is None:
            raise AuthenticationFailed("Incorrect API key provided")
        return found


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
