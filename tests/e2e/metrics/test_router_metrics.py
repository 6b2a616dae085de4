"""Each unit of router traffic moves exactly the metrics it should, read back from /metrics.

The router runs in front of the emulators with the demo catalog (``baseline_model: gpt-4o``),
a client key, and breakers that open after three consecutive failures. Every test compares
the full set of counters and histogram counts that moved against the set it expects, so a
metric recorded twice, under the wrong labels, or not at all fails the test.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.config.catalog import Catalog, Price
from router.config.check import load_checked
from router.emulators import Behaviour
from router.emulators.tokenizer import count_tokens
from support.stack import Emulators, RouterFactory, RunningRouter
from support.traffic import (
    Scrape,
    SeriesKey,
    append_yaml,
    chat,
    counted,
    drop_label,
    series,
    set_server,
    streamed_text,
    values_of,
)

CIRCUIT_FAILURES = 3
KEY_ENV = "METRICS_E2E_CLIENT_KEY"
CLIENT_KEY = "sk-metrics-e2e-7d41c0ffee"
KEY_NAME = "alice-metrics-e2e"  # the principal: a user, as far as labels are concerned
USER = "user-e2e-5c1d9a"  # the OpenAI ``user`` field
REQUEST_ID = "req-e2e-3b9a77"
UNKNOWN_MODEL = "gpt-17-e2e-unknown"
PROMPT = "please summarise the routing table for me"

# Owned by the response cache, checked on their own below (by number, not by label).
CACHE_FAMILIES = (
    "router_cache_lookups_total",
    "router_cache_writes_total",
    "router_cache_avoided_cost_usd_total",
)
CACHE_LOOKUP_RESULTS = {"hit", "miss", "bypass"}


@dataclass
class Metered:
    router: RunningRouter
    catalog: Catalog

    @property
    def url(self) -> str:
        return self.router.base_url

    def headers(self, **extra: str) -> dict[str, str]:
        return {"authorization": f"Bearer {CLIENT_KEY}", **extra}

    def chat(self, model: str, text: str = PROMPT, **kwargs: Any) -> httpx.Response:
        headers = self.headers(**kwargs.pop("headers", {}))
        return chat(self.url, model, text, headers=headers, **kwargs)

    def scrape(self) -> Scrape:
        return Scrape.get(self.url)

    def price(self, deployment: str) -> Price:
        return self.catalog.deployments[deployment].price

    def baseline(self) -> Price:
        model = self.catalog.get("gpt-4o")
        assert model is not None
        return model.price


@pytest.fixture
def metered(start_router: RouterFactory, config_dir: Path) -> Metered:
    set_server(config_dir, circuit_failures=CIRCUIT_FAILURES)
    append_yaml(
        config_dir,
        f"auth:\n  keys:\n    - name: {KEY_NAME}\n      key_env: {KEY_ENV}\n      team: e2e\n",
    )
    config = load_checked(config_dir)
    assert config.server.baseline_model == "gpt-4o"
    assert config.server.circuit_failures == CIRCUIT_FAILURES
    running = start_router(config_dir, environ={**os.environ, KEY_ENV: CLIENT_KEY})
    return Metered(running, config.catalog)


def _moved(before: Scrape, after: Scrape) -> dict[SeriesKey, float]:
    """Counters and counts that moved, requests summed over the cache label, cache families
    left out (see ``_cache_lookups``)."""
    moved = {k: v for k, v in counted(before, after).items() if k[0] not in CACHE_FAMILIES}
    return drop_label(moved, "router_requests_total", "cache")


def _cache_lookups(before: Scrape, after: Scrape) -> float:
    moved = counted(before, after)
    return sum(
        v
        for (name, labels), v in moved.items()
        if name == "router_cache_lookups_total" and dict(labels)["result"] in CACHE_LOOKUP_RESULTS
    )


def _answered(
    policy: str,
    model: str,
    deployment: str,
    provider: str,
    *,
    stream: bool,
    status: str = "2xx",
) -> dict[SeriesKey, float]:
    """What one request answered by ``deployment`` on its first attempt moves (tokens and cost
    are added by the caller, who knows the usage)."""
    moved: dict[SeriesKey, float] = {
        series("router_requests_total", policy=policy, model=model, status_class=status): 1,
        series("router_routing_decisions_total", policy=policy, rule="model", model=model): 1,
        series(
            "router_request_duration_seconds_count",
            policy=policy,
            model=model,
            stream=str(stream).lower(),
        ): 1,
        series("router_overhead_seconds_count", stream=str(stream).lower()): 1,
        series(
            "router_upstream_attempts_total",
            deployment=deployment,
            provider=provider,
            outcome="success",
        ): 1,
        series(
            "router_upstream_attempt_duration_seconds_count",
            deployment=deployment,
            provider=provider,
            outcome="success",
        ): 1,
    }
    if stream:
        key = series(
            "router_time_to_first_token_seconds_count",
            policy=policy,
            model=model,
            deployment=deployment,
        )
        moved[key] = 1
    return moved


def _spend(
    m: Metered, policy: str, model: str, deployment: str, tokens_in: int, tokens_out: int
) -> dict[SeriesKey, float]:
    cost = m.price(deployment).cost(tokens_in, tokens_out)
    base = m.baseline().cost(tokens_in, tokens_out)
    moved: dict[SeriesKey, float] = {
        series("router_tokens_total", model=model, deployment=deployment, direction="input"): (
            tokens_in
        ),
        series("router_tokens_total", model=model, deployment=deployment, direction="output"): (
            tokens_out
        ),
        series("router_cost_usd_total", policy=policy, model=model, deployment=deployment): cost,
        # Tenancy's spend, by the configured names of the caller's team and key.
        series("router_spend_usd_total", team="e2e", key=KEY_NAME): cost,
        series("router_baseline_cost_usd_total", policy=policy, model=model, baseline="gpt-4o"): (
            base
        ),
    }
    if base > cost:
        key = series("router_savings_usd_total", policy=policy, model=model, baseline="gpt-4o")
        moved[key] = base - cost
    return moved


def _failed_attempts(deployment: str, provider: str, n: int) -> dict[SeriesKey, float]:
    """``n`` attempts answered with an error status, the first one retried ``n - 1`` times."""
    labels = {"deployment": deployment, "provider": provider, "outcome": "status"}
    moved: dict[SeriesKey, float] = {
        series("router_upstream_attempts_total", **labels): n,
        series("router_upstream_attempt_duration_seconds_count", **labels): n,
    }
    if n > 1:
        moved[series("router_retries_total", deployment=deployment, reason="status")] = n - 1
    return moved


def _merge(*parts: Mapping[SeriesKey, float]) -> dict[SeriesKey, float]:
    out: dict[SeriesKey, float] = {}
    for part in parts:
        for key, value in part.items():
            out[key] = out.get(key, 0) + value
    return out


def _assert_idle(after: Scrape) -> None:
    assert after.value("router_requests_in_flight") == 0


def test_non_streaming_success(metered: Metered, emulators: Emulators) -> None:
    before = metered.scrape()
    resp = metered.chat("mai-code-1-flash")
    assert resp.status_code == 200, resp.text
    after = metered.scrape()

    content = resp.json()["choices"][0]["message"]["content"]
    tokens_in, tokens_out = count_tokens(PROMPT), count_tokens(content)
    assert resp.json()["usage"]["prompt_tokens"] == tokens_in  # the emulator's own count
    dep = "mai-code-1-flash@foundry"
    expected = _merge(
        _answered("direct", "mai-code-1-flash", dep, "azure_ai", stream=False),
        _spend(metered, "direct", "mai-code-1-flash", dep, tokens_in, tokens_out),
    )
    assert _moved(before, after) == pytest.approx(expected)
    # Dearer baseline: the saving is positive and is what the header's cost leaves over.
    saved = expected[series("router_savings_usd_total", policy="direct",
                            model="mai-code-1-flash", baseline="gpt-4o")]  # fmt: skip
    assert saved > 0
    assert float(resp.headers["x-router-cost-usd"]) == pytest.approx(
        metered.price(dep).cost(tokens_in, tokens_out)
    )
    # The cache label is what the client was told.
    moved = counted(before, after)
    assert values_of(moved, "router_requests_total", "cache") == {resp.headers["x-router-cache"]}
    assert _cache_lookups(before, after) == 1
    assert len(emulators.foundry.requests) == 1
    _assert_idle(after)


def test_streaming_success(metered: Metered, emulators: Emulators) -> None:
    before = metered.scrape()
    resp = metered.chat("gpt-4o", stream=True)
    assert resp.status_code == 200
    after = metered.scrape()

    tokens_in, tokens_out = count_tokens(PROMPT), count_tokens(streamed_text(resp))
    assert tokens_out > 0
    dep = "gpt-4o@openai"
    expected = _merge(
        _answered("direct", "gpt-4o", dep, "openai", stream=True),
        _spend(metered, "direct", "gpt-4o", dep, tokens_in, tokens_out),
    )
    assert _moved(before, after) == pytest.approx(expected)
    # On the baseline model itself: baseline cost equals cost, and nothing is saved.
    savings = after.value(
        "router_savings_usd_total", policy="direct", model="gpt-4o", baseline="gpt-4o"
    )
    assert savings == 0
    moved = counted(before, after)
    assert values_of(moved, "router_requests_total", "cache") == {resp.headers["x-router-cache"]}
    assert _cache_lookups(before, after) == 1
    # TTFT is measured from the request's arrival, so it cannot exceed the whole request.
    ttft = after.total("router_time_to_first_token_seconds_sum")
    total = after.total("router_request_duration_seconds_sum", stream="true")
    assert 0 < ttft <= total
    assert [r.stream for r in emulators.openai.requests] == [True]
    _assert_idle(after)


def test_fallback_after_retried_500s(metered: Metered, emulators: Emulators) -> None:
    # gpt-4o@openai fails its attempt and its one retry; gpt-4o@azure answers.
    emulators.openai.plan(Behaviour(status=500), times=2)
    before = metered.scrape()
    resp = metered.chat("gpt-4o")
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-router-deployment"] == "gpt-4o@azure"
    after = metered.scrape()

    content = resp.json()["choices"][0]["message"]["content"]
    tokens_in, tokens_out = count_tokens(PROMPT), count_tokens(content)
    expected = _merge(
        _answered("direct", "gpt-4o", "gpt-4o@azure", "azure", stream=False),
        _spend(metered, "direct", "gpt-4o", "gpt-4o@azure", tokens_in, tokens_out),
        _failed_attempts("gpt-4o@openai", "openai", 2),
        {
            series(
                "router_fallbacks_total",
                policy="direct",
                from_deployment="gpt-4o@openai",
                to_deployment="gpt-4o@azure",
            ): 1
        },
    )
    assert _moved(before, after) == pytest.approx(expected)
    # Two failures are below the threshold: no breaker moved.
    assert after.total("router_circuit_transitions_total") == 0
    assert len(emulators.openai.requests) == 2
    assert len(emulators.azure.requests) == 1
    _assert_idle(after)


def test_upstream_errors_open_the_circuit(metered: Metered, emulators: Emulators) -> None:
    dep, model = "mai-code-1-flash@foundry", "mai-code-1-flash"
    emulators.foundry.plan(Behaviour(status=500), times=4)
    before = metered.scrape()
    for _ in range(2):  # two attempts each (one retry): the third failure opens the breaker
        resp = metered.chat(model)
        assert resp.status_code == 502, resp.text
    after = metered.scrape()

    failed: dict[SeriesKey, float] = {
        series("router_requests_total", policy="direct", model=model, status_class="5xx"): 2,
        series("router_routing_decisions_total", policy="direct", rule="model", model=model): 2,
        series(
            "router_request_errors_total", policy="direct", model=model, error_type="upstream_error"
        ): 2,
        series(
            "router_request_duration_seconds_count", policy="direct", model=model, stream="false"
        ): 2,
        series("router_overhead_seconds_count", stream="false"): 2,
        series("router_circuit_transitions_total", deployment=dep, to_state="open"): 1,
    }
    expected = _merge(failed, _failed_attempts(dep, "azure_ai", 4))
    expected[series("router_retries_total", deployment=dep, reason="status")] = 2
    assert _moved(before, after) == pytest.approx(expected)
    assert after.value("router_circuit_state", deployment=dep) == 2  # open
    assert _cache_lookups(before, after) == 2

    # While open, the deployment is not even tried: a 503 the client sees, counted as one.
    resp = metered.chat(model)
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "no_healthy_deployment"
    later = metered.scrape()
    moved = _moved(after, later)
    assert sum(v for (n, _), v in moved.items() if n == "router_requests_total") == 1
    assert values_of(moved, "router_requests_total", "status_class") == {"5xx"}
    assert values_of(moved, "router_request_errors_total", "error_type") == {
        "no_healthy_deployment"
    }
    assert not any(n.startswith("router_upstream_attempt") for n, _ in moved)
    assert later.value("router_circuit_state", deployment=dep) == 2
    assert len(emulators.foundry.requests) == 4
    _assert_idle(later)


def test_client_errors(metered: Metered, emulators: Emulators) -> None:
    # The upstream refuses the request (400): passed back, not retried, not held against it.
    emulators.openai.plan(Behaviour(status=400), times=1)
    before = metered.scrape()
    resp = metered.chat("gpt-4o")
    assert resp.status_code == 400, resp.text
    after = metered.scrape()
    labels = {"deployment": "gpt-4o@openai", "provider": "openai", "outcome": "status"}
    expected: dict[SeriesKey, float] = {
        series("router_requests_total", policy="direct", model="gpt-4o", status_class="4xx"): 1,
        series("router_routing_decisions_total", policy="direct", rule="model", model="gpt-4o"): 1,
        series(
            "router_request_errors_total",
            policy="direct",
            model="gpt-4o",
            error_type="upstream_rejected_request",
        ): 1,
        series(
            "router_request_duration_seconds_count", policy="direct", model="gpt-4o", stream="false"
        ): 1,
        series("router_overhead_seconds_count", stream="false"): 1,
        series("router_upstream_attempts_total", **labels): 1,
        series("router_upstream_attempt_duration_seconds_count", **labels): 1,
    }
    assert _moved(before, after) == pytest.approx(expected)
    assert emulators.azure.requests == []

    # A model nobody serves: a 404 counted once, under no label the client chose.
    resp = metered.chat(UNKNOWN_MODEL)
    assert resp.status_code == 404, resp.text
    later = metered.scrape()
    moved = _moved(after, later)
    assert sum(v for (n, _), v in moved.items() if n == "router_requests_total") == 1
    assert values_of(moved, "router_requests_total", "status_class") == {"4xx"}
    assert values_of(moved, "router_request_errors_total", "error_type") == {"model_not_found"}
    assert not any(n.startswith("router_upstream_attempt") for n, _ in moved)
    assert not [v for v in later.label_values() if UNKNOWN_MODEL in v]
    _assert_idle(later)


def _wait_for(probe: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("stream", [False, True])
def test_in_flight_counts_a_request_until_it_ends(
    metered: Metered, emulators: Emulators, stream: bool
) -> None:
    # Held upstream long enough to be seen: before the first byte, or mid-stream.
    slow = Behaviour(chunk_count=4, chunk_interval_s=0.4) if stream else Behaviour(latency_s=1.0)
    emulators.openai.plan(slow, times=1)
    answers: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: answers.append(metered.chat("gpt-4o", stream=stream)))
    worker.start()
    try:
        _wait_for(lambda: metered.scrape().value("router_requests_in_flight") == 1, "one in flight")
    finally:
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert answers
    assert answers[0].status_code == 200
    after = metered.scrape()
    _assert_idle(after)
    assert after.total("router_requests_total") == 1


def test_no_label_holds_a_key_a_user_or_a_request_id(
    metered: Metered, emulators: Emulators
) -> None:
    # Auth is on: a request without the key is refused, so the key below is the one used.
    refused = chat(metered.url, "gpt-4o", PROMPT)
    assert refused.status_code == 401
    emulators.openai.plan(Behaviour(status=500), times=2)  # a fallback too
    emulators.foundry.plan(Behaviour(status=400), times=1)
    extra: dict[str, Any] = {"user": USER, "headers": {"x-request-id": REQUEST_ID}}
    replies = [
        metered.chat("gpt-4o", **extra),
        metered.chat("gpt-4o", stream=True, **extra),
        metered.chat("mai-code-1-flash", **extra),
        metered.chat(UNKNOWN_MODEL, **extra),
    ]
    assert [r.status_code for r in replies] == [200, 200, 400, 404]
    assert {r.headers["x-request-id"] for r in replies} == {REQUEST_ID}
    assert all(r.json()["error"] for r in replies[2:])
    scrape = metered.scrape()
    # The four above, and the refused 401 (counted with policy and model "none").
    assert scrape.total("router_requests_total") == 5
    values = scrape.label_values()
    for secret in (CLIENT_KEY, USER, REQUEST_ID, UNKNOWN_MODEL):
        assert not [v for v in values if secret in v], secret
    # The key's configured name and its team appear only where tenancy reports spend, limits
    # and budgets by them (names from config, so bounded); never anywhere else.
    tenancy = ("router_spend_usd", "router_limit_", "router_budget_")
    named = {
        value
        for name, labels in scrape.samples
        if not name.startswith(tenancy)
        for _, value in labels
    }
    for name in (KEY_NAME, "e2e"):
        assert not [v for v in named if name in v], name
    spend = {dict(labels)["key"]: dict(labels)["team"]
             for name, labels in scrape.samples if name == "router_spend_usd_total"}  # fmt: skip
    assert spend == {KEY_NAME: "e2e"}
    values -= {KEY_NAME, "e2e"}
    # Every label value is one of a few known words or names from the config.
    config = set(metered.catalog.models) | set(metered.catalog.deployments)
    known = config | {"direct", "none", "model", "input", "output", "gpt-4o"}
    known |= {"true", "false", "2xx", "4xx", "5xx", "success", "status"}
    known |= {"openai", "azure", "azure_ai", "hit", "miss", "bypass", "stored"}
    known |= {"upstream_rejected_request", "model_not_found", "missing_api_key"}
    known |= {str(b) for b in _bucket_bounds(scrape)}
    assert values <= known, values - known


def _bucket_bounds(scrape: Scrape) -> set[str]:
    return {dict(labels)["le"] for name, labels in scrape.samples if name.endswith("_bucket")}
