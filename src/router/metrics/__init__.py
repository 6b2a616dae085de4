"""Prometheus metrics for the router, declared once, on the app's own registry.

Every metric is declared in ``families`` as a typed attribute of :class:`Metrics`, recorded
only through functions of this package: per request through :class:`RequestMetrics`
(``request``), elsewhere through ``Metrics.record_*`` and the cache observer methods
(``registry``); ``/metrics`` serves :meth:`Metrics.render`. Nothing here imports any other
part of router. Labels are low-cardinality by design: policy, logical model, deployment,
provider and small enums. Never a user, key or prompt.

Metric, its labels, and the question it answers:

``router_requests_total{policy, model, status_class, cache}``
    How much traffic, and how much of it fails?
``router_request_errors_total{policy, model, error_type}``
    Which kinds of error do clients see?
``router_request_duration_seconds{policy, model, stream}``
    How long do clients wait for a whole answer?
``router_time_to_first_token_seconds{policy, model, deployment}``
    How soon does a stream start talking?
``router_upstream_attempts_total{deployment, provider, outcome}``
    Which deployments fail, time out or throttle?
``router_upstream_attempt_duration_seconds{deployment, provider, outcome}``
    How fast is each deployment, per outcome?
``router_overhead_seconds{stream}``
    What does the router itself add to latency?
``router_tokens_total{model, deployment, direction}``
    How many input and output tokens flow where?
``router_cost_usd_total{policy, model, deployment}``
    What are we spending, and where?
``router_baseline_cost_usd_total{policy, model, baseline}``
    What would it have cost on the baseline model?
``router_savings_usd_total{policy, model, baseline}``
    How much did routing save against the baseline?
``router_routing_decisions_total{policy, rule, model}``
    Which rules fire, and which models do they pick?
``router_retries_total{deployment, reason}``
    How often and why do we retry a deployment?
``router_fallbacks_total{policy, from_deployment, to_deployment}``
    When do we fall back, and to what?
``router_hedges_total{policy, outcome}``
    Do hedged requests win, lose or get cancelled?
``router_circuit_state{deployment}``
    Is a deployment's breaker closed, half-open or open?
``router_circuit_transitions_total{deployment, to_state}``
    How often do breakers flap?
``router_cache_lookups_total{policy, result}``
    What is the response cache hit ratio? (``hit``, ``miss``, ``bypass``; ``coalesced`` counts
    a missed request that was then served by an identical one in flight)
``router_cache_writes_total{policy, result}``
    Are answers being stored (``stored``), and do writes fail (``failed``)?
``router_cache_avoided_cost_usd_total{policy, model}``
    How much spend did the cache avoid?
``router_redis_errors_total{operation}``
    Is Redis (cache, shared state) healthy?
``router_policy_reloads_total{result}``
    How often are policies reloaded, and how often refused?
``router_config_last_reload_success``
    Is the config being served the one on disk (1), or was the last reload refused (0)?
``router_config_last_reload_timestamp_seconds``
    When was the config last loaded or reloaded (start-up counts), success or not?
``router_requests_in_flight``
    How busy is the router right now?
``router_stream_interruptions_total{deployment, reason}``
    How often do streams break mid-answer?
``router_overload_rejections_total``
    Are we shedding load?
``router_spend_usd_total{team, key}``
    Who is spending, by the team and key names config gives them?
``router_limit_refusals_total{scope, name, limit}``
    Which key, team or deployment limit (``rpm``, ``tpm``, ``concurrent``, ``budget_day``,
    ``budget_month``, ``budget_total``) refuses requests?
``router_limit_store_errors_total{on_error}``
    Is the limits store failing, and did ``on_store_error`` allow or deny (``settle``: a
    reconciliation that was lost)?
``router_deployment_quota_skips_total{deployment, limit}``
    Which deployments are at their provider quota, so traffic moves elsewhere?
``router_budget_used_usd{scope, name, period}``
    How much of each budget is used in its current period?
``router_budget_limit_usd{scope, name, period}``
    What is each budget (for the budget-use panel's ratio)?
``router_request_log_written_total{sink}``
    How many request records reached the request log (``jsonl`` or ``redis``)?
``router_request_log_dropped_total{reason}``
    Is the request log losing records (``queue_full``, ``sink_error``, ``encode_error``,
    ``shutdown``)? Requests never wait for the log, so a slow sink shows here, not in latency.

Savings: a counter cannot go down, so ``router_savings_usd_total`` adds only the
per-request positive part of ``baseline - cost``; for the net saving of a policy whose
requests all have a baseline, subtract ``router_cost_usd_total`` from
``router_baseline_cost_usd_total``, both summed by policy and model.

Every deployment's ``router_circuit_state`` exists from start-up (``closed``), so a panel or
alert sees a deployment before its breaker first moves. No ``_created`` series are exported
(``disable_created_metrics``): they double the series count and nothing reads them.

Multiprocess: with several uvicorn workers each process holds its own values, so when
``PROMETHEUS_MULTIPROC_DIR`` is given every worker writes its values to mmap files in
that directory and ``/metrics`` merges them with ``MultiProcessCollector``. A worker
calls :meth:`Metrics.mark_process_dead` on shutdown so its live gauges stop counting.
"""

from router.metrics.labels import CIRCUIT_STATES, status_class
from router.metrics.registry import Metrics
from router.metrics.request import Charge, RequestMetrics
from router.metrics.tenancy import TenancyMetrics
from router.metrics.workers import MULTIPROC_ENV

__all__ = [
    "CIRCUIT_STATES",
    "MULTIPROC_ENV",
    "Charge",
    "Metrics",
    "RequestMetrics",
    "TenancyMetrics",
    "status_class",
]
