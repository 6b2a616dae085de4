"""Limits and budgets through the official OpenAI SDK, against one router (memory store):
every 429 is a ``RateLimitError`` carrying OpenAI's ``x-ratelimit-*`` headers and
``Retry-After``; every answer carries the caller's tightest remaining counts; a deployment at
its quota leaves routing with the reason in explain; spend is reported per key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from support.stack import Emulators, RouterFactory, RunningRouter
from support.tenancy import MASTER, client, key_line, write_tenancy_config

AUTH = (
    "auth:\n  keys:\n"
    + key_line("limited", "k-lim", "team: ops, limits: {rpm: 3, tpm: 100000}")
    + key_line("broke", "k-broke", "budgets: [{usd: 0.000001, period: month}]")
    + key_line("free", "k-free")
    + "  teams:\n    ops: {limits: {rpm: 10}}\n"
)


@pytest.fixture
def router(
    tmp_path: Path,
    emulators: Emulators,
    start_router: RouterFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> RunningRouter:
    monkeypatch.setenv("ROUTER_MASTER_KEY", MASTER)
    return start_router(write_tenancy_config(tmp_path / "c", emulators, AUTH))


def _raw(router: RunningRouter, key: str, model: str = "gpt-4o") -> Any:
    with client(router.v1, key) as sdk:
        return sdk.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "hi"}]
        )


def test_rpm_429_is_a_rate_limit_error_with_openai_headers(router: RunningRouter) -> None:
    remaining = []
    for _ in range(3):
        raw = _raw(router, "k-lim")
        assert raw.headers["x-ratelimit-limit-requests"] == "3"
        assert raw.headers["x-ratelimit-limit-tokens"] == "100000"
        assert int(raw.headers["x-ratelimit-remaining-tokens"]) < 100000
        assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
        remaining.append(raw.headers["x-ratelimit-remaining-requests"])
    assert remaining == ["2", "1", "0"]
    with pytest.raises(openai.RateLimitError) as exc:
        _raw(router, "k-lim")
    err = exc.value
    assert err.status_code == 429
    assert err.code == "rate_limit_exceeded"
    assert "key 'limited' rpm limit of 3" in err.message
    headers = err.response.headers
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-limit-requests"] == "3"
    assert "x-ratelimit-reset-tokens" in headers
    assert 1 <= int(headers["retry-after"]) <= 60
    # A key without limits is not slowed, and carries no rate-limit headers.
    assert "x-ratelimit-limit-requests" not in _raw(router, "k-free").headers


def test_an_exhausted_budget_is_a_429_budget_exceeded_naming_it(router: RunningRouter) -> None:
    with pytest.raises(openai.RateLimitError) as exc:
        _raw(router, "k-broke")
    err = exc.value
    assert err.code == "budget_exceeded"
    assert "key 'broke' monthly budget of $1e-06" in err.message
    assert "it resets at " in err.message
    assert int(err.response.headers["retry-after"]) >= 1


def test_spend_is_recorded_and_each_key_sees_its_own(router: RunningRouter) -> None:
    _raw(router, "k-lim")
    _raw(router, "k-free")
    _raw(router, "k-free")
    url = f"{router.v1}/router/spend?group_by=key"

    def spend(key: str) -> dict[str, object]:
        resp = httpx.get(url, headers={"authorization": f"Bearer {key}"}, timeout=10)
        assert resp.status_code == 200, resp.text
        body: dict[str, object] = resp.json()
        return body

    everyone = spend(MASTER)
    rows = {r["key"]: r for r in everyone["rows"]}  # type: ignore[union-attr]
    assert rows["free"]["requests"] == 2
    assert rows["limited"]["requests"] == 1
    assert rows["free"]["usd"] > 0
    assert everyone["total_usd"] == pytest.approx(rows["free"]["usd"] + rows["limited"]["usd"])
    own = spend("k-free")
    assert [r["key"] for r in own["rows"]] == ["free"]  # type: ignore[union-attr]
    bad = httpx.get(
        f"{router.v1}/router/spend?group_by=colour", headers={"authorization": f"Bearer {MASTER}"}
    )
    assert bad.status_code == 400


def test_readyz_reports_limits(router: RunningRouter) -> None:
    master = {"authorization": f"Bearer {MASTER}"}
    limits = httpx.get(f"{router.base_url}/readyz", headers=master).json()["limits"]
    assert limits["counting"] is True
    assert limits["store_healthy"] is True
    assert limits["on_store_error"] == {"deny": [], "allow": 4}  # 2 + 1 + 1 rules
    assert limits["store_errors"] == {"allow": 0, "deny": 0, "settle": 0}
    # Without the master key: whether limits count and the store works, not which rules exist.
    outsider = httpx.get(f"{router.base_url}/readyz").json()["limits"]
    assert outsider == {k: v for k, v in limits.items() if k != "on_store_error"}


QUOTA = """\
policies:
  pick:
    default: true
    rules:
      - name: first
        objective: priority
        candidates: [gpt-4o@openai, gpt-4o@azure]
"""


def test_a_deployment_at_its_quota_leaves_routing_with_the_reason_in_explain(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    from router.demo import demo_config

    cfg = tmp_path / "q"
    cfg.mkdir()
    catalog = demo_config(emulators.endpoints).replace(
        "      - name: gpt-4o@openai\n",
        "      - name: gpt-4o@openai\n        limits: {rpm: 2}\n",
    )
    assert "limits: {rpm: 2}" in catalog
    (cfg / "router.yaml").write_text(catalog + QUOTA)
    router = start_router(cfg)
    with client(router.v1, "none") as sdk:
        served = [
            sdk.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": "hi"}]
            ).headers["x-router-deployment"]
            for _ in range(4)
        ]
    assert served == ["gpt-4o@openai", "gpt-4o@openai", "gpt-4o@azure", "gpt-4o@azure"]
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    explained = httpx.post(f"{router.v1}/router/explain", json=body).json()
    assert [c["deployment"] for c in explained["chain"]] == ["gpt-4o@azure"]
    (gone,) = [e for e in explained["excluded"] if e["deployment"] == "gpt-4o@openai"]
    assert gone["kind"] == "limit"
    assert gone["reason"].startswith("deployment rpm limit of 2 reached (2 in use")
    metrics = httpx.get(f"{router.base_url}/metrics").text
    assert (
        'router_deployment_quota_skips_total{deployment="gpt-4o@openai",limit="rpm"} 2.0' in metrics
    )
