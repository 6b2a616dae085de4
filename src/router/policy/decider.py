"""The policy's one live seam: ``PolicyDecider`` feeds the pure ``decide()`` the request's
features, a snapshot of the live signals and a random roll (for splits). It reads memory only:
no I/O, so it stays inside the policy package's wall.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from router.config.load import Config
from router.policy.classify import classify
from router.policy.decide import DecisionInput, decide
from router.policy.decision import Decision
from router.shapes import Principal
from router.signals import Signals
from router.wire import Inbound

# The caller's most-used budget as (fraction, label), for policies that degrade; read from
# memory the tenancy layer keeps current, so deciding stays free of I/O.
BudgetUse = Callable[[Config, Principal], tuple[float, str] | None]


class PolicyDecider:
    """``Decider`` for the pipeline: classify, snapshot signals, roll, decide."""

    def __init__(
        self,
        signals: Signals,
        rng: random.Random | None = None,
        budget_use: BudgetUse | None = None,
    ) -> None:
        self._signals = signals
        self._rng = rng or random.Random()
        self._budget_use = budget_use

    def __call__(self, inbound: Inbound, config: Config) -> Decision:
        chat = inbound.request.chat
        use = self._budget_use(config, inbound.principal) if self._budget_use else None
        return decide(
            DecisionInput(
                chat,
                classify(chat, config.difficulty),
                inbound.principal,
                inbound.headers,
                config.policies,
                config.catalog,
                self._signals.snapshot(),
                self._rng.random(),
                budget_use=use,
                unusable=config.unusable,
            )
        )
