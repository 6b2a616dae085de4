"""Composition root: ``create_app(config_path, *, upstream, metrics, clock, ...)``.

Everything with I/O is passed in, so a test builds a whole app per test. The middleware stack
is one list, outermost first; the lifespan reads like a table of contents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import Response

from router import events
from router.api import admin
from router.api import anthropic as anthropic_api
from router.api.access import AccessLogMiddleware
from router.api.admission import Admission, Slot
from router.api.auth import Authenticator
from router.api.errors import error_body
from router.api.middleware import (
    AuthMiddleware,
    BodyLimitMiddleware,
    ErrorMiddleware,
    RequestIdMiddleware,
)
from router.api.openai import json_response, routes
from router.cache.response import ResponseCache
from router.cache.steps import CacheUse
from router.config.check import load_checked
from router.config.load import Config
from router.config.schema import ServerSpec, config_files
from router.config.yamlsrc import ConfigError
from router.dispatch.dispatcher import Dispatcher
from router.dispatch.observer import LiveObserver
from router.errors import (
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    RouterError,
)
from router.logs import DEFAULT_LOGS, LogSettings
from router.metrics import MULTIPROC_ENV, Metrics
from router.pipeline import Pipeline
from router.policy.decider import PolicyDecider
from router.shapes import ANONYMOUS, CircuitState, Principal
from router.signals import Signals, SignalSettings
from router.store import Store, StoreError, create_store
from router.tenancy.access import GuardedDecider, allows
from router.tenancy.rules import NameKind
from router.tracing import Tracing
from router.upstream import Upstream
from router.upstream.select import Upstreams, default_upstreams

log = logging.getLogger("router")


class RouterState:
    """The live objects of one app: config (swapped atomically on reload), pipeline, metrics,
    and admission (the in-flight limit and each key's share of it)."""

    def __init__(
        self,
        config: Config,
        config_path: Path | None,
        pipeline_factory: Callable[[RouterState], Pipeline],
        metrics: Metrics,
        environ: Mapping[str, str] | None,
        cache: ResponseCache,
        signals: Signals,
        on_reload: Callable[[Config], None] | None = None,
    ) -> None:
        self.cache = cache
        self._on_reload = on_reload
        self.signals = signals
        self._config = config
        self.config_path = config_path
        self.metrics = metrics
        self._environ = environ
        self.authenticator = Authenticator(config.auth, environ)
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
            new = load_checked(self.config_path)
        except ConfigError as exc:
            self.last_reload_error = str(exc)
            self.metrics.record_reload(ok=False)
            self.metrics.config_loaded(False, time.time())
            events.config_refused(self.config_path, str(exc))
            return False
        self._config = new
        self.authenticator = Authenticator(new.auth, self._environ)
        self.signals.reconfigure(_signal_settings(new.server))
        if self._on_reload is not None:
            self._on_reload(new)
        self.last_reload_error = None
        self.metrics.record_reload(ok=True)
        self.metrics.config_loaded(True, time.time())
        publish_circuits(new, self.signals, self.metrics)
        events.config_reloaded(self.config_path, sorted(new.policies.policies))
        return True

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

    async def readiness(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "ready": True,
            "config": {"files": list(self._config.files), "last_reload_error": None},
        }
        if self.last_reload_error:
            report["config"]["last_reload_error"] = self.last_reload_error.splitlines()[0]
        # A degraded store slows router down (no cache) but does not make it unready. The
        # ping (bounded by the store's own timeout, skipped while its circuit is open) makes
        # the answer current, and doubles as the reconnect probe.
        with contextlib.suppress(StoreError):
            await self.cache.ping()
        health = self.cache.health()
        report["store"] = {
            "backend": health.backend,
            "healthy": health.healthy,
            "detail": health.detail,
        }
        return report


def create_app(
    config: Config | Path,
    *,
    upstream: Upstream | None = None,
    metrics: Metrics | None = None,
    store: Store | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    watch_interval_s: float | None = 1.0,
    logs: LogSettings = DEFAULT_LOGS,
    tracing: Tracing | None = None,
) -> FastAPI:
    path = config if isinstance(config, Path) else None
    loaded = load_checked(config) if isinstance(config, Path) else config
    env = os.environ if environ is None else environ
    metrics = metrics or Metrics.create(env.get(MULTIPROC_ENV))
    upstreams = upstream or default_upstreams(env)
    called: Upstream = upstreams  # what dispatch calls
    if tracing is not None:  # a span per attempt; untraced, the upstream is called directly
        from router.tracing.upstream import TracedUpstream

        called = TracedUpstream(upstreams, tracing)

    def circuit_changed(deployment: str, state: CircuitState) -> None:
        metrics.set_circuit_state(deployment, state)
        events.circuit_changed(deployment, state)

    signals = Signals(clock, _signal_settings(loaded.server), circuit_changed)
    metrics.config_loaded(True, time.time())
    publish_circuits(loaded, signals, metrics)
    shared = store or create_store(
        env.get("REDIS_URL") or None,
        on_health=lambda ok, detail: events.store_health("redis", ok, detail),
    )
    cache = CacheUse(ResponseCache(shared, metrics), metrics)

    def build_pipeline(state: RouterState) -> Pipeline:
        dispatcher = Dispatcher(called, LiveObserver(signals, metrics))
        return Pipeline(
            state.config,
            GuardedDecider(PolicyDecider(signals)),
            dispatcher,
            metrics,
            signals,
            cache,
            clock=clock,
            tracing=tracing,
        )

    preparing: set[asyncio.Task[None]] = set()

    def prepare_upstreams(new: Config) -> None:
        # A reload may bring the first deployment that needs litellm: load it now, not on
        # the first request that goes there.
        if not isinstance(upstreams, Upstreams):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # reloaded outside the server (a test): the first use will load it
        deployments = list(new.catalog.deployments.values())
        task = loop.create_task(upstreams.prepare(deployments))
        preparing.add(task)
        task.add_done_callback(preparing.discard)

    state = RouterState(
        loaded, path, build_pipeline, metrics, environ, cache.cache, signals, prepare_upstreams
    )
    state.logs = logs

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if isinstance(upstreams, Upstreams):
            await upstreams.prepare(state.config().catalog.deployments.values())
        hangup = _on_sighup(state)
        watcher = _start_watching(state, watch_interval_s)
        served = state.config()
        events.started(
            files=served.files,
            policies=sorted(served.policies.policies),
            deployments=len(served.catalog.deployments),
            store=shared.backend,
            auth=state.authenticator.enabled,
            tracing=tracing.destination if tracing is not None else None,
        )
        try:
            yield
        finally:
            if hangup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await upstreams.aclose()
            if tracing is not None:
                tracing.shutdown()  # flush the spans still queued
            await shared.aclose()
            metrics.mark_process_dead()

    # Outermost first: the request id exists before anything can fail, and the access log
    # sees every request that has one, refusals included.
    middleware = [
        Middleware(RequestIdMiddleware),
        *_tracing_middleware(tracing),
        *([Middleware(AccessLogMiddleware)] if logs.access_log else []),
        Middleware(ErrorMiddleware, refused=state.refused),
        Middleware(
            BodyLimitMiddleware,
            limit=lambda: state.config().server.max_body_bytes,
            refused=state.refused,
            header_limit=lambda: state.config().server.max_header_bytes,
        ),
        Middleware(
            AuthMiddleware, authenticator=lambda: state.authenticator, refused=state.refused
        ),
    ]
    app = FastAPI(
        title="router",
        version="0.1.0",
        lifespan=lifespan,
        middleware=middleware,
        docs_url=None,
        redoc_url=None,
    )
    app.state.router = state
    app.include_router(routes)
    app.include_router(anthropic_api.routes)
    app.include_router(admin.routes)
    _install_error_handlers(app)
    return app


def _tracing_middleware(tracing: Tracing | None) -> list[Middleware]:
    """The request span, when tracing is on (imported only then: OpenTelemetry is slow to
    import, and an untraced router never needs it)."""
    if tracing is None:
        return []
    from router.api.tracing import TracingMiddleware

    return [Middleware(TracingMiddleware, tracing=tracing)]


def publish_circuits(config: Config, signals: Signals, metrics: Metrics) -> None:
    """Give every configured deployment its circuit-state series, so dashboards and alerts
    see it before its breaker first moves (the current state; no transition is counted)."""
    for name in config.catalog.deployments:
        metrics.set_circuit_state(name, signals.circuit(name), transition=False)


def _signal_settings(server: ServerSpec) -> SignalSettings:
    return SignalSettings(
        window_s=server.signal_window_s,
        failure_threshold=server.circuit_failures,
        cool_down_s=server.circuit_cool_down_s,
    )


def _on_sighup(state: RouterState) -> bool:
    """Hot reload on SIGHUP, whether or not the file watcher runs (SIGHUP's default action
    would end the process). Only the main thread can take signals: elsewhere, False."""
    if state.config_path is None:
        return False
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, state.reload)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


def _start_watching(state: RouterState, interval: float | None) -> asyncio.Task[None] | None:
    """Hot reload when a config file's mtime changes (polled: cheap, and works on every
    filesystem, including bind mounts that drop inotify events); ``None``: no polling."""
    if state.config_path is None or interval is None:
        return None
    return asyncio.get_running_loop().create_task(_poll(state, state.config_path, interval))


def _fingerprint(path: Path) -> tuple[tuple[str, float, int], ...]:
    out = []
    for f in config_files(path) if path.exists() else []:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((str(f), st.st_mtime, st.st_size))
    return tuple(out)


async def _poll(state: RouterState, path: Path, interval: float) -> None:
    seen = _fingerprint(path)
    while True:
        await asyncio.sleep(interval)
        now = _fingerprint(path)
        if now != seen:
            seen = now
            state.reload()


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RouterError)
    async def router_error(request: Request, exc: RouterError) -> Response:
        return json_response(error_body(exc, request.url.path), exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ()))
        err = InvalidRequest(f"invalid request: {first.get('msg', 'bad input')}", param=param)
        return json_response(error_body(err, request.url.path), err.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        err: RouterError
        if exc.status_code == 404:
            err = NotFound(f"Unknown route: {request.method} {request.url.path}")
        elif exc.status_code == 405:
            err = MethodNotAllowed(f"Method {request.method} is not allowed on {request.url.path}")
        else:
            err = InvalidRequest(str(exc.detail))
            err.status = exc.status_code
        return json_response(error_body(err, request.url.path), err.status, dict(exc.headers or {}))
