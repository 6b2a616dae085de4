"""What the native adapters (``openai_compat``, ``anthropic``) share: one pooled aiohttp
session each, and a table of per-deployment targets (URL, headers, key, timeouts) built once,
not per request.

A target is rebuilt when a hot reload brings a new ``Deployment`` under the same name: it may
carry another ``base_url``, key variable or version, and traffic must move with it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import aiohttp

from router.config.catalog import Deployment

T = TypeVar("T")


class Targets(Generic[T]):
    """``targets(deployment)``: its target, from ``build(deployment, environ)`` the first time
    this ``Deployment`` object is seen. Keys are read from ``environ`` (default: the
    process's), never from ``os.environ`` behind the caller's back."""

    def __init__(
        self,
        build: Callable[[Deployment, Mapping[str, str]], T],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._build = build
        self._environ = os.environ if environ is None else environ
        self._table: dict[str, tuple[Deployment, T]] = {}

    def __call__(self, deployment: Deployment) -> T:
        known = self._table.get(deployment.name)
        # By identity: cheap, and exactly "the same config as last time".
        if known is None or known[0] is not deployment:
            known = self._table[deployment.name] = (
                deployment,
                self._build(deployment, self._environ),
            )
        return known[1]


class Pool:
    """One aiohttp session for an adapter, made on first use (inside the event loop)."""

    def __init__(self, *, limit_per_host: int = 0, **session: Any) -> None:
        self._limit_per_host = limit_per_host
        self._options = session
        self._session: aiohttp.ClientSession | None = None

    def client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0, limit_per_host=self._limit_per_host, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                trust_env=False,  # never route through an environment proxy
                **self._options,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
