"""``REDIS_URL`` -> a store: memory when unset, otherwise Redis in the shape the URL names.

Supported URLs (the password, if any, is never echoed back in errors or health):

``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS), ``unix:///path?db=0``
    one Redis server, as redis-py's ``from_url`` reads it (query options included).
``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]``
    the master of ``service`` as the listed Sentinels report it, followed across failover;
    the credentials are the master's (Sentinels themselves are reached without a password).
    ``rediss+sentinel://`` uses TLS to the master.
``redis+cluster://[[user]:password@]host:port[/?...]`` (or ``rediss+cluster://``)
    Redis Cluster, discovered from that node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from router.store.base import Store
from router.store.circuit import HealthHook
from router.store.memory import MemoryStore
from router.store.redis_store import RedisStore


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False


def create_store(
    redis_url: str | None,
    *,
    timeout_s: float = 0.1,
    cooldown_s: float = 1.0,
    memory_max_keys: int = 10_000,
    on_health: HealthHook | None = None,
) -> Store:
    """The process's one store; opens no connection until the first call. ``on_health`` is
    told when a Redis store turns unhealthy and healthy again (memory never fails)."""
    if not redis_url:
        return MemoryStore(max_keys=memory_max_keys)
    client, also_close = _client(redis_url, timeout_s)
    return RedisStore(
        client,
        timeout_s=timeout_s,
        cooldown_s=cooldown_s,
        also_close=also_close,
        on_health=on_health,
    )


_Closers = tuple[Callable[[], Awaitable[None]], ...]


def _client(url: str, timeout_s: float) -> tuple[Redis | RedisCluster, _Closers]:
    scheme = url.partition("://")[0].lower()
    # One immediate retry on a broken connection covers the stale pooled socket after a
    # Redis restart; timeouts are not retried (the outer timeout would cut them anyway).
    options: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 1),
    }
    if scheme in ("redis", "rediss", "unix"):
        return Redis.from_url(url, **options), ()
    if scheme in ("redis+cluster", "rediss+cluster"):
        plain = scheme.removesuffix("+cluster") + url[len(scheme) :]
        return RedisCluster.from_url(plain, **options), ()
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        target = parse_sentinel_url(url)
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(target.sentinels),
            sentinel_kwargs={k: v for k, v in options.items() if k.startswith("socket_")},
            **options,
        )
        master: Redis = sentinel.master_for(
            target.service,
            db=target.db,
            username=target.username,
            password=target.password,
            ssl=target.tls,
        )
        return master, (sentinel.aclose,)
    raise ValueError(
        f"unsupported REDIS_URL scheme {scheme!r}: use redis://, rediss://, unix://, "
        "redis+sentinel:// or redis+cluster://"
    )


def parse_sentinel_url(url: str) -> SentinelTarget:
    """``redis+sentinel://[[user]:password@]h1:26379,h2:26379/service[/db]``."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    sentinels = tuple(_host_port(item) for item in hosts.split(",") if item)
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not sentinels or not path:
        raise ValueError(
            "a Sentinel URL names its sentinels and service: "
            "redis+sentinel://host:26379[,host:26379]/service[/db]"
        )
    if len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError("a Sentinel URL's path is /service or /service/db (db is a number)")
    return SentinelTarget(
        sentinels=sentinels,
        service=path[0],
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) or None,
        tls=parts.scheme.lower().startswith("rediss"),
    )


def _host_port(item: str) -> tuple[str, int]:
    host, sep, port = item.rpartition(":")
    if not sep or not port.isdigit():
        return item.strip("[]"), 26379
    return host.strip("[]"), int(port)
