"""The response cache end to end: through router, in front of the emulators, with the
embedded memory store and with a real redis-server."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.emulators import Behaviour
from router.store import create_store
from support.redis_server import RedisServer
from support.stack import Emulators, RouterFactory, RunningRouter

POLICY = """
policies:
  cached:
    cache: {mode: "on", ttl_s: 60}
    rules:
      - name: all
        candidates: [gpt-4o]
"""


@pytest.fixture
def cached_dir(config_dir: Path) -> Path:
    (config_dir / "cache.yaml").write_text(POLICY)
    return config_dir


def _ask(router: RunningRouter, text: str = "cache me", **kwargs: Any) -> httpx.Response:
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    body = {"model": "cached", "messages": [{"role": "user", "content": text}], **kwargs}
    return httpx.post(
        f"{router.v1}/chat/completions", content=orjson.dumps(body), headers=headers, timeout=30
    )


def _stream_text(router: RunningRouter, **kwargs: Any) -> tuple[str, list[str], httpx.Headers]:
    client = openai.OpenAI(base_url=router.v1, api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="cached",
        messages=[{"role": "user", "content": "stream and cache"}],
        stream=True,
        **kwargs,
    )
    pieces = [c.choices[0].delta.content or "" for c in raw.parse() if c.choices]
    return "".join(pieces), pieces, raw.headers


def _metric(router: RunningRouter, name: str, **labels: str) -> float:
    text = httpx.get(f"{router.base_url}/metrics").text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_second_identical_request_is_a_hit(
    start_router: RouterFactory, cached_dir: Path, emulators: Emulators
) -> None:
    router = start_router(cached_dir)
    first = _ask(router)
    assert first.headers["x-router-cache"] == "stored"
    second = _ask(router)
    assert second.headers["x-router-cache"] == "hit"
    assert second.headers["x-router-cost-usd"] == "0"
    assert second.json()["choices"] == first.json()["choices"]
    assert len(emulators.openai.requests) == 1
    assert _metric(router, "router_cache_lookups_total", result="hit") == 1
    assert _metric(router, "router_cache_lookups_total", result="miss") == 1
    # The write is its own counter: lookups and writes never add up into one "requests" figure.
    assert _metric(router, "router_cache_writes_total", result="stored") == 1
    assert _metric(router, "router_cache_lookups_total", result="stored") == 0
    assert _metric(router, "router_cache_avoided_cost_usd_total") == pytest.approx(
        float(first.headers["x-router-cost-usd"])
    )
    # A different prompt is a different entry.
    assert _ask(router, "something else").headers["x-router-cache"] == "stored"


def test_direct_model_requests_are_not_cached(router: RunningRouter, emulators: Emulators) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    for _ in range(2):
        resp = httpx.post(f"{router.v1}/chat/completions", json=body, timeout=30)
        assert resp.headers["x-router-cache"] == "bypass"
    assert len(emulators.openai.requests) == 2
    # Labelled like every other metric: the policy, "direct" for a named model.
    assert _metric(router, "router_cache_lookups_total", policy="direct", result="bypass") == 2
    assert _metric(router, "router_cache_lookups_total", policy="gpt-4o") == 0


def test_stream_is_replayed_chunk_by_chunk_and_serves_plain_requests(
    start_router: RouterFactory, cached_dir: Path, emulators: Emulators
) -> None:
    router = start_router(cached_dir)
    text, pieces, headers = _stream_text(router)
    assert headers["x-router-cache"] == "miss"
    again, again_pieces, again_headers = _stream_text(router)
    assert again_headers["x-router-cache"] == "hit"
    assert again_pieces == pieces
    assert again == text
    assert len(pieces) > 3  # replayed as chunks, not one aggregated blob
    plain = _ask(router, "stream and cache")
    assert plain.headers["x-router-cache"] == "hit"
    assert plain.json()["choices"][0]["message"]["content"] == text
    assert len(emulators.openai.requests) == 1


def test_failed_stream_is_never_cached(
    start_router: RouterFactory, cached_dir: Path, emulators: Emulators
) -> None:
    router = start_router(cached_dir)
    emulators.openai.plan(Behaviour(drop_after_chunks=3), times=1)
    with pytest.raises(openai.APIError):
        _stream_text(router)
    _, _, headers = _stream_text(router)
    assert headers["x-router-cache"] == "miss"


def test_cache_control_directives(
    start_router: RouterFactory, cached_dir: Path, emulators: Emulators
) -> None:
    router = start_router(cached_dir)
    assert _ask(router, headers={"cache-control": "no-store"}).headers["x-router-cache"] == "miss"
    assert _ask(router).headers["x-router-cache"] == "stored"
    # no-cache: not served from the cache, but the fresh answer refreshes the entry.
    assert _ask(router, headers={"cache-control": "no-cache"}).headers["x-router-cache"] == "stored"
    assert _ask(router, headers={"cache-control": "max-age=0"}).headers["x-router-cache"] != "hit"
    assert _ask(router).headers["x-router-cache"] == "hit"
    assert len(emulators.openai.requests) == 4


def test_tenants_never_share_entries(
    start_router: RouterFactory, cached_dir: Path, emulators: Emulators
) -> None:
    (cached_dir / "keys.yaml").write_text(
        "auth:\n  keys:\n"
        "    - {name: a, key_env: TEST_KEY_A, team: alpha}\n"
        "    - {name: b, key_env: TEST_KEY_B, team: beta}\n"
    )
    env = {**os.environ, "TEST_KEY_A": "key-alpha-123", "TEST_KEY_B": "key-beta-456"}
    router = start_router(cached_dir, environ=env)
    alpha = {"authorization": "Bearer key-alpha-123"}
    beta = {"authorization": "Bearer key-beta-456"}
    assert _ask(router, headers=alpha).headers["x-router-cache"] == "stored"
    assert _ask(router, headers=beta).headers["x-router-cache"] == "stored"
    assert _ask(router, headers=alpha).headers["x-router-cache"] == "hit"
    assert len(emulators.openai.requests) == 2


def test_concurrent_identical_requests_reach_upstream_once(
    start_router: RouterFactory, cached_dir: Path, emulators: Emulators
) -> None:
    router = start_router(cached_dir)
    emulators.openai.default = Behaviour(latency_s=0.4)
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: _ask(router, "together"), range(8)))
    finally:
        emulators.openai.default = Behaviour()
    assert all(r.status_code == 200 for r in results)
    assert len(emulators.openai.requests) == 1
    assert sorted(r.headers["x-router-cache"] for r in results).count("stored") == 1


def test_purge_route(start_router: RouterFactory, cached_dir: Path, emulators: Emulators) -> None:
    router = start_router(cached_dir)
    _ask(router)
    assert _ask(router).headers["x-router-cache"] == "hit"
    purged = httpx.post(f"{router.v1}/router/cache/purge", json={"all": True}, timeout=10)
    assert purged.json()["deleted"] >= 1
    assert _ask(router).headers["x-router-cache"] == "stored"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, None),  # purging everything is never the default
        ({"namepsace": "team:a"}, "namepsace"),  # a typo once purged every tenant
        ({"namespace": "team:a", "all": True}, None),
        ({"namespace": "*"}, "namespace"),
        ({"namespace": "team:a*"}, "namespace"),
        ({"namespace": "router:cache:"}, "namespace"),
        ({"namespace": 5}, "namespace"),
        ({"all": "yes"}, "all"),
        ([], None),
    ],
)
def test_purge_refuses_anything_but_a_namespace_or_all(
    start_router: RouterFactory, cached_dir: Path, body: Any, param: str | None
) -> None:
    router = start_router(cached_dir)
    _ask(router)
    refused = httpx.post(f"{router.v1}/router/cache/purge", json=body, timeout=10)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == param
    assert _ask(router).headers["x-router-cache"] == "hit"  # nothing was purged


def test_purge_one_namespace_keeps_the_others(
    start_router: RouterFactory, cached_dir: Path
) -> None:
    router = start_router(cached_dir)
    _ask(router)  # anonymous: namespace key:anonymous
    other = httpx.post(
        f"{router.v1}/router/cache/purge", json={"namespace": "team:other"}, timeout=10
    )
    assert other.json() == {"deleted": 0, "namespace": "team:other", "all": False}
    assert _ask(router).headers["x-router-cache"] == "hit"
    mine = httpx.post(
        f"{router.v1}/router/cache/purge", json={"namespace": "key:anonymous"}, timeout=10
    )
    assert mine.json()["deleted"] >= 1
    assert _ask(router).headers["x-router-cache"] == "stored"


def test_replicas_share_answers_through_redis(
    start_router: RouterFactory, cached_dir: Path, emulators: Emulators, redis_url: str
) -> None:
    one = start_router(cached_dir, store=create_store(redis_url))
    two = start_router(cached_dir, store=create_store(redis_url))
    assert _ask(one).headers["x-router-cache"] == "stored"
    assert _ask(two).headers["x-router-cache"] == "hit"
    assert len(emulators.openai.requests) == 1


def test_redis_down_never_fails_a_request(
    start_router: RouterFactory,
    cached_dir: Path,
    emulators: Emulators,
    redis_server: RedisServer,
) -> None:
    router = start_router(cached_dir, store=create_store(redis_server.url, timeout_s=0.1))
    assert _ask(router).headers["x-router-cache"] == "stored"
    redis_server.kill()
    for _ in range(3):
        resp = _ask(router)
        assert resp.status_code == 200
        assert resp.headers["x-router-cache"] == "bypass"
    ready = httpx.get(f"{router.base_url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["store"]["healthy"] is False
    assert _metric(router, "router_redis_errors_total") >= 1
    redis_server.restart()
    # Back on its own: a fresh answer is stored again once the store's cool-down passes.
    for _ in range(40):
        resp = _ask(router, "after restart")
        if resp.headers["x-router-cache"] in ("stored", "hit"):
            break
        import time

        time.sleep(0.1)
    assert resp.headers["x-router-cache"] in ("stored", "hit")
