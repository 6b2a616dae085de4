"""Admission: a request takes a slot under ``server.max_in_flight`` before router reads its
body, and one client key may hold at most ``key_share`` of those slots, so a single tenant
cannot fill the worker and starve the others. Beyond either limit the answer is immediate
(503 for a full worker, 429 for a key over its share, both with ``Retry-After``): queueing
would only turn overload into timeouts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from router.config.schema import ServerSpec
from router.errors import Overloaded, RateLimited
from router.metrics import Metrics
from router.shapes import Principal

_RETRY = {"retry-after": "1"}


class Slot:
    """One admitted request; ``release`` (or leaving the ``with``) frees it, once."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        done, self._release = self._release, None
        if done is not None:
            done()

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class Admission:
    def __init__(self, server: Callable[[], ServerSpec], metrics: Metrics) -> None:
        self._server = server
        self._metrics = metrics
        self.in_flight = 0
        self._by_key: dict[str, int] = {}

    def admit(self, principal: Principal, *, per_key: bool) -> Slot:
        """A slot, or ``Overloaded``/``RateLimited``. ``per_key``: keys are configured, so
        the principal names one tenant (without auth every caller is the same anonymous one)."""
        server = self._server()
        if self.in_flight >= server.max_in_flight:
            self._metrics.record_overload()
            raise Overloaded(
                "router is at its in-flight request limit; retry shortly", headers=dict(_RETRY)
            )
        name = principal.name
        if per_key:
            share = max(1, math.floor(server.max_in_flight * server.key_share))
            if self._by_key.get(name, 0) >= share:
                self._metrics.record_overload()
                raise RateLimited(
                    f"this key already has {share} requests in flight, its share of router's "
                    "capacity; retry when one finishes",
                    code="concurrency_limit_exceeded",
                    headers=dict(_RETRY),
                )
        self.in_flight += 1
        self._by_key[name] = self._by_key.get(name, 0) + 1
        self._metrics.record_admitted()
        return Slot(lambda: self._free(name))

    def _free(self, name: str) -> None:
        self.in_flight -= 1
        left = self._by_key[name] - 1
        if left:
            self._by_key[name] = left
        else:
            del self._by_key[name]
        self._metrics.record_released()
