"""The response cache: exact-match answers, per tenant, in the shared store.

The key is a digest of everything in the request that changes the answer (``KEY_FIELDS``),
the scope (policy or logical model asked for) and a format version; the tenant's namespace is
part of the store key itself, so tenants never read each other's entries and can be purged
one by one. Every field of ``ChatRequest`` is classified below; a test fails when a new one
is not.

Per policy, ``CacheSettings.mode`` says whether to read and write; per request,
``Cache-Control`` may refuse either (``no-cache``, ``no-store``) or cap the age it accepts
(``max-age``). Store failures never reach the client: the cache is bypassed and the failure is
reported to the observer.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

import orjson

from router.cache.entry import Bypass, CacheEntry, CacheObserver, CacheResult, Hit, Lookup, Miss
from router.cache.flight import Flight, FlightBoard
from router.cache.replay import chunks_to_completion, completion_to_chunks, with_usage
from router.policy.decision import CacheSettings
from router.shapes import Clock, MessagesCall
from router.store import Store, StoreError, StoreHealth
from router.wire import ChatRequest
from router.wire import max_age as parse_max_age

# Everything that can change the answer.
KEY_FIELDS = frozenset(
    {
        "model",  # also covered by scope; kept so two aliases never share by accident
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "n",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
        "response_format",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "reasoning_effort",
        "verbosity",
        "modalities",
        "audio",
        "prediction",
        "web_search_options",
        "moderation",  # a blocking policy can replace the answer
    }
)
# Fields that do not change the answer: who asked, how it is delivered, bookkeeping.
NOT_KEY_FIELDS = frozenset(
    {
        "user",  # end-user id for abuse tracking
        "safety_identifier",  # the same, newer name
        "stream",  # a stream and a completion are one answer (see cache_replay)
        "stream_options",  # only whether usage is sent; replay adds or drops it
        "metadata",  # tags for the provider's stored completions
        "store",  # whether the provider keeps the completion
        "service_tier",  # latency and price tier, not content
        "prompt_cache_key",  # a hint for the provider's prompt cache
        "prompt_cache_retention",  # how long the provider keeps that prefix cache
        "prompt_cache_options",  # its breakpoints and lifetime
    }
)

# An Anthropic Messages request's fields that do not change the answer. Every other field is
# in its key, known to router or not (Anthropic adds fields often; a new one must not make two
# different requests share an answer).
MESSAGES_NOT_KEY_FIELDS = frozenset({"metadata", "stream", "service_tier"})

_KEY_VERSION = 2  # 2: the route (rule, split arm, overrides) is part of the key
PREFIX = "router:cache:"  # every cache key, all versions: what ``purge(None)`` deletes
_ENTRY_PREFIX = f"{PREFIX}v{_KEY_VERSION}:"


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Where a request's answer lives, and the shape this request wants it in."""

    scope: str  # the policy or logical model asked for
    namespace: str
    digest: str
    stream: bool = False
    include_usage: bool = False
    label: str = ""  # the metrics label: the policy name ("direct" for a named model)
    # An Anthropic Messages answer: served only in the shape it was stored in (streamed or
    # not, which is part of its key), never converted.
    messages: bool = False

    @property
    def metric_label(self) -> str:
        return self.label or self.scope

    @property
    def entry_key(self) -> str:
        # Braces make the digest a Redis Cluster hash tag: entry and lease share a node.
        return f"{namespace_prefix(self.namespace)}{{{self.digest}}}"

    @property
    def lease_key(self) -> str:
        return f"{self.entry_key}:lease"


def namespace_prefix(namespace: str) -> str:
    # Escaped so that one tenant's prefix is never a prefix of another's ("team:a" vs "team:a:b").
    return f"{_ENTRY_PREFIX}{quote(namespace, safe='._-')}:"


def cache_key(
    request: ChatRequest | MessagesCall,
    scope: str,
    namespace: str,
    label: str = "",
    route: Sequence[object] = (),
) -> CacheKey:
    """``route``: what decided who answers beyond the request's own fields (the rule, the
    split arm, the override headers that took effect); two requests that differ there may
    be answered by different models, so they never share an entry. An Anthropic Messages
    request keys every field but ``MESSAGES_NOT_KEY_FIELDS``, its betas and whether it
    streams."""
    if isinstance(request, MessagesCall):
        fields = {k: v for k, v in request.body.items() if k not in MESSAGES_NOT_KEY_FIELDS}
        betas = sorted(request.betas)
        digest = _digest("anthropic-messages", scope, list(route), betas, request.stream, fields)
        return CacheKey(scope, namespace, digest, request.stream, True, label, messages=True)
    fields = request.model_dump(mode="json", include=set(KEY_FIELDS), exclude_none=True)
    if isinstance(fields.get("stop"), str):
        fields["stop"] = [fields["stop"]]  # the same stop sequence, two spellings
    digest = _digest(scope, list(route), fields)
    return CacheKey(
        scope, namespace, digest, bool(request.stream), request.wants_usage_in_stream, label
    )


def _digest(*material: object) -> str:
    encoded = orjson.dumps([_KEY_VERSION, *material], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=20).hexdigest()


@dataclass(frozen=True, slots=True)
class CacheDirectives:
    """The request's ``Cache-Control``: ``no-cache`` (do not read), ``no-store`` (do not
    write), ``max-age=N`` (accept only an entry at most N seconds old; N in ASCII digits, else
    the request is refused with a 400)."""

    no_cache: bool = False
    no_store: bool = False
    max_age_s: int | None = None

    @classmethod
    def parse(cls, header: str | None) -> CacheDirectives:
        if not header:
            return _NO_DIRECTIVES
        no_cache = no_store = False
        for part in header.split(","):
            name = part.strip().partition("=")[0].strip().lower()
            if name == "no-cache":
                no_cache = True
            elif name == "no-store":
                no_store = True
        return cls(no_cache, no_store, parse_max_age(header))


_NO_DIRECTIVES = CacheDirectives()


class ResponseCache:
    """Lookup, single flight, store and purge over one store; reports to ``observer``."""

    def __init__(
        self,
        store: Store,
        observer: CacheObserver,
        clock: Clock = time.time,
        *,
        flight_clock: Clock = time.monotonic,
        flight_wait_s: float = 30.0,
        lease_ttl_s: float = 60.0,
    ) -> None:
        self._store = store
        self._observer = observer
        self._clock = clock  # wall time: entries carry it, and replicas share entries
        self._board = FlightBoard(
            store,
            wait_s=flight_wait_s,
            lease_ttl_s=lease_ttl_s,
            on_store_error=self._failed,
            clock=flight_clock,
        )

    key = staticmethod(cache_key)

    async def lookup(
        self, key: CacheKey, settings: CacheSettings, directives: CacheDirectives
    ) -> Lookup:
        if not settings.mode.reads:
            return self._report(key, Bypass("mode"))
        if directives.no_cache:
            return self._report(key, Bypass("directive"))
        try:
            raw = await self._store.get(key.entry_key)
        except StoreError as exc:
            self._failed(exc)
            return self._report(key, Bypass("store"))
        entry = None if raw is None else CacheEntry.decode(raw)
        hit = None if entry is None else self._hit(key, entry, directives.max_age_s)
        if hit is None:
            return self._report(key, Miss())
        self._report(key, hit)
        if hit.entry.cost_usd:
            self._observer.on_avoided_cost(key.metric_label, hit.entry.model, hit.entry.cost_usd)
        return hit

    def flight(self, key: CacheKey, settings: CacheSettings, directives: CacheDirectives) -> Flight:
        """``async with cache.flight(...) as flight`` after a miss: see ``Flight``."""
        return Flight(
            self._board,
            key.entry_key,
            key.lease_key,
            can_read=settings.mode.reads and not directives.no_cache,
            can_write=settings.mode.writes and not directives.no_store and settings.ttl_s > 0,
            to_hit=lambda entry: self._coalesced(key, entry, directives.max_age_s),
        )

    async def store(
        self,
        key: CacheKey,
        entry: CacheEntry,
        settings: CacheSettings,
        directives: CacheDirectives,
    ) -> CacheResult:
        """Keep a finished answer: ``STORED``, or ``BYPASS`` when the mode, the request,
        the answer (partial, failed) or the store did not allow it."""
        if not settings.mode.writes or directives.no_store or settings.ttl_s <= 0:
            return CacheResult.BYPASS
        if not entry.complete:
            return CacheResult.BYPASS
        stamped = entry.stamped(self._clock())
        self._board.publish(key.entry_key, stamped)
        try:
            await self._store.set(key.entry_key, stamped.encode(), settings.ttl_s)
        except StoreError as exc:
            self._failed(exc)
            self._observer.on_write_failed(key.metric_label)
            return CacheResult.BYPASS
        self._observer.on_result(key.metric_label, CacheResult.STORED)
        return CacheResult.STORED

    async def purge(self, namespace: str | None = None) -> int:
        """Delete one tenant's entries, or every entry; returns how many store keys went.
        Raises ``StoreError`` (an admin asked, so failing silently would mislead)."""
        prefix = PREFIX if namespace is None else namespace_prefix(namespace)
        return await self._store.delete_prefix(prefix)

    def health(self) -> StoreHealth:
        return self._store.health()

    async def ping(self) -> None:
        """Raises ``StoreError``; failures count like any other store error."""
        try:
            await self._store.ping()
        except StoreError as exc:
            self._failed(exc)
            raise

    def _hit(self, key: CacheKey, entry: CacheEntry, max_age_s: int | None) -> Hit | None:
        age = max(0.0, self._clock() - entry.created_at)
        if max_age_s is not None and age > max_age_s:
            return None
        try:
            return self._shaped(key, entry, age)
        except (ValueError, TypeError, AttributeError, KeyError):
            return None  # a malformed entry (another writer, a bug): a miss, not a 500

    def _shaped(self, key: CacheKey, entry: CacheEntry, age: float) -> Hit:
        if key.messages:
            if key.stream and entry.chunks is not None:
                return Hit(entry, age, chunks=entry.chunks)
            if not key.stream and entry.completion is not None:
                return Hit(entry, age, completion=entry.completion)
            raise ValueError("an Anthropic answer in the other shape")
        usage = None if entry.usage is None else entry.usage.as_openai()
        if key.stream:
            if entry.chunks is not None:
                chunks = entry.chunks
            else:
                assert entry.completion is not None
                chunks = completion_to_chunks(entry.completion, include_usage=key.include_usage)
            chunks = with_usage(chunks, include_usage=key.include_usage, usage=usage)
            return Hit(entry, age, chunks=chunks)
        if entry.completion is not None:
            return Hit(entry, age, completion=entry.completion)
        assert entry.chunks is not None
        completion = chunks_to_completion(entry.chunks)
        if usage is not None:
            completion.setdefault("usage", usage)
        return Hit(entry, age, completion=completion)

    def _coalesced(self, key: CacheKey, entry: CacheEntry, max_age_s: int | None) -> Hit | None:
        hit = self._hit(key, entry, max_age_s)  # a stored entry found while waiting: may be old
        if hit is not None:
            self._observer.on_coalesced(key.metric_label)
            if entry.cost_usd:
                self._observer.on_avoided_cost(key.metric_label, entry.model, entry.cost_usd)
        return hit

    def _report(self, key: CacheKey, lookup: Lookup) -> Lookup:
        self._observer.on_result(key.metric_label, lookup.result)
        return lookup

    def _failed(self, exc: StoreError) -> None:
        if not exc.skipped:
            self._observer.on_store_error(exc.operation)
