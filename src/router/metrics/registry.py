"""The metrics as router uses them: ``Metrics`` records into the families declared in
``families`` (its ``record_*`` and cache observer methods are the only callers of
``.labels()`` outside the per-request ``RequestMetrics``; what is recorded per request goes
through ``child``, which looks each label set up once), and serves ``/metrics``."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from router.metrics.families import MetricFamilies
from router.metrics.labels import CIRCUIT_STATES, status_class


class Metrics(MetricFamilies):
    """All router metrics, bound to one registry. Build with :meth:`create`."""

    __slots__ = ()

    # -- recording: the only callers of .labels() ----------------------------------------
    # Per request, the pipeline records through ``RequestMetrics`` (metrics.request); these
    # are for the other places that see something worth counting.

    def record_refusal(self, status_code: int, error_code: str) -> None:
        """A request refused before any routing decision (bad input, auth, size): there is no
        policy or model to name, so both labels say ``none``."""
        self.child(self.requests, "none", "none", status_class(status_code), "bypass").inc()
        self.child(self.request_errors, "none", "none", error_code).inc()

    def record_overload(self) -> None:
        """A request shed at the in-flight limit."""
        self.overload_rejections.inc()

    def record_admitted(self) -> None:
        self.requests_in_flight.inc()

    def record_released(self) -> None:
        self.requests_in_flight.dec()

    def record_log_written(self, sink: str, count: int) -> None:
        """Request records a request-log sink stored (``jsonl``, ``redis``)."""
        self.request_log_written.labels(sink).inc(count)

    def record_log_dropped(self, reason: str, count: int = 1) -> None:
        """Request records lost: ``queue_full``, ``sink_error``, ``encode_error``,
        ``shutdown``."""
        self.request_log_dropped.labels(reason).inc(count)

    def record_reload(self, ok: bool) -> None:
        self.policy_reloads.labels("success" if ok else "failure").inc()

    def record_attempt(
        self,
        deployment: str,
        provider: str,
        result: str,
        duration_s: float,
        retry_of: str | None = None,
    ) -> None:
        """One call to a deployment: ``result`` is ``success``, ``cancelled`` or the failure
        kind; ``retry_of`` the kind of failure this attempt retried after."""
        self.child(self.upstream_attempts, deployment, provider, result).inc()
        self.child(self.upstream_attempt_duration, deployment, provider, result).observe(duration_s)
        if retry_of is not None:
            self.child(self.retries, deployment, retry_of).inc()

    def record_stream_interruption(self, deployment: str, reason: str) -> None:
        self.stream_interruptions.labels(deployment, reason).inc()

    def record_hedge(self, policy: str, result: str) -> None:
        self.hedges.labels(policy, result).inc()

    # The response cache's observer (``router.cache.entry.CacheObserver``): scope is the
    # policy label ('direct' for a request that named a logical model).

    def on_result(self, scope: str, result: str) -> None:
        if result == "stored":
            self.child(self.cache_writes, scope, "stored").inc()
        else:
            self.child(self.cache_lookups, scope, result).inc()

    def on_write_failed(self, scope: str) -> None:
        self.cache_writes.labels(scope, "failed").inc()

    def on_coalesced(self, scope: str) -> None:
        self.cache_lookups.labels(scope, "coalesced").inc()

    def on_avoided_cost(self, scope: str, model: str, usd: float) -> None:
        self.cache_avoided_cost_usd.labels(scope, model).inc(usd)

    def on_store_error(self, operation: str) -> None:
        self.redis_errors.labels(operation).inc()

    def record_tokens(
        self, model: str, deployment: str, input_tokens: int, output_tokens: int
    ) -> None:
        """Count a response's tokens in both directions."""
        self.child(self.tokens, model, deployment, "input").inc(max(input_tokens, 0))
        self.child(self.tokens, model, deployment, "output").inc(max(output_tokens, 0))

    def record_cost(
        self,
        policy: str,
        model: str,
        deployment: str,
        cost_usd: float,
        baseline: str | None = None,
        baseline_cost_usd: float | None = None,
    ) -> None:
        """Count a request's spend and, when a baseline is configured, its saving."""
        cost = max(cost_usd, 0.0)
        self.child(self.cost_usd, policy, model, deployment).inc(cost)
        if baseline is None or baseline_cost_usd is None:
            return
        base = max(baseline_cost_usd, 0.0)
        self.child(self.baseline_cost_usd, policy, model, baseline).inc(base)
        self.child(self.savings_usd, policy, model, baseline).inc(max(base - cost, 0.0))

    def config_loaded(self, ok: bool, at: float) -> None:
        """A config load (start-up) or reload: ``ok`` False when it was refused."""
        self.config_last_reload_success.set(1 if ok else 0)
        self.config_last_reload_timestamp.set(at)

    def set_circuit_state(self, deployment: str, state: str, *, transition: bool = True) -> None:
        """Publish a breaker's state; ``transition`` also counts the change."""
        self.circuit_state.labels(deployment=deployment).set(CIRCUIT_STATES[state])
        if transition:
            self.circuit_transitions.labels(deployment=deployment, to_state=state).inc()

    # -- exposition --------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """Body and content type for ``GET /metrics``."""
        if self.multiprocess_dir is not None:
            return self.render_directory(self.multiprocess_dir)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    @staticmethod
    def render_directory(path: str) -> tuple[bytes, str]:
        """Merge and render what every process wrote under a multiprocess directory.

        A fresh registry each time: the collector reads the files on every scrape, and
        this process's own metric objects must not be rendered a second time.
        """
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def mark_process_dead(self, pid: int | None = None) -> None:
        """Drop a worker's live gauges (in-flight, circuit state) when it exits.

        Call from the worker's shutdown with no argument, or from a supervisor with the
        dead child's pid. A no-op for a single process.
        """
        if self.multiprocess_dir is not None:
            dead = os.getpid() if pid is None else pid
            multiprocess.mark_process_dead(dead, self.multiprocess_dir)  # type: ignore[no-untyped-call]

    def sample_names(self) -> frozenset[str]:
        """Every series name ``/metrics`` can expose (``_total``, ``_bucket``, ...)."""
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
            "gauge": ("",),
        }
        names: set[str] = set()
        for family in self.registry.collect():
            names.update(family.name + s for s in suffixes.get(family.type, ("",)))
        return frozenset(names)
