"""Admission and settlement on the memory store (the Redis scripts pass the same counter
contract in tests/store): what is taken, what is refused and how it reads, what settles."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from router.config.load import Config
from router.errors import BudgetExceeded, LimitsUnavailable, RateLimited
from router.gate import need
from router.policy.decision import Candidate as PolicyCandidate
from router.policy.decision import Decision
from router.shapes import Principal, Usage
from router.store import MemoryStore, StoreError, StoreFailure
from router.tenancy.admission import Admission
from router.tenancy.asks import Candidate, Need
from router.wire import parse_chat_request
from support.tenancy_units import Recorder, config_from

NOON = datetime(2026, 6, 15, 12, 0, tzinfo=UTC).timestamp()
ALICE = Principal("alice", "plat")


def _need(config: Config, principal: Principal = ALICE, prompt: int = 10, out: int = 20) -> Need:
    deps = [config.catalog.deployments[n] for n in ("small@a", "big@a")]
    return Need(
        principal,
        prompt,
        tuple(Candidate(d, out, d.price.cost(prompt, out)) for d in deps),
    )


def _admission(store: MemoryStore | None = None) -> tuple[Admission, Recorder]:
    rec = Recorder()
    return Admission(store or MemoryStore(), rec, wall_clock=lambda: NOON), rec


AUTH = """
auth:
  keys:
    - {name: alice, key_env: A, team: plat, limits: {rpm: 3, tpm: 1000}}
  teams:
    plat: {limits: {rpm: 5}}
"""


async def test_rpm_admits_exactly_the_limit_and_the_429_reads_like_openai(
    tmp_path: Path,
) -> None:
    config = config_from(tmp_path, AUTH)
    adm, rec = _admission()
    tickets = [await adm.admit(config.tenancy, _need(config)) for _ in range(3)]
    assert [t.headers["x-ratelimit-remaining-requests"] for t in tickets] == ["2", "1", "0"]
    first = tickets[0].headers
    assert first["x-ratelimit-limit-requests"] == "3"  # the key's 3 is tighter than the team's 5
    assert first["x-ratelimit-limit-tokens"] == "1000"
    assert first["x-ratelimit-remaining-tokens"] == "970"
    assert first["x-ratelimit-reset-requests"].endswith("s")
    with pytest.raises(RateLimited) as exc:
        await adm.admit(config.tenancy, _need(config))
    err = exc.value
    assert err.status == 429
    assert err.code == "rate_limit_exceeded"
    assert "key 'alice' rpm limit of 3 (3 requests in this window)" in err.message
    assert 1 <= int(err.headers["retry-after"]) <= 60
    assert err.headers["x-ratelimit-remaining-requests"] == "0"
    assert rec.refusals == [("key", "alice", "rpm")]


async def test_tokens_are_reserved_then_reconciled_with_usage(tmp_path: Path) -> None:
    config = config_from(tmp_path, AUTH)
    adm, _ = _admission()
    ticket = await adm.admit(config.tenancy, _need(config, prompt=100, out=400))
    assert ticket.headers["x-ratelimit-remaining-tokens"] == "500"
    # Too big for what is left: refused, and nothing is taken.
    with pytest.raises(RateLimited, match=r"tpm limit of 1000 \(500 tokens used, this request"):
        await adm.admit(config.tenancy, _need(config, prompt=100, out=450))
    dep = config.catalog.deployments["small@a"]
    adm.settle(ticket, dep, Usage(100, 50), 0.0, config.tenancy)
    await adm.aclose()
    after = await adm.admit(config.tenancy, _need(config, prompt=100, out=450))
    assert after.headers["x-ratelimit-remaining-tokens"] == str(1000 - 150 - 550)


async def test_concurrency_slots_come_back_on_settle(tmp_path: Path) -> None:
    config = config_from(
        tmp_path, "auth:\n  keys:\n    - {name: alice, key_env: A, limits: {concurrent: 2}}\n"
    )
    adm, _ = _admission()
    held = [await adm.admit(config.tenancy, _need(config)) for _ in range(2)]
    with pytest.raises(RateLimited, match=r"concurrent limit of 2 \(2 requests in flight"):
        await adm.admit(config.tenancy, _need(config))
    adm.settle(held[0], None, None, 0.0, config.tenancy)
    await adm.aclose()
    assert await adm.admit(config.tenancy, _need(config))


async def test_a_budget_refuses_what_it_cannot_cover_and_says_when_it_resets(
    tmp_path: Path,
) -> None:
    # 10 prompt + 20 output tokens on small: 10*0.001 + 20*0.002 = $0.05 expected per request.
    config = config_from(
        tmp_path,
        "auth:\n  keys:\n    - {name: alice, key_env: A, team: plat}\n"
        "  teams:\n    plat: {budgets: [{usd: 0.12, period: day}]}\n",
    )
    adm, rec = _admission()
    first = await adm.admit(config.tenancy, _need(config))
    second = await adm.admit(config.tenancy, _need(config))
    with pytest.raises(BudgetExceeded) as exc:
        await adm.admit(config.tenancy, _need(config))
    err = exc.value
    assert (err.status, err.code) == (429, "budget_exceeded")
    assert "team 'plat' daily budget of $0.12 has $0.100000 used" in err.message
    assert "estimated at $0.050000; it resets at 2026-06-16T00:00:00Z" in err.message
    assert err.headers["retry-after"] == str(12 * 3600)
    assert rec.refusals == [("team", "plat", "budget_day")]
    # Actual costs below the reservation give the difference back.
    dep = config.catalog.deployments["small@a"]
    adm.settle(first, dep, Usage(10, 5), 0.02, config.tenancy)
    adm.settle(second, dep, Usage(10, 5), 0.02, config.tenancy)
    await adm.aclose()
    assert await adm.admit(config.tenancy, _need(config))
    assert rec.budgets["team:plat:day"] == pytest.approx(0.09)
    assert adm.budget_use(config.tenancy, ALICE) == (
        pytest.approx(0.75),
        "team 'plat' daily budget of $0.12",
    )


async def test_a_total_budget_says_it_never_resets(tmp_path: Path) -> None:
    config = config_from(
        tmp_path,
        "auth:\n  keys:\n    - {name: alice, key_env: A, budgets: [{usd: 0.01, period: total}]}\n",
    )
    adm, _ = _admission()
    with pytest.raises(BudgetExceeded, match="never resets") as exc:
        await adm.admit(config.tenancy, _need(config))
    assert "retry-after" not in exc.value.headers


async def test_a_deployment_at_its_quota_is_skipped_with_the_reason(tmp_path: Path) -> None:
    catalog = CATALOG_WITH_QUOTA
    config = config_from(tmp_path, "", catalog)
    adm, rec = _admission()
    first = await adm.admit(config.tenancy, _need(config))
    assert (first.chosen, first.skipped) == (0, ())
    second = await adm.admit(config.tenancy, _need(config))
    assert second.chosen == 1
    (skip,) = second.skipped
    assert skip.deployment == "small@a"
    assert skip.reason.startswith("deployment rpm limit of 1 reached (1 in use, resets in ")
    assert rec.skipped == [("small@a", "rpm")]
    # big has a quota of 1 too: the third request finds both at their limit.
    with pytest.raises(RateLimited, match="every candidate deployment is at its limit"):
        await adm.admit(config.tenancy, _need(config))


async def test_store_errors_follow_on_store_error(tmp_path: Path) -> None:
    config = config_from(
        tmp_path,
        "auth:\n  keys:\n"
        "    - {name: alice, key_env: A, limits: {rpm: 1}}\n"
        "    - {name: bob, key_env: B, limits: {rpm: 1, on_store_error: deny}}\n",
    )
    adm, rec = _admission(BrokenCounters())
    for _ in range(3):  # allow: admitted, unmetered, as often as it asks
        assert not (await adm.admit(config.tenancy, _need(config))).metered
    with pytest.raises(LimitsUnavailable, match="key 'bob' rpm limit of 1 says on_store_error"):
        await adm.admit(config.tenancy, _need(config, Principal("bob")))
    assert rec.store_errors == ["redis:admit", "allow"] * 3 + ["redis:admit", "deny"]


async def test_concurrent_admissions_share_round_trips_and_stay_exact(tmp_path: Path) -> None:
    config = config_from(
        tmp_path, "auth:\n  keys:\n    - {name: alice, key_env: A, limits: {rpm: 7}}\n"
    )
    store = CountingStore()
    adm, _ = _admission(store)
    results = await asyncio.gather(
        *(adm.admit(config.tenancy, _need(config)) for _ in range(20)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 7
    assert all(isinstance(r, RateLimited) for r in results if isinstance(r, BaseException))
    assert store.calls < 20  # batched


async def test_callers_without_rules_take_no_store_round_trip(tmp_path: Path) -> None:
    config = config_from(tmp_path, "auth:\n  keys:\n    - {name: alice, key_env: A}\n")
    store = CountingStore()
    adm, _ = _admission(store)
    ticket = await adm.admit(config.tenancy, _need(config))
    assert store.calls == 0
    assert ticket.headers == {}


CATALOG_WITH_QUOTA = """\
models:
  small:
    pricing: {input_per_mtok: 1000, output_per_mtok: 2000}
    deployments:
      - {name: small@a, provider: openai, model: s, base_url: "http://127.0.0.1:9",
         limits: {rpm: 1}}
  big:
    pricing: {input_per_mtok: 5000, output_per_mtok: 10000}
    deployments:
      - {name: big@a, provider: openai, model: b, base_url: "http://127.0.0.1:9",
         limits: {rpm: 1, tpm: 100000}}
policies:
  p:
    default: true
    rules: [{name: r, objective: priority, candidates: [small, big]}]
"""


class BrokenCounters(MemoryStore):
    async def admit(self, asks: object) -> list[object]:  # type: ignore[override]
        raise StoreError("admit", StoreFailure.CONNECTION)


class CountingStore(MemoryStore):
    calls = 0

    async def admit(self, asks):  # type: ignore[no-untyped-def]
        self.calls += 1
        return await super().admit(asks)


@pytest.mark.parametrize("n", [1, 3, 128])
def test_what_a_request_reserves_counts_every_one_of_its_n_choices(tmp_path: Path, n: int) -> None:
    config = config_from(tmp_path, AUTH)
    dep = config.catalog.deployments["big@a"]
    decision = Decision("p", "r", (PolicyCandidate(dep, expected_output_tokens=50.0),), "why")
    body = {"model": "p", "messages": [{"role": "user", "content": "hi"}], "n": n}
    for capped, per_choice in (({}, 50), ({"max_tokens": 70}, 70)):
        request = parse_chat_request(orjson.dumps(body | capped), max_messages=10)
        (asked,) = need(decision, request, ALICE, config).candidates
        assert asked.output_tokens == per_choice * n
        assert asked.cost_usd == pytest.approx(dep.price.cost(0, per_choice * n))


class ExchangeCounting(MemoryStore):
    """Counts round trips by kind; ``fail_exchanges`` of them raise as a dropped connection."""

    def __init__(self, fail_exchanges: int = 0) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.fail_exchanges = fail_exchanges

    async def admit(self, asks):  # type: ignore[no-untyped-def]
        self.calls.append("admit")
        return await super().admit(asks)

    async def settle(self, settlements):  # type: ignore[no-untyped-def]
        self.calls.append("settle")
        return await super().settle(settlements)

    async def exchange(self, settlements, asks):  # type: ignore[no-untyped-def]
        self.calls.append("exchange")
        if self.fail_exchanges:
            self.fail_exchanges -= 1
            raise StoreError("admit", StoreFailure.CONNECTION)
        return await super().exchange(settlements, asks)


CONCURRENT_1 = "auth:\n  keys:\n    - {name: alice, key_env: A, limits: {concurrent: 1}}\n"


async def test_a_settlement_rides_with_the_next_admission_in_one_round_trip(
    tmp_path: Path,
) -> None:
    config = config_from(tmp_path, CONCURRENT_1)
    store = ExchangeCounting()
    adm, _ = _admission(store)
    first = await adm.admit(config.tenancy, _need(config))
    # In the same loop turn: the first request ends and the next one asks for the one slot.
    adm.settle(first, None, None, 0.0, config.tenancy)
    second = await adm.admit(config.tenancy, _need(config))
    assert second.metered  # the release went first, in the same call
    assert store.calls == ["admit", "exchange"]
    await adm.aclose()


async def test_settlements_of_a_failed_round_trip_are_resent_and_drained_at_shutdown(
    tmp_path: Path,
) -> None:
    config = config_from(tmp_path, CONCURRENT_1)
    store = ExchangeCounting(fail_exchanges=1)
    adm, rec = _admission(store)
    first = await adm.admit(config.tenancy, _need(config))
    adm.settle(first, None, None, 0.0, config.tenancy)
    # The round trip both rode on fails: the admission follows on_store_error (allow) ...
    assert not (await adm.admit(config.tenancy, _need(config))).metered
    assert rec.store_errors == ["redis:admit", "allow"]
    # ... and the settlement is re-sent in the background; shutdown waits for it.
    await adm.aclose()
    assert store.calls == ["admit", "exchange", "settle"]
    assert adm.store_errors["settle"] == 0  # not dropped
    assert (await adm.admit(config.tenancy, _need(config))).metered  # the slot came back


async def test_admissions_sent_together_are_applied_in_order_each_with_its_own_verdict(
    tmp_path: Path,
) -> None:
    config = config_from(
        tmp_path, "auth:\n  keys:\n    - {name: alice, key_env: A, limits: {rpm: 3}}\n"
    )
    store = ExchangeCounting()
    adm, _ = _admission(store)
    results = await asyncio.gather(
        *(adm.admit(config.tenancy, _need(config)) for _ in range(5)), return_exceptions=True
    )
    assert store.calls == ["admit"]  # one round trip for the five
    admitted = [r for r in results if not isinstance(r, BaseException)]
    # In submission order: the first three are admitted, each seeing its own remaining count.
    assert [t.headers["x-ratelimit-remaining-requests"] for t in admitted] == ["2", "1", "0"]
    assert all(isinstance(r, RateLimited) for r in results[3:])


async def test_a_failed_batch_fails_each_admission_per_its_own_on_store_error(
    tmp_path: Path,
) -> None:
    config = config_from(
        tmp_path,
        "auth:\n  keys:\n"
        "    - {name: alice, key_env: A, limits: {rpm: 1}}\n"
        "    - {name: bob, key_env: B, limits: {rpm: 1, on_store_error: deny}}\n",
    )
    store = BrokenCounters()
    adm, rec = _admission(store)
    alice, bob = await asyncio.gather(
        adm.admit(config.tenancy, _need(config)),
        adm.admit(config.tenancy, _need(config, Principal("bob"))),
        return_exceptions=True,
    )
    assert not isinstance(alice, BaseException)
    assert not alice.metered  # allow: served, uncounted
    assert isinstance(bob, LimitsUnavailable)  # deny
    assert sorted(rec.store_errors) == sorted(["redis:admit", "allow", "redis:admit", "deny"])


class BrokenSettle(ExchangeCounting):
    async def settle(self, settlements):  # type: ignore[no-untyped-def]
        self.calls.append("settle")
        raise StoreError("settle", StoreFailure.CONNECTION)


async def test_a_settlement_retry_never_holds_up_the_next_admission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("router.tenancy.admission.SETTLE_RETRY_S", (0.01, 0.01))
    config = config_from(tmp_path, AUTH)
    store = BrokenSettle()
    adm, rec = _admission(store)
    first = await adm.admit(config.tenancy, _need(config))
    adm.settle(first, None, None, 0.0, config.tenancy)
    await asyncio.sleep(0)  # the settlement's own round trip leaves and fails
    await asyncio.sleep(0)
    second = await adm.admit(config.tenancy, _need(config))
    assert second.metered
    # The retry waits its pause in the background: the admission went before it.
    assert store.calls == ["admit", "settle", "admit"]
    await adm.aclose()  # shutdown waits for the retries; past them the settlement is dropped
    assert store.calls == ["admit", "settle", "admit", "settle", "settle"]
    assert adm.store_errors["settle"] == 1
    assert rec.store_errors.count("redis:settle") == 3


async def test_replicas_hold_distinct_slots_on_one_store(tmp_path: Path) -> None:
    config = config_from(
        tmp_path, "auth:\n  keys:\n    - {name: alice, key_env: A, limits: {concurrent: 2}}\n"
    )
    store = MemoryStore()
    one, _ = _admission(store)
    two, _ = _admission(store)  # another replica: its holders never collide with one's
    first = await one.admit(config.tenancy, _need(config))
    await two.admit(config.tenancy, _need(config))
    with pytest.raises(RateLimited):
        await one.admit(config.tenancy, _need(config))
    one.settle(first, None, None, 0.0, config.tenancy)
    await one.aclose()
    assert (await two.admit(config.tenancy, _need(config))).metered  # just the one slot back
    with pytest.raises(RateLimited):
        await one.admit(config.tenancy, _need(config))
