"""The operational events router logs, one function each, so their names and fields are
declared once: start-up, config reloads (success and refusal), deployment circuits, and the
cache store's health. Each is one structured log line (see :mod:`router.logs`).

No secrets: a config error names files and positions, a store error names the operation and
the exception's type, never a URL or a key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from router.logs import event

_events = logging.getLogger("router.events")
_store = logging.getLogger("router.store")


def started(
    *,
    files: Sequence[str],
    policies: Sequence[str],
    deployments: int,
    store: str,
    auth: bool,
    tracing: str | None,
) -> None:
    _events.info(
        "router started: %d policies, %d deployments",
        len(policies),
        deployments,
        extra=event(
            "startup",
            config=list(files),
            policies=list(policies),
            deployments=deployments,
            store=store,
            auth="on" if auth else "off",
            tracing=tracing or "off",
        ),
    )


def config_reloaded(path: Path, policies: Sequence[str]) -> None:
    _events.info(
        "config reloaded from %s",
        path,
        extra=event("config_reloaded", path=str(path), policies=list(policies)),
    )


def config_refused(path: Path, error: str) -> None:
    _events.error(
        "config reload refused, still serving the previous config:\n%s",
        error,
        extra=event("config_refused", path=str(path), error=error.splitlines()[0]),
    )


def config_problems(lines: Sequence[str]) -> None:
    """What the environment lacks for this config (unset keys, placeholder hosts): each line
    a warning, at start and on every reload."""
    for line in lines:
        _events.warning(line, extra=event("config_problem", problem=line))


def circuit_changed(deployment: str, state: str) -> None:
    level = logging.WARNING if state == "open" else logging.INFO
    _events.log(
        level,
        "circuit of %s is now %s",
        deployment,
        state,
        extra=event("circuit", deployment=deployment, state=state),
    )


def store_health(backend: str, healthy: bool, detail: str) -> None:
    if healthy:
        _store.info(
            "%s store is healthy again",
            backend,
            extra=event("store_health", backend=backend, healthy=True),
        )
    else:
        _store.warning(
            "%s store is failing, the cache is bypassed: %s",
            backend,
            detail,
            extra=event("store_health", backend=backend, healthy=False, error=detail),
        )
