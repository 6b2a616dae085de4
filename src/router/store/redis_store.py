"""The Redis store: shared by every replica, with a hard timeout and a circuit on every call.

redis-py's own per-socket timeouts are set too, so a frozen server costs at most the timeout
once; ``asyncio.timeout`` is the outer bound (connection pool waits, retries). redis-py drops a
connection whose command was cut short, so a late reply can never answer a later command, and
it reconnects on its own once the server is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from router.shapes import Clock
from router.store import redis_counters as lua
from router.store.base import StoreError, StoreFailure, StoreHealth
from router.store.circuit import Circuit, HealthHook
from router.store.counters import Ask, Level, Settlement, Verdict

T = TypeVar("T")

# One round trip each; scripts keep the check and the write atomic on the server.
_DELETE_IF_VALUE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_INCR_WITH_TTL = """
local value = redis.call('incr', KEYS[1])
if value == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end
return value
"""
_PURGE_BATCH = 500


class RedisStore:
    """Wraps a redis-py asyncio client (plain, Sentinel-managed or Cluster)."""

    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        timeout_s: float,
        cooldown_s: float = 1.0,
        admin_timeout_s: float = 10.0,
        clock: Clock = time.monotonic,
        also_close: Sequence[Callable[[], Awaitable[None]]] = (),
        on_health: HealthHook | None = None,
    ) -> None:
        self._client = client
        self._also_close = tuple(also_close)  # e.g. the Sentinel clients behind a master
        self._timeout_s = timeout_s
        self._admin_timeout_s = admin_timeout_s
        self._circuit = Circuit(cooldown_s, clock, on_health)
        # EVALSHA, loading the script on the first NOSCRIPT (after a restart too).
        self._admit = client.register_script(lua.ADMIT)
        self._settle = client.register_script(lua.SETTLE)
        self._exchange = client.register_script(lua.EXCHANGE)
        self._levels = client.register_script(lua.LEVELS)

    @property
    def backend(self) -> str:
        return "redis"

    async def _call(
        self, operation: str, call: Callable[[], Awaitable[T]], timeout_s: float | None = None
    ) -> T:
        probe = self._circuit.admit()
        if probe is None:
            raise StoreError(operation, StoreFailure.CIRCUIT_OPEN)
        try:
            async with asyncio.timeout(timeout_s or self._timeout_s):
                result = await call()
        except (TimeoutError, redis_errors.TimeoutError) as exc:
            self._circuit.failed(probe, f"{operation}: timeout")
            raise StoreError(operation, StoreFailure.TIMEOUT) from exc
        except (redis_errors.ConnectionError, OSError) as exc:
            self._circuit.failed(probe, f"{operation}: {type(exc).__name__}")
            raise StoreError(operation, StoreFailure.CONNECTION, type(exc).__name__) from exc
        except redis_errors.RedisError as exc:
            # The server answered (wrong type, script error, ...): it is up, the call was bad.
            self._circuit.succeeded(probe)
            raise StoreError(operation, StoreFailure.ERROR, type(exc).__name__) from exc
        except BaseException:
            self._circuit.abandoned(probe)
            raise
        self._circuit.succeeded(probe)
        return result

    async def get(self, key: str) -> bytes | None:
        return _as_bytes(await self._call("get", lambda: self._client.get(key)))

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if isinstance(self._client, RedisCluster):
            cluster = self._client
            values = await self._call("get_many", lambda: cluster.mget_nonatomic(list(keys)))
        else:
            plain = self._client
            values = await self._call("get_many", lambda: plain.mget(list(keys)))
        return [_as_bytes(value) for value in values]

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        await self._call("set", lambda: self._client.set(key, value, px=_ms(ttl_s)))

    async def set_if_absent(self, key: str, value: bytes, ttl_s: float) -> bool:
        done = await self._call(
            "set_if_absent", lambda: self._client.set(key, value, px=_ms(ttl_s), nx=True)
        )
        return bool(done)

    async def delete(self, key: str, *, if_value: bytes | None = None) -> bool:
        if if_value is None:
            removed = await self._call("delete", lambda: self._client.delete(key))
        else:
            removed = await self._call(
                "delete", lambda: self._eval(_DELETE_IF_VALUE, key, if_value)
            )
        return bool(removed)

    async def delete_prefix(self, prefix: str) -> int:
        return await self._call(
            "delete_prefix", lambda: self._delete_prefix(prefix), self._admin_timeout_s
        )

    async def _delete_prefix(self, prefix: str) -> int:
        removed = 0
        batch: list[str | bytes] = []
        async for key in self._client.scan_iter(match=_glob_escape(prefix) + "*", count=1000):
            batch.append(key)
            if len(batch) >= _PURGE_BATCH:
                removed += int(await self._client.unlink(*batch))
                batch.clear()
        if batch:
            removed += int(await self._client.unlink(*batch))
        return removed

    async def incr(self, key: str, ttl_s: float) -> int:
        value = await self._call("incr", lambda: self._eval(_INCR_WITH_TTL, key, _ms(ttl_s)))
        return int(value)

    async def _eval(self, script: str, key: str, arg: bytes | int) -> Any:
        return await self._client.eval(script, 1, key, arg)

    async def admit(self, asks: Sequence[Ask]) -> list[Verdict]:
        keys, body = lua.encode_asks(asks)
        raw = await self._call("admit", lambda: self._admit(keys=keys, args=[body]))
        return lua.decode_verdicts(raw)

    async def settle(self, settlements: Sequence[Settlement]) -> None:
        keys, body = lua.encode_settlements(settlements)
        if keys:
            await self._call("settle", lambda: self._settle(keys=keys, args=[body]))

    async def exchange(
        self, settlements: Sequence[Settlement], asks: Sequence[Ask]
    ) -> list[Verdict]:
        keys, settled, asked = lua.encode_exchange(settlements, asks)
        raw = await self._call("admit", lambda: self._exchange(keys=keys, args=[settled, asked]))
        return lua.decode_verdicts(raw)

    async def levels(self, keys: Sequence[str]) -> list[Level]:
        if not keys:
            return []
        raw = await self._call("levels", lambda: self._levels(keys=list(keys), args=[]))
        return [Level(int(used), int(reset)) for used, reset in raw]

    async def fields(self, keys: Sequence[str]) -> list[dict[str, int]]:
        async def read() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                return list(await pipe.execute())

        found = await self._call("fields", read) if keys else []
        return [{_text(k): int(v) for k, v in item.items()} for item in found]

    async def ping(self) -> None:
        await self._call("ping", self._client.ping)

    def health(self) -> StoreHealth:
        closed = self._circuit.closed
        return StoreHealth("redis", closed, "" if closed else self._circuit.last_error)

    async def aclose(self) -> None:
        try:
            await self._client.aclose()
        finally:
            for close in self._also_close:
                await close()


def _ms(ttl_s: float) -> int:
    return max(1, round(ttl_s * 1000))


def _as_bytes(value: bytes | str | None) -> bytes | None:
    # The client never decodes responses; a str would mean someone configured it to.
    return value.encode() if isinstance(value, str) else value


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _glob_escape(text: str) -> str:
    """SCAN MATCH takes a glob: a prefix must match itself literally."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
