"""The policy's one live seam: ``PolicyDecider`` feeds the pure ``decide()`` the request's
features, a snapshot of the live signals and a random roll (for splits). It reads memory only:
no I/O, so it stays inside the policy package's wall.
"""

from __future__ import annotations

import random

from router.config.load import Config
from router.policy.classify import classify
from router.policy.decide import DecisionInput, decide
from router.policy.decision import Decision
from router.signals import Signals
from router.wire import Inbound


class PolicyDecider:
    """``Decider`` for the pipeline: classify, snapshot signals, roll, decide."""

    def __init__(self, signals: Signals, rng: random.Random | None = None) -> None:
        self._signals = signals
        self._rng = rng or random.Random()

    def __call__(self, inbound: Inbound, config: Config) -> Decision:
        chat = inbound.request.chat
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
            )
        )
