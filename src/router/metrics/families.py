"""Every metric declared once, as a typed attribute on the app's own registry (see the package
docstring for the list, and ``registry.Metrics`` for how they are recorded and served)."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final, Self, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from router.metrics.workers import enable_multiprocess_values

_Family = TypeVar("_Family", Counter, Gauge, Histogram)

# fmt: off
# Whole LLM calls last from ~100 ms (cached, tiny) to minutes (long streams).
_REQUEST_BUCKETS: Final = (
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
)
# First tokens come in tens of ms to a few seconds.
_TTFT_BUCKETS: Final = (
    0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0,
)
# The router's own work should be well under a millisecond; resolve that range finely.
_OVERHEAD_BUCKETS: Final = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005,
    0.0075, 0.01, 0.025, 0.05, 0.1, 0.25,
)
# fmt: on


@dataclass(frozen=True, slots=True)
class MetricFamilies:
    """All router metrics, bound to one registry. Build with :meth:`create` (on
    :class:`router.metrics.Metrics`, which records into them)."""

    registry: CollectorRegistry
    multiprocess_dir: str | None

    requests: Counter
    request_errors: Counter
    request_duration: Histogram
    time_to_first_token: Histogram
    upstream_attempts: Counter
    upstream_attempt_duration: Histogram
    overhead: Histogram
    tokens: Counter
    cost_usd: Counter
    baseline_cost_usd: Counter
    savings_usd: Counter
    routing_decisions: Counter
    retries: Counter
    fallbacks: Counter
    hedges: Counter
    circuit_state: Gauge
    circuit_transitions: Counter
    cache_lookups: Counter
    cache_writes: Counter
    cache_avoided_cost_usd: Counter
    redis_errors: Counter
    policy_reloads: Counter
    config_last_reload_success: Gauge
    config_last_reload_timestamp: Gauge
    requests_in_flight: Gauge
    stream_interruptions: Counter
    overload_rejections: Counter
    spend_usd: Counter
    limit_refusals: Counter
    limit_store_errors: Counter
    quota_skips: Counter
    budget_used_usd: Gauge
    budget_limit_usd: Gauge
    request_log_written: Counter
    request_log_dropped: Counter
    # (family, *label values) -> its labelled child, looked up once: prometheus_client's
    # labels() validates, converts and locks on every call, a dozen times per request.
    children: dict[tuple[Any, ...], Any] = field(default_factory=dict, compare=False)

    def child(self, family: _Family, *values: str) -> _Family:
        """``family.labels(*values)``, remembered (values in the family's label order)."""
        key = (family, *values)
        found = self.children.get(key)
        if found is None:
            found = self.children[key] = family.labels(*values)
        return found

    @classmethod
    def create(
        cls,
        multiprocess_dir: str | None = None,
        *,
        environ: MutableMapping[str, str] | None = None,
    ) -> Self:
        """Declare every metric on a fresh registry.

        ``multiprocess_dir`` is the value of ``PROMETHEUS_MULTIPROC_DIR`` (or None for a
        single process). It must exist and be shared by all workers of one server.
        """
        if multiprocess_dir is not None:
            if not os.path.isdir(multiprocess_dir):
                raise ValueError(f"multiprocess_dir {multiprocess_dir!r} is not a directory")
            enable_multiprocess_values(multiprocess_dir, os.environ if environ is None else environ)
        # Process-wide switch in prometheus_client; idempotent, and wanted by every registry.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        r = CollectorRegistry(auto_describe=True)

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, registry=r)

        def histogram(
            name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...]
        ) -> Histogram:
            return Histogram(name, doc, labels, registry=r, buckets=buckets)

        return cls(
            registry=r,
            multiprocess_dir=multiprocess_dir,
            requests=counter(
                "router_requests",
                "Chat requests answered, by HTTP status class and cache use.",
                ("policy", "model", "status_class", "cache"),
            ),
            request_errors=counter(
                "router_request_errors",
                "Requests that ended in an error, by error type.",
                ("policy", "model", "error_type"),
            ),
            request_duration=histogram(
                "router_request_duration_seconds",
                "Wall time from request received to last byte sent.",
                ("policy", "model", "stream"),
                _REQUEST_BUCKETS,
            ),
            time_to_first_token=histogram(
                "router_time_to_first_token_seconds",
                "Time from request received to the first content token sent.",
                ("policy", "model", "deployment"),
                _TTFT_BUCKETS,
            ),
            upstream_attempts=counter(
                "router_upstream_attempts",
                "Calls made to a deployment, by outcome.",
                ("deployment", "provider", "outcome"),
            ),
            upstream_attempt_duration=histogram(
                "router_upstream_attempt_duration_seconds",
                "Duration of one call to a deployment, by outcome.",
                ("deployment", "provider", "outcome"),
                _REQUEST_BUCKETS,
            ),
            overhead=histogram(
                "router_overhead_seconds",
                "Router's own time per request: total minus time waiting on upstreams.",
                ("stream",),
                _OVERHEAD_BUCKETS,
            ),
            tokens=counter(
                "router_tokens",
                "Tokens processed, by direction (input or output).",
                ("model", "deployment", "direction"),
            ),
            cost_usd=counter(
                "router_cost_usd",
                "Spend in US dollars at the deployment's price.",
                ("policy", "model", "deployment"),
            ),
            baseline_cost_usd=counter(
                "router_baseline_cost_usd",
                "What the same requests would have cost on the baseline model, in US dollars.",
                ("policy", "model", "baseline"),
            ),
            savings_usd=counter(
                "router_savings_usd",
                "Positive part of baseline cost minus actual cost, per request, in US dollars.",
                ("policy", "model", "baseline"),
            ),
            routing_decisions=counter(
                "router_routing_decisions",
                "Routing decisions, by the rule that matched.",
                ("policy", "rule", "model"),
            ),
            retries=counter(
                "router_retries",
                "Retries against a deployment, by reason.",
                ("deployment", "reason"),
            ),
            fallbacks=counter(
                "router_fallbacks",
                "Fallbacks from one deployment to another.",
                ("policy", "from_deployment", "to_deployment"),
            ),
            hedges=counter(
                "router_hedges",
                "Hedged (duplicate) upstream calls, by outcome.",
                ("policy", "outcome"),
            ),
            # Breakers are per worker: report the worst state among live workers.
            circuit_state=Gauge(
                "router_circuit_state",
                "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
                ("deployment",),
                registry=r,
                multiprocess_mode="livemax",
            ),
            circuit_transitions=counter(
                "router_circuit_transitions",
                "Circuit breaker state changes, by new state.",
                ("deployment", "to_state"),
            ),
            cache_lookups=counter(
                "router_cache_lookups",
                "Response cache lookups, by result (hit, miss, bypass, coalesced).",
                ("policy", "result"),
            ),
            cache_writes=counter(
                "router_cache_writes",
                "Answers written to the response cache, by result (stored, failed).",
                ("policy", "result"),
            ),
            cache_avoided_cost_usd=counter(
                "router_cache_avoided_cost_usd",
                "Spend avoided by answering from the cache, in US dollars.",
                ("policy", "model"),
            ),
            redis_errors=counter("router_redis_errors", "Failed Redis operations.", ("operation",)),
            policy_reloads=counter(
                "router_policy_reloads", "Policy hot-reloads, by result.", ("result",)
            ),
            # Each worker reloads on its own: any worker refusing shows as 0.
            config_last_reload_success=Gauge(
                "router_config_last_reload_success",
                "1 if the last config load or reload succeeded, 0 if it was refused.",
                registry=r,
                multiprocess_mode="livemin",
            ),
            config_last_reload_timestamp=Gauge(
                "router_config_last_reload_timestamp_seconds",
                "Unix time of the last config load or reload, successful or not.",
                registry=r,
                multiprocess_mode="livemax",
            ),
            # Summed over live workers only, so a dead worker's requests stop counting.
            requests_in_flight=Gauge(
                "router_requests_in_flight",
                "Requests being processed right now.",
                registry=r,
                multiprocess_mode="livesum",
            ),
            stream_interruptions=counter(
                "router_stream_interruptions",
                "Streams that broke after the first byte, by reason.",
                ("deployment", "reason"),
            ),
            overload_rejections=counter(
                "router_overload_rejections", "Requests rejected because the router is overloaded."
            ),
            # Tenancy: team and key are names from config (a key's name, never the key).
            spend_usd=counter(
                "router_spend_usd", "Spend in US dollars, by team and key.", ("team", "key")
            ),
            limit_refusals=counter(
                "router_limit_refusals",
                "Requests refused by a key's or team's limit or budget (429).",
                ("scope", "name", "limit"),
            ),
            limit_store_errors=counter(
                "router_limit_store_errors",
                "Limit checks the store could not answer, by what on_store_error did.",
                ("on_error",),
            ),
            quota_skips=counter(
                "router_deployment_quota_skips",
                "Deployments passed over because they were at their own rpm/tpm/concurrent quota.",
                ("deployment", "limit"),
            ),
            # The latest reading any live worker reported (every admission reads the budget).
            budget_used_usd=Gauge(
                "router_budget_used_usd",
                "US dollars used of a key's or team's budget in its current period.",
                ("scope", "name", "period"),
                registry=r,
                multiprocess_mode="livemostrecent",
            ),
            budget_limit_usd=Gauge(
                "router_budget_limit_usd",
                "A key's or team's budget per period, in US dollars (from config).",
                ("scope", "name", "period"),
                registry=r,
                multiprocess_mode="livemax",
            ),
            request_log_written=counter(
                "router_request_log_written",
                "Request records written to the request log, by sink.",
                ("sink",),
            ),
            request_log_dropped=counter(
                "router_request_log_dropped",
                "Request records dropped instead of written, by reason.",
                ("reason",),
            ),
        )
