"""Admission and settlement: the request path's one touch of the tenancy counters.

Before dispatch, :meth:`Admission.admit` takes, in one atomic store call (batched with every
other request in flight on this worker): one request from each ``rpm`` window, the prompt
estimate plus the expected (or maximum) output from each ``tpm`` window, a slot of each
``concurrent`` limit, and the expected cost from each budget; then, among the candidate
deployments in the decision's order, the first whose own quota passes (the ones at their
limit are skipped, with the reason). All or nothing: a refusal takes nothing.

After the answer, :meth:`Admission.settle` reconciles tokens and cost with what was really
used, releases the slots and adds to the spend counters, in the background (batched too).

Keys live under one Redis hash tag, ``{tenancy}``, so a Cluster keeps them on one node.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from router.config.catalog import Deployment
from router.errors import LimitsUnavailable
from router.shapes import Principal, Usage
from router.store import Store, StoreError
from router.store.counters import (
    Adjust,
    Ask,
    FieldAdd,
    Level,
    Release,
    Settlement,
    Verdict,
)
from router.tenancy import asks, refusals
from router.tenancy.asks import Need, Skip, Ticket
from router.tenancy.batch import Batcher
from router.tenancy.periods import label_at
from router.tenancy.rules import Budget, Limit, Tenancy

SETTLE_RETRY_S = (0.25, 0.5, 1.0, 2.0)  # then a settlement is given up and counted


class TenancyObserver(Protocol):
    """What admission reports, for metrics (label values come from config)."""

    def refused(self, scope: str, name: str, limit: str) -> None: ...
    def store_error(self, on_error: str) -> None: ...
    def redis_error(self, operation: str) -> None: ...
    def deployment_skipped(self, deployment: str, limit: str) -> None: ...
    def spent(self, team: str, key: str, usd: float) -> None: ...
    def budget_used(self, scope: str, name: str, period: str, used_usd: float) -> None: ...


class Admission:
    def __init__(
        self,
        store: Store,
        observer: TenancyObserver,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._observer = observer
        self._wall_clock = wall_clock
        # One queue for both: the settlements and admissions of one loop turn go to the store
        # in one round trip (settlements first, so what ended frees its slots for what starts).
        self._calls: Batcher[Ask | Settlement, Verdict | None] = Batcher(self._exchange)
        self._retries: set[asyncio.Task[None]] = set()  # settlements re-sent after a failure
        self._budget_use: dict[str, float] = {}  # budget id -> fraction, as last seen
        # A request's reservations and its settlement's once-key are named by a random prefix
        # of this worker's and a counter: unique across workers and replicas, like a random
        # id per request, without an os.urandom call (two per request) on the hot path.
        self._id_prefix = secrets.token_hex(6)
        self._ids = itertools.count()
        self.store_errors: dict[str, int] = {"allow": 0, "deny": 0, "settle": 0}

    # -- admit ------------------------------------------------------------------------------

    async def admit(self, tenancy: Tenancy, need: Need) -> Ticket:
        """A ticket to settle later; raises ``RateLimited``, ``BudgetExceeded`` or
        ``LimitsUnavailable``."""
        scopes = tenancy.scopes(need.principal)
        holder = self._new_id()
        options, option_items = asks.deployment_options(tenancy, need, holder)
        if not options and not any(s.limits or s.budgets for s in scopes):
            return Ticket(need.principal, need.candidates)
        ts = self._wall_clock()
        first = need.candidates[0] if need.candidates else None
        tokens = max(1, need.prompt_tokens + (first.output_tokens if first else 0))
        nano = max(1, math.ceil((first.cost_usd if first else 0.0) * asks.NANO_USD))
        asked = asks.scope_asks(scopes, holder, tokens, nano, ts)
        items = asked.items
        ask = Ask(tuple(asked.draws), tuple(asked.leases), options)

        def ticket(verdict: Verdict, headers: dict[str, str]) -> Ticket:
            return Ticket(
                need.principal,
                need.candidates,
                verdict.option or 0,
                (),
                headers,
                metered=True,
                holder=holder,
                tokens=tokens,
                nano=nano,
                dep_tokens=asks.option_tokens(need, verdict.option),
                token_keys=asked.token_keys,
                budget_keys=asked.budget_keys,
                lease_keys=tuple(le.key for le in asked.leases),
            )

        future = self._calls.submit(ask)
        try:
            # Shielded: a client that leaves mid-call must not strand what the store took.
            answer = await asyncio.shield(future)
        except StoreError as exc:
            self._failed(exc)
            return self._unmetered(need, items, option_items)
        except asyncio.CancelledError:
            future.add_done_callback(lambda f: self._undo(f, tenancy, ticket))
            raise
        assert answer is not None  # an ask is answered with its verdict
        verdict = answer
        self._note_budgets(items, verdict.levels)
        headers = asks.rate_limit_headers(items, verdict.levels)
        if verdict.admitted:
            out = ticket(verdict, headers)
            out.skipped = tuple(self._skip(option_items, need, s.option, s.item, s.level)
                                for s in verdict.skipped)  # fmt: skip
            return out
        now = datetime.fromtimestamp(ts, UTC)
        skips: list[Skip] = []
        if verdict.blocked is None:  # every candidate deployment is at its quota
            skips = [self._skip(option_items, need, s.option, s.item, s.level)
                     for s in verdict.skipped]  # fmt: skip
        refused = refusals.refusal(skips, verdict, items, headers, tokens, nano, now)
        if refused.rule is not None:
            self._observer.refused(*refused.rule)
        raise refused.error

    def _undo(
        self,
        future: asyncio.Future[Verdict | None],
        tenancy: Tenancy,
        ticket: Callable[[Verdict, dict[str, str]], Ticket],
    ) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        verdict = future.result()
        if verdict is not None and verdict.admitted:
            self.settle(ticket(verdict, {}), None, None, 0.0, tenancy)

    def _unmetered(
        self, need: Need, items: list[asks.Item], option_items: list[list[asks.Item]]
    ) -> Ticket:
        everything = [*items, *(i for group in option_items for i in group)]
        deny = [i for i in everything if asks.denies_on_store_error(i)]
        self._note_store_error("deny" if deny else "allow")
        if deny:
            raise LimitsUnavailable(
                f"the limits store is unavailable and the {asks.rule_label(deny[0])} says "
                "on_store_error: deny; retry shortly",
                headers={"retry-after": "1"},
            )
        return Ticket(need.principal, need.candidates)

    def _skip(
        self, option_items: list[list[asks.Item]], need: Need, option: int, item: int, level: Level
    ) -> Skip:
        skip = refusals.skip(option_items, need, option, item, level)
        self._observer.deployment_skipped(skip.deployment, skip.limit)
        return skip.skip

    def _note_budgets(self, items: list[asks.Item], levels: Sequence[Level]) -> None:
        for item, level in zip(items, levels, strict=False):
            if item.budget is not None:
                budget = item.budget
                used = level.used / asks.NANO_USD
                self._budget_use[asks.budget_id(budget)] = used / budget.usd
                self._observer.budget_used(budget.scope, budget.name, budget.period, used)

    def budget_use(self, tenancy: Tenancy, principal: Principal) -> tuple[float, str] | None:
        """The caller's most-used budget as this worker last saw it (fraction, label): for
        policies that route cheaper as a budget fills. Refusal at 100% is always exact."""
        best: tuple[float, str] | None = None
        for scope in tenancy.scopes(principal):
            for budget in scope.budgets:
                used = self._budget_use.get(asks.budget_id(budget))
                if used is not None and (best is None or used > best[0]):
                    best = (used, budget.label)
        return best

    async def refresh_budgets(self, tenancy: Tenancy, principal: Principal) -> None:
        """Read the caller's budgets this worker has not seen yet (one round trip, once)."""
        now = datetime.fromtimestamp(self._wall_clock(), UTC)
        unseen = [
            (scope, budget)
            for scope in tenancy.scopes(principal)
            for budget in scope.budgets
            if asks.budget_id(budget) not in self._budget_use
        ]
        if not unseen:
            return
        keys = [asks.budget_key(scope, budget, now) for scope, budget in unseen]
        try:
            levels = await self._store.levels(keys)
        except StoreError as exc:
            self._failed(exc)
            return  # decide without it; admission itself follows on_store_error
        for (_, budget), level in zip(unseen, levels, strict=True):
            self._budget_use[asks.budget_id(budget)] = level.used / asks.NANO_USD / budget.usd

    async def peek_quotas(self, tenancy: Tenancy, need: Need) -> list[Skip]:
        """The candidate deployments whose rpm or tpm quota would refuse this request now,
        read without taking anything (for explain; concurrency is not read)."""
        checks: list[tuple[str, Limit, int]] = []
        for cand in need.candidates:
            for limit in tenancy.deployments.get(cand.deployment.name, ()):
                if limit.kind == "concurrent":
                    continue
                amount = 1 if limit.kind == "rpm" else need.prompt_tokens + cand.output_tokens
                checks.append((cand.deployment.name, limit, amount))
        if not checks:
            return []
        keys = [asks.counter_key(lim.kind, "deployment", dep) for dep, lim, _ in checks]
        try:
            levels = await self._store.levels(keys)
        except StoreError as exc:
            self._failed(exc)
            return []
        out: dict[str, Skip] = {}
        for (dep, limit, amount), level in zip(checks, levels, strict=True):
            if dep not in out and level.used + amount > limit.amount:
                out[dep] = Skip(dep, refusals.quota_reached(limit, level))
        return list(out.values())

    # -- settle -----------------------------------------------------------------------------

    def settle(
        self,
        ticket: Ticket,
        served: Deployment | None,
        usage: Usage | None,
        cost_usd: float,
        tenancy: Tenancy,
    ) -> None:
        """Reconcile and record spend, in the background; a ticket settles once."""
        if ticket.settled:
            return
        ticket.settled = True
        actual = usage.prompt_tokens + usage.completion_tokens if usage else 0
        nano = round(cost_usd * asks.NANO_USD)
        adjusts: list[Adjust] = []
        releases: list[Release] = []
        if ticket.metered:
            adjusts += [Adjust(k, actual - ticket.tokens) for k in ticket.token_keys]
            adjusts += [Adjust(k, nano - ticket.nano) for k in ticket.budget_keys]
            releases += [Release(k, ticket.holder) for k in ticket.lease_keys]
            adjusts += asks.deployment_adjusts(ticket, served, actual, tenancy)
            releases += asks.deployment_releases(ticket, tenancy)
        principal = ticket.principal
        team, key = principal.team or "", principal.name
        answered = served or asks.chosen_deployment(ticket)
        model = answered.logical_model if answered is not None else ""
        spend_key, req, usd, tokens_in, tokens_out = _spend_fields(
            label_at("day", self._wall_clock()), team, key, model
        )
        ttl = asks.SPEND_TTL_MS
        adds = [FieldAdd(spend_key, req, 1, ttl)]
        if nano:
            adds.append(FieldAdd(spend_key, usd, nano, ttl))
        if usage is not None:
            adds.append(FieldAdd(spend_key, tokens_in, usage.prompt_tokens, ttl))
            adds.append(FieldAdd(spend_key, tokens_out, usage.completion_tokens, ttl))
        if cost_usd:
            self._observer.spent(team, key, cost_usd)
        once = f"{asks.PREFIX}settled:{ticket.holder or self._new_id()}"
        settlement = Settlement(tuple(adjusts), tuple(releases), tuple(adds), once)
        self._calls.submit(settlement).add_done_callback(_consume)

    def _new_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids):x}"

    async def _exchange(self, items: Sequence[Ask | Settlement]) -> list[Verdict | None]:
        """One round trip for the settlements and admissions queued since the last one. A
        failure fails the admissions (they follow ``on_store_error``) and re-sends the
        settlements in the background: the next round trip never waits for a retry."""
        settlements = [i for i in items if isinstance(i, Settlement)]
        asks_ = [i for i in items if isinstance(i, Ask)]
        try:
            if not asks_:
                await self._store.settle(settlements)
                return [None] * len(items)
            if settlements:
                verdicts = await self._store.exchange(settlements, asks_)
            else:
                verdicts = await self._store.admit(asks_)
        except StoreError as exc:
            if settlements:
                if not asks_:
                    self._failed(exc)  # an admission's failure is counted where it is read
                task = asyncio.create_task(self._send_settlements(settlements))
                self._retries.add(task)
                task.add_done_callback(self._retries.discard)
            if not asks_:
                return [None] * len(items)
            raise
        answers = iter(verdicts)
        return [next(answers) if isinstance(i, Ask) else None for i in items]

    async def _send_settlements(self, settlements: Sequence[Settlement]) -> None:
        """Re-send settlements whose round trip failed, a few times over ~4 s: each applies at
        most once (its ``once`` guard), so a retry after a timeout that did reach Redis is
        harmless. Past the retries they are dropped and counted (``settle``)."""
        for pause in SETTLE_RETRY_S:
            await asyncio.sleep(pause)
            try:
                await self._store.settle(settlements)
                return
            except StoreError as exc:
                self._failed(exc)
        for _ in settlements:
            self._note_store_error("settle")

    def _failed(self, exc: StoreError) -> None:
        """A store call that was tried and failed counts with the cache's Redis errors."""
        if not exc.skipped:
            self._observer.redis_error(exc.operation)

    def _note_store_error(self, what: str) -> None:
        self.store_errors[what] += 1
        self._observer.store_error(what)

    def report(self, tenancy: Tenancy, store_healthy: bool) -> dict[str, object]:
        """For ``/readyz``: whether anything is counted, what a store failure does (the
        limits that deny), and how often the store failed this worker so far."""
        rules: list[Limit | Budget] = []
        for scope in (*tenancy.keys.values(), *tenancy.teams.values()):
            rules += [*scope.limits, *scope.budgets]
        for limits in tenancy.deployments.values():
            rules += limits
        deny = sorted(r.label for r in rules if r.deny_on_store_error)
        return {
            "counting": bool(rules),
            "store_healthy": store_healthy,
            "on_store_error": {"deny": deny, "allow": len(rules) - len(deny)},
            "store_errors": dict(self.store_errors),
        }

    async def aclose(self) -> None:
        """Shutdown: every settlement submitted so far reaches the store (or, past its
        retries, is counted as dropped)."""
        await self._calls.drain()
        while self._retries:
            await asyncio.gather(*list(self._retries), return_exceptions=True)


@functools.lru_cache(maxsize=1024)
def _spend_fields(day: str, team: str, key: str, model: str) -> tuple[str, str, str, str, str]:
    """The day's spend counter and its fields for one team, key and model (see ``spend``)."""
    where = f"{team}\t{key}\t{model}"
    return f"{asks.PREFIX}spend:{day}", f"req\t{where}", f"usd\t{where}", f"in\t{where}", \
        f"out\t{where}"  # fmt: skip


def _consume(future: asyncio.Future[Verdict | None]) -> None:
    """Settlements are fire and forget; their errors are counted in ``_send_settlements``
    (read here so a failed round trip they rode on is not reported as unretrieved)."""
    if not future.cancelled():
        future.exception()
