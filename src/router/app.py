"""Composition root: ``create_app(config_path, *, upstream, metrics, store, environ, clock,
wall_clock, ...)`` builds every part once and wires them; the live objects sit on a
``RouterState`` (``state``).

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
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import Response

from router import events
from router.api import admin
from router.api import anthropic as anthropic_api
from router.api.access import AccessLogMiddleware
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
from router.config.check import load_served
from router.config.load import Config
from router.config.raw import config_files
from router.dispatch.dispatcher import Dispatcher
from router.dispatch.observer import LiveObserver
from router.errors import (
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    RouterError,
)
from router.logs import DEFAULT_LOGS, LogSettings
from router.metrics import MULTIPROC_ENV, Metrics, TenancyMetrics
from router.pipeline import Pipeline
from router.policy.decider import PolicyDecider
from router.requestlog.factory import create_request_log
from router.requestlog.trail import RequestRecorder
from router.shapes import CircuitState, Clock
from router.signals import Signals
from router.state import RouterState, publish_circuits, signal_settings
from router.store import Store, create_store
from router.tenancy.access import GuardedDecider
from router.tenancy.admission import Admission as TenancyAdmission
from router.tenancy.rules import budget_table
from router.tracing import Tracing
from router.upstream import Upstream
from router.upstream.select import Upstreams, default_upstreams

log = logging.getLogger("router")
# Every Redis call is bounded by this (seconds); past it the call counts as a store failure
# (the cache is bypassed, each limit follows its on_store_error).
STORE_TIMEOUT_ENV = "ROUTER_STORE_TIMEOUT_S"
DEFAULT_STORE_TIMEOUT_S = 0.1
_NO_FASTAPI_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(
    config: Config | Path,
    *,
    upstream: Upstream | None = None,
    metrics: Metrics | None = None,
    store: Store | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock = time.perf_counter,
    wall_clock: Clock = time.time,
    watch_interval_s: float | None = 1.0,
    logs: LogSettings = DEFAULT_LOGS,
    tracing: Tracing | None = None,
) -> FastAPI:
    path = config if isinstance(config, Path) else None
    loaded = load_served(config) if isinstance(config, Path) else config
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

    signals = Signals(clock, signal_settings(loaded.server), circuit_changed)
    metrics.config_loaded(True, wall_clock())
    publish_circuits(loaded, signals, metrics)
    shared = store or create_store(
        env.get("REDIS_URL") or None,
        timeout_s=float(env.get(STORE_TIMEOUT_ENV) or DEFAULT_STORE_TIMEOUT_S),
        on_health=lambda ok, detail: events.store_health("redis", ok, detail),
    )
    # Entries are stamped with wall time (replicas share them); single-flight waits use ours.
    cache = CacheUse(ResponseCache(shared, metrics, wall_clock, flight_clock=clock), metrics)
    tenancy = TenancyMetrics(metrics)
    tenancy.budgets_configured(budget_table(loaded.tenancy))
    limits = TenancyAdmission(shared, tenancy, wall_clock=wall_clock)
    request_log = create_request_log(loaded, metrics, env)  # read at start-up only
    recorder = RequestRecorder(request_log, metrics) if request_log.enabled else None

    def build_pipeline(state: RouterState) -> Pipeline:
        dispatcher = Dispatcher(called, LiveObserver(signals, metrics), clock=clock)
        return Pipeline(
            state.config,
            GuardedDecider(PolicyDecider(signals, budget_use=state.gate.budget_use)),
            dispatcher,
            metrics,
            signals,
            cache,
            clock=clock,
            tracing=tracing,
            gate=state.gate,
            recorder=recorder,
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
        loaded,
        path,
        build_pipeline,
        metrics,
        env,
        cache.cache,
        signals,
        prepare_upstreams,
        store=shared,
        limits=limits,
        wall_clock=wall_clock,
    )
    state.logs = logs

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if isinstance(upstreams, Upstreams):
            await upstreams.prepare(state.config().catalog.deployments.values())
        request_log.start()
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
            await limits.aclose()  # settlements still queued reach the store
            await request_log.aclose()  # what is queued is written, for a few seconds at most
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
        # router's spans are its own (router.tracing); FastAPI's native telemetry would add a
        # second server span under any global provider, and asks each request whether one is
        # configured (three provider look-ups and environment reads per request).
        telemetry=_NO_FASTAPI_TELEMETRY,
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
