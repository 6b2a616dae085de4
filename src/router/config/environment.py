"""What the config cannot know until it meets its environment: deployments whose key variable
is unset or empty, or whose ``base_url`` is still a placeholder (``YOUR-RESOURCE``), and client
keys whose variable is unset.

Such a deployment would only be found out by the first request that fails on it (and then be
retried, counted against its health, and tried again); instead it is excluded from routing
with its reason, which ``explain`` shows and ``/readyz`` lists, and ``router serve`` and
``router check`` report it at start and on every reload.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from types import MappingProxyType

from router.config.catalog import Catalog, Deployment
from router.config.load import Config
from router.config.schema import AuthSpec

# Placeholders the shipped examples and common docs use in URLs: YOUR-RESOURCE, your_endpoint,
# <resource>, {resource}.
_PLACEHOLDER = re.compile(r"(?i)\byour[-_][a-z0-9_-]*|<[^>/]*>|\{[^}/]*\}|%3C[^/]*%3E")


def placeholder_in(url: str) -> str | None:
    """The placeholder part of ``url``, if it still has one."""
    found = _PLACEHOLDER.search(url)
    return found.group(0) if found else None


def unusable_reason(deployment: Deployment, environ: Mapping[str, str]) -> str | None:
    if deployment.base_url and (held := placeholder_in(deployment.base_url)):
        return f"base_url still has the placeholder {held!r}"
    name = deployment.api_key_env
    if name and not environ.get(name, "").strip():
        return f"its key variable {name} is {'empty' if name in environ else 'unset'}"
    return None


def unusable_deployments(catalog: Catalog, environ: Mapping[str, str]) -> dict[str, str]:
    """Deployment name -> why it cannot be called in this environment."""
    found = {}
    for name, deployment in catalog.deployments.items():
        reason = unusable_reason(deployment, environ)
        if reason is not None:
            found[name] = reason
    return found


def unset_client_keys(auth: AuthSpec, environ: Mapping[str, str]) -> dict[str, str]:
    """Client key name -> why it can never authenticate (its variable holds nothing)."""
    return {
        key.name: f"its key variable {key.key_env} is unset"
        for key in auth.keys
        if key.key_env and not environ.get(key.key_env, "").strip()
    }


def in_environment(config: Config, environ: Mapping[str, str]) -> Config:
    """``config`` with the deployments this environment cannot call marked unusable."""
    unusable = unusable_deployments(config.catalog, environ)
    return dataclasses.replace(config, unusable=MappingProxyType(unusable))


def report(
    config: Config, environ: Mapping[str, str], clients: Mapping[str, str] | None = None
) -> list[str]:
    """One line per problem, for logs and ``router check``: what this environment lacks.
    ``clients``: where client keys are read, when not from ``environ``."""
    lines = [
        f"deployment {name} is excluded from routing: {why}"
        for name, why in sorted(unusable_deployments(config.catalog, environ).items())
    ]
    lines += [
        f"client key {name} cannot authenticate: {why}"
        for name, why in sorted(
            unset_client_keys(config.auth, environ if clients is None else clients).items()
        )
    ]
    return lines
