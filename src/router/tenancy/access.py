"""Access: which names a caller may send as ``model``. A key's ``allow`` and its team's
``allow`` must both permit a name; a scope without ``allow`` permits everything.

A name is read the way ``decide()`` reads it: a policy first, then an alias, then a logical
model, then a deployment. Anything not permitted is a 403 that lists what the caller may use;
``/v1/models`` shows only those names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from router.config.catalog import Catalog
from router.errors import PermissionDenied
from router.shapes import Principal
from router.tenancy.rules import Allow, NameKind, Tenancy

if TYPE_CHECKING:
    from router.config.load import Config  # the loader imports tenancy's rules
    from router.wire import Inbound

D = TypeVar("D")


def name_kind(
    name: str, policies: Iterable[str], aliases: Mapping[str, str], catalog: Catalog
) -> NameKind | None:
    if name in policies:
        return "policy"
    if name in aliases:
        return "alias"
    if name in catalog.models:
        return "model"
    if name in catalog.deployments:
        return "deployment"
    return None


def allows(tenancy: Tenancy, principal: Principal, kind: NameKind, name: str) -> bool:
    return all(s.allow is None or s.allow.permits(kind, name) for s in tenancy.scopes(principal))


def check_access(
    tenancy: Tenancy,
    principal: Principal,
    name: str,
    policies: Iterable[str],
    aliases: Mapping[str, str],
    catalog: Catalog,
) -> None:
    """Raise ``PermissionDenied`` unless the caller may name ``name``. An unknown name passes:
    the decision reports it as a 404 with the full list, as for any caller."""
    allow = [s.allow for s in tenancy.scopes(principal) if s.allow is not None]
    if not allow:
        return
    kind = name_kind(name, policies, aliases, catalog)
    if kind is None or all(a.permits(kind, name) for a in allow):
        return
    raise PermissionDenied(
        f"key {principal.name!r} may not use {kind} {name!r}; "
        f"it may use: {_common(allow).describe()}",
        param="model",
        code="model_not_allowed",
    )


def _common(allow: list[Allow]) -> Allow:
    """What every scope permits (a key's and its team's lists intersect)."""
    first, *rest = allow
    for other in rest:
        first = Allow(
            first.policies & other.policies,
            first.aliases & other.aliases,
            first.models & other.models,
            first.deployments & other.deployments,
        )
    return first


class GuardedDecider(Generic[D]):
    """Wraps the pipeline's decider: access is checked before any routing happens, for the
    proxy and for ``/v1/router/explain`` alike."""

    def __init__(self, inner: Callable[[Inbound, Config], D]):
        self._inner = inner

    def __call__(self, inbound: Inbound, config: Config) -> D:
        policies = config.policies
        check_access(
            config.tenancy,
            inbound.principal,
            inbound.request.chat.model,
            policies.policies,
            policies.aliases,
            config.catalog,
        )
        return self._inner(inbound, config)
