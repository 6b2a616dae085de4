"""``RouterState``: the live objects of one app, owned by the composition root (``app``): the
config (swapped atomically on reload), the pipeline, metrics, signals, the cache and admission
(the in-flight limit and each key's share of it); with what the API asks of them (model cards,
readiness).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from router import events
from router.api.admission import Admission, Slot
from router.api.auth import Authenticator
from router.cache.response import ResponseCache
from router.config import environment
from router.config.check import load_served
from router.config.lint import lint_warnings
from router.config.load import Config
from router.config.schema import ServerSpec
from router.config.yamlsrc import ConfigError
from router.errors import RouterError
from router.gate import Gate
from router.logs import DEFAULT_LOGS
from router.metrics import Metrics, TenancyMetrics
from router.pipeline import Pipeline
from router.shapes import ANONYMOUS, Clock, Principal
from router.signals import Signals, SignalSettings
from router.store import Store, StoreError
from router.tenancy.access import allows
from router.tenancy.admission import Admission as TenancyAdmission
from router.tenancy.rules import NameKind, budget_table


class RouterState:
    """The live objects of one app: config (swapped atomically on reload), pipeline, metrics,
    and admission (the in-flight limit and each key's share of it)."""

    def __init__(
        self,
        config: Config,
        config_path: Path | None,
        pipeline_factory: Callable[[RouterState], Pipeline],
        metrics: Metrics,
        environ: Mapping[str, str],
        cache: ResponseCache,
        signals: Signals,
        on_reload: Callable[[Config], None] | None = None,
        *,
        store: Store,
        limits: TenancyAdmission,
        wall_clock: Clock = time.time,
    ) -> None:
        self.cache = cache
        self.store = store  # shared state: the cache, limit counters, spend
        self.limits = limits  # tenancy's counters (not the in-flight slots below)
        self.gate = Gate(limits)
        self._on_reload = on_reload
        self.signals = signals
        self._environ = environ  # keys, the providers' and the clients'
        self._config = self._meet_environment(config)
        self.config_path = config_path
        self.metrics = metrics
        self._wall_clock = wall_clock
        self.authenticator = Authenticator(config.auth, environ, wall_clock=wall_clock)
        self.admission = Admission(lambda: self._config.server, metrics)
        self.pipeline = pipeline_factory(self)
        self.last_reload_error: str | None = None
        self.logs = DEFAULT_LOGS  # set by create_app: whether prompts may be logged

    def config(self) -> Config:
        return self._config

    def refused(self, error: RouterError) -> None:
        self.metrics.record_refusal(error.status, error.code or error.type)

    def reload(self) -> bool:
        """Load the config again; keep serving the old one if the new one is invalid."""
        if self.config_path is None:
            return False
        try:
            new = self._meet_environment(load_served(self.config_path))
        except ConfigError as exc:
            self.last_reload_error = str(exc)
            self.metrics.record_reload(ok=False)
            self.metrics.config_loaded(False, self._wall_clock())
            events.config_refused(self.config_path, str(exc))
            return False
        self._config = new
        self.authenticator = Authenticator(new.auth, self._environ, wall_clock=self._wall_clock)
        self.signals.reconfigure(signal_settings(new.server))
        if self._on_reload is not None:
            self._on_reload(new)
        self.last_reload_error = None
        self.metrics.record_reload(ok=True)
        self.metrics.config_loaded(True, self._wall_clock())
        publish_circuits(new, self.signals, self.metrics)
        TenancyMetrics(self.metrics).budgets_configured(budget_table(new.tenancy))
        events.config_reloaded(self.config_path, sorted(new.policies.policies))
        return True

    def _meet_environment(self, config: Config) -> Config:
        """Mark the deployments this environment cannot call; log that and every lint
        warning, at start and on each reload."""
        warnings = [f"{w.position}: {w.message}" for w in lint_warnings(config)]
        events.config_problems([*warnings, *environment.report(config, self._environ)])
        return environment.in_environment(config, self._environ)

    def admit(self, principal: Principal) -> Slot:
        """A slot under the in-flight limit and the key's share; raises when there is none."""
        return self.admission.admit(principal, per_key=self.authenticator.enabled)

    def model_cards(self, principal: Principal = ANONYMOUS) -> list[dict[str, Any]]:
        """Logical models, then policies and their aliases: every name this caller may send."""
        config = self._config
        policies = config.policies
        named: list[tuple[NameKind, str]] = [
            *(("model", n) for n in sorted(config.catalog.models)),
            *(("policy", n) for n in sorted(policies.policies)),
            *(("alias", n) for n in sorted(policies.aliases)),
        ]
        return [
            {"id": n, "object": "model", "created": 0, "owned_by": "router"}
            for kind, n in named
            if allows(config.tenancy, principal, kind, n)
        ]

    async def readiness(self, *, detailed: bool) -> dict[str, Any]:
        """Ready or not, for anyone; with ``detailed`` (the master key, or no keys at all),
        also where the config lives, why the last reload was refused, which deployments this
        environment cannot call, and the store's own words. Paths and error text tell an
        outsider more than whether router is up."""
        config: dict[str, Any] = {"reload_failed": self.last_reload_error is not None}
        # A degraded store slows router down (no cache) but does not make it unready. The
        # ping (bounded by the store's own timeout, skipped while its circuit is open) makes
        # the answer current, and doubles as the reconnect probe.
        with contextlib.suppress(StoreError):
            await self.cache.ping()
        health = self.cache.health()
        store: dict[str, Any] = {"backend": health.backend, "healthy": health.healthy}
        unusable = self._config.unusable
        deployments: dict[str, Any] = {
            "total": len(self._config.catalog.deployments),
            "unusable": len(unusable),
        }
        # Limits, budgets and spend count in the same store; what a failure there does is
        # each limit's on_store_error (a failing store never makes router unready).
        limits = self.limits.report(self._config.tenancy, health.healthy)
        if detailed:
            deployments["unusable"] = dict(sorted(unusable.items()))
            config["files"] = list(self._config.files)
            config["last_reload_error"] = (
                self.last_reload_error.splitlines()[0] if self.last_reload_error else None
            )
            store["detail"] = health.detail
        else:
            limits.pop("on_store_error")  # its labels name keys, teams and their amounts
        return {
            "ready": True,
            "config": config,
            "deployments": deployments,
            "store": store,
            "limits": limits,
        }

    def may_see_details(self, authorization: str | None, api_key: str | None) -> bool:
        """The master key was presented, or no key is configured (router is open anyway)."""
        if not self.authenticator.enabled:
            return True
        try:
            return self.authenticator.authenticate(authorization, api_key).is_master
        except RouterError:
            return False


def publish_circuits(config: Config, signals: Signals, metrics: Metrics) -> None:
    """Give every configured deployment its circuit-state series, so dashboards and alerts
    see it before its breaker first moves (the current state; no transition is counted)."""
    for name in config.catalog.deployments:
        metrics.set_circuit_state(name, signals.circuit(name), transition=False)


def signal_settings(server: ServerSpec) -> SignalSettings:
    return SignalSettings(
        window_s=server.signal_window_s,
        failure_threshold=server.circuit_failures,
        cool_down_s=server.circuit_cool_down_s,
    )
