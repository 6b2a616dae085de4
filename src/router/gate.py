"""The pipeline's tenancy step, between a decision and dispatch: what a decision asks of the
caller's limits and budgets (``need``), and the decision as admission leaves it (``admitted``:
candidate deployments at their quota moved out of the chain, each with its reason, as
``explain`` shows them). Translates between ``policy``'s shapes and ``tenancy``'s."""

from __future__ import annotations

import dataclasses

from router.config.catalog import Deployment
from router.config.load import Config
from router.policy.decision import Candidate, Decision, Exclusion
from router.shapes import Principal, Usage
from router.tenancy import asks
from router.tenancy.admission import Admission
from router.wire import ParsedRequest

DEFAULT_OUTPUT_TOKENS = 256  # a direct request's output estimate when nothing says more


def need(
    decision: Decision, request: ParsedRequest, principal: Principal, config: Config
) -> asks.Need:
    """Tokens: the prompt estimate plus the client's ``max_tokens`` when it sets one, else the
    decision's expected output, for each of the ``n`` choices (each is a whole answer); cost:
    the same tokens at each deployment's price."""
    chat = request.chat
    cap = chat.max_completion_tokens or chat.max_tokens
    prompt = decision.prompt_tokens or 0
    choices = chat.n or 1
    out = []
    for cand in decision.chain:
        dep = cand.deployment
        tokens = (cap if cap is not None else _expected(cand, config)) * choices
        out.append(asks.Candidate(dep, tokens, dep.price.cost(prompt, tokens)))
    return asks.Need(principal, prompt, tuple(out))


def _expected(cand: Candidate, config: Config) -> int:
    if cand.expected_output_tokens is not None:
        return round(cand.expected_output_tokens)
    model = config.catalog.models.get(cand.deployment.logical_model)
    seeds = model.expected_output_tokens if model is not None else {}
    return int(seeds.get("general") or DEFAULT_OUTPUT_TOKENS)


def admitted(decision: Decision, ticket: asks.Ticket) -> Decision:
    """The chain from the deployment admission chose, without the ones skipped at their
    quota (listed as excluded, kind ``limit``)."""
    if not ticket.skipped and ticket.chosen == 0:
        return decision
    gone = {s.deployment for s in ticket.skipped}
    chain = tuple(c for c in decision.chain if c.deployment.name not in gone)
    excluded = tuple(Exclusion(s.deployment, s.reason, "limit") for s in ticket.skipped)
    names = ", ".join(s.deployment for s in ticket.skipped)
    first = chain[0].deployment.name if chain else "none"
    reason = f"{decision.reason}; at quota: {names} -> {first}"
    return dataclasses.replace(
        decision, chain=chain, excluded=decision.excluded + excluded, reason=reason
    )


class Gate:
    """What the pipeline holds: admission with the translations above."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission

    def budget_use(self, config: Config, principal: Principal) -> tuple[float, str] | None:
        return self._admission.budget_use(config.tenancy, principal)

    async def prepare(self, config: Config, principal: Principal) -> None:
        """Before deciding: read the caller's budgets once if this worker has not seen them,
        when a policy could degrade on them (the decision itself does no I/O)."""
        if config.policies.degrading:
            await self._admission.refresh_budgets(config.tenancy, principal)

    async def admit(
        self, decision: Decision, request: ParsedRequest, principal: Principal, config: Config
    ) -> tuple[Decision, asks.Ticket]:
        ticket = await self._admission.admit(
            config.tenancy, need(decision, request, principal, config)
        )
        return admitted(decision, ticket), ticket

    async def explain(
        self, decision: Decision, request: ParsedRequest, principal: Principal, config: Config
    ) -> Decision:
        """The decision as admission would leave it, reading the quotas without taking."""
        skips = await self._admission.peek_quotas(
            config.tenancy, need(decision, request, principal, config)
        )
        return admitted(decision, asks.Ticket(principal, (), len(skips), tuple(skips)))

    def settle(
        self,
        ticket: asks.Ticket | None,
        served: Deployment | None,
        usage: Usage | None,
        cost_usd: float,
        config: Config,
    ) -> None:
        if ticket is not None:
            self._admission.settle(ticket, served, usage, cost_usd, config.tenancy)

    async def aclose(self) -> None:
        await self._admission.aclose()
