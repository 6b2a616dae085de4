"""How one request uses the response cache, so the pipeline reads as a straight line:
``open`` (key, directives, lookup; after a miss, join identical requests in flight), ``keep``
(store a finished answer), ``CacheTurn.leave`` (after keeping, so waiters get the answer), and
``replay`` (a hit in the shape this request wants).

Caching is per decision (``decision.cache``: mode and TTL, from the policy) and per request
(``Cache-Control``). The tenant namespace comes from the caller's key or team.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

from router.cache.entry import CachedUsage, CacheEntry, CacheObserver, CacheResult, Hit
from router.cache.flight import Flight
from router.cache.response import CacheDirectives, CacheKey, ResponseCache
from router.config.catalog import Deployment
from router.policy.decision import Decision
from router.shapes import Principal, Usage
from router.wire import ParsedRequest


@dataclass(slots=True)
class CacheTurn:
    """One request's dealings with the cache; ``result`` is its ``x-router-cache`` value."""

    key: CacheKey | None  # None when the decision does not cache at all
    decision: Decision
    directives: CacheDirectives
    result: CacheResult
    hit: Hit | None = None
    flight: Flight | None = None

    async def leave(self) -> None:
        """Leave the single flight, if this request joined one (idempotent)."""
        if self.flight is not None:
            flight, self.flight = self.flight, None
            await flight.leave()

    @property
    def collecting(self) -> bool:
        """Whether a streamed answer should be kept chunk by chunk for storing."""
        return (
            self.key is not None
            and self.decision.cache.mode.writes
            and not (self.directives.no_store)
        )


class CacheUse:
    def __init__(self, cache: ResponseCache, observer: CacheObserver) -> None:
        self.cache = cache
        self._observer = observer

    async def open(
        self,
        decision: Decision,
        request: ParsedRequest,
        principal: Principal,
        headers: Mapping[str, str],
    ) -> CacheTurn:
        scope = decision.model if decision.policy == "direct" else decision.policy
        directives = CacheDirectives.parse(headers.get("cache-control"))
        mode = decision.cache.mode
        if not (mode.reads or mode.writes):
            # The common case on the hot path: skip hashing the request for a key.
            self._observer.on_result(decision.policy, CacheResult.BYPASS)
            return CacheTurn(None, decision, directives, CacheResult.BYPASS)
        route = route_of(decision)
        namespace, label = principal.namespace, decision.policy
        asked = request.chat if request.messages is None else request.messages
        key = self.cache.key(asked, scope, namespace, label, route)
        found = await self.cache.lookup(key, decision.cache, directives)
        if isinstance(found, Hit):
            return CacheTurn(key, decision, directives, found.result, found)
        turn = CacheTurn(key, decision, directives, found.result)
        if found.result is CacheResult.MISS:
            # Wait for an identical request already in flight, or lead.
            flight = self.cache.flight(key, decision.cache, directives)
            await flight.join()
            if flight.hit is not None:
                turn.hit, turn.result = flight.hit, CacheResult.HIT
            else:
                turn.flight = flight
        return turn

    async def keep(
        self,
        turn: CacheTurn,
        deployment: Deployment,
        usage: Usage | None,
        cost_usd: float,
        *,
        completion: dict[str, Any] | None = None,
        chunks: list[dict[str, Any]] | None = None,
    ) -> CacheResult:
        if turn.key is None:
            return CacheResult.BYPASS
        cached_usage = None if usage is None else CachedUsage(*_pair(usage))
        entry = CacheEntry(
            deployment.logical_model,
            deployment.name,
            cached_usage,
            cost_usd,
            completion=completion,
            chunks=chunks,
        )
        result = await self.cache.store(turn.key, entry, turn.decision.cache, turn.directives)
        if result is CacheResult.STORED:
            turn.result = result
        return result


async def replay(chunks: list[dict[str, Any]]) -> AsyncGenerator[dict[str, Any], None]:
    """A cached stream, chunk by chunk; copies, since cached bodies are shared."""
    for chunk in chunks:
        yield dict(chunk)


def _pair(usage: Usage) -> tuple[int, int]:
    return usage.prompt_tokens, usage.completion_tokens


def route_of(decision: Decision) -> tuple[object, ...]:
    """What routed the request beyond its own fields, for its cache key: another rule, split
    arm or override header may be answered by another model, and so may a policy degraded by
    the caller's budget (only whether it is degraded: its wording carries the percentage)."""
    overrides = [list(o) for o in decision.overrides]
    return (decision.rule, decision.split_arm, overrides, decision.degraded is not None)
