"""The shared sink: a Redis stream every replica appends to, trimmed to about ``maxlen``
entries (``XADD key MAXLEN ~ maxlen``; the ``~`` lets Redis trim whole macro-nodes, which is
what keeps trimming cheap), one field ``r`` holding the record's JSON.

A batch is one pipelined round trip with a deadline; a batch that fails or times out is the
writer's to count as dropped. redis-py reconnects on its own once the server is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis

FIELD = "r"
SCHEMES = ("redis", "rediss", "unix")


def client_for(url: str, timeout_s: float) -> Redis:
    """A plain redis-py client (``redis://``, ``rediss://``, ``unix://``); opens nothing yet."""
    scheme = url.partition("://")[0].lower()
    if scheme not in SCHEMES:
        raise ValueError(f"the request log's stream needs a {', '.join(SCHEMES)} URL")
    return Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


class RedisStreamSink:
    def __init__(self, client: Redis, key: str, maxlen: int, timeout_s: float = 2.0) -> None:
        self._client = client
        self._key = key
        self._maxlen = maxlen
        self._timeout_s = timeout_s

    @property
    def name(self) -> str:
        return "redis"

    async def write(self, lines: Sequence[bytes]) -> None:
        if not lines:
            return
        async with asyncio.timeout(self._timeout_s):
            async with self._client.pipeline(transaction=False) as pipe:
                for line in lines:
                    pipe.xadd(self._key, {FIELD: line}, maxlen=self._maxlen, approximate=True)
                await pipe.execute()

    async def aclose(self) -> None:
        await self._client.aclose()
