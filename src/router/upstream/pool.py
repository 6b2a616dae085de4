"""What the native adapters (``openai_compat``, ``anthropic``) share: the wire.

- ``Targets``: per-deployment ``Target`` (URL, headers, key, timeouts) built once, not per
  request, and rebuilt when a hot reload brings a new ``Deployment`` under the same name (it
  may carry another ``base_url``, key variable or version: traffic must move with it);
- ``Pool``: one pooled aiohttp session, and the two calls made on it: ``post_json`` (a whole
  answer) and ``open_stream`` (status checked, nothing read yet);
- ``SSE``: a server-sent-event stream read as JSON objects, the first within the TTFT budget
  and later ones within the idle budget; each adapter says how its stream ends and what an
  in-stream error looks like.

Every failure leaves here as ``AttemptFailed`` (through ``upstream.failures``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import aiohttp
import orjson

from router.config.catalog import Deployment
from router.errors import AttemptError, AttemptFailed
from router.upstream.failures import from_exception, from_status

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    """Everything per-deployment that the hot path would otherwise recompute per request."""

    url: str
    headers: dict[str, str]
    secret: str | None
    timeout: aiohttp.ClientTimeout


def timeout_for(deployment: Deployment) -> aiohttp.ClientTimeout:
    # The whole budget for a non-streamed answer; streams enforce ttft and idle themselves.
    t = deployment.timeouts
    return aiohttp.ClientTimeout(total=t.total_s, sock_connect=t.connect_s)


class Targets(Generic[T]):
    """``targets(deployment)``: its target, from ``build(deployment, environ)`` the first time
    this ``Deployment`` object is seen. Keys are read from ``environ`` (default: the
    process's), never from ``os.environ`` behind the caller's back."""

    def __init__(
        self,
        build: Callable[[Deployment, Mapping[str, str]], T],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._build = build
        self._environ = os.environ if environ is None else environ
        self._table: dict[str, tuple[Deployment, T]] = {}

    def __call__(self, deployment: Deployment) -> T:
        known = self._table.get(deployment.name)
        # By identity: cheap, and exactly "the same config as last time".
        if known is None or known[0] is not deployment:
            known = self._table[deployment.name] = (
                deployment,
                self._build(deployment, self._environ),
            )
        return known[1]


class Pool:
    """One aiohttp session for an adapter, made on first use (inside the event loop)."""

    def __init__(self, *, limit_per_host: int = 0, **session: Any) -> None:
        self._limit_per_host = limit_per_host
        self._options = session
        self._session: aiohttp.ClientSession | None = None

    def client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0, limit_per_host=self._limit_per_host, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                trust_env=False,  # never route through an environment proxy
                **self._options,
            )
        return self._session

    async def post_json(
        self,
        deployment: Deployment,
        target: Target,
        payload: bytes,
        headers: Mapping[str, str],
    ) -> Any:
        """One whole answer, parsed; an error status or a broken connection fails."""
        try:
            async with self.client().post(
                target.url, data=payload, headers=headers, timeout=target.timeout
            ) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise AttemptFailed(
                        from_status(deployment, resp.status, raw, resp.headers, target.secret)
                    )
        except AttemptFailed:
            raise
        except Exception as exc:
            raise AttemptFailed(from_exception(deployment, exc, target.secret)) from exc
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise AttemptFailed(
                AttemptError(deployment.name, "protocol", None, "upstream sent invalid JSON")
            ) from exc

    async def open_stream(
        self,
        deployment: Deployment,
        target: Target,
        payload: bytes,
        headers: Mapping[str, str],
    ) -> aiohttp.ClientResponse:
        """A streamed answer whose status is checked and whose body is not read yet; connect
        and headers within ``connect_s + ttft_s``."""
        t = deployment.timeouts
        try:
            async with asyncio.timeout(t.connect_s + t.ttft_s):
                resp = await self.client().post(
                    target.url, data=payload, headers=headers, timeout=target.timeout
                )
        except Exception as exc:
            raise AttemptFailed(from_exception(deployment, exc, target.secret)) from exc
        if resp.status >= 400:
            try:
                raw = await resp.read()
            except Exception:
                raw = b""
            resp.release()
            raise AttemptFailed(
                from_status(deployment, resp.status, raw, resp.headers, target.secret)
            )
        return resp

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class SSE:
    """JSON objects from ``data:`` lines. A subclass names its stream's end (``DONE``, a data
    line that ends it, or ``is_last`` on an object, which is still yielded) and its in-stream
    error (``is_error``); an error, bad JSON or a drop before the end fails the attempt."""

    DONE: ClassVar[bytes | None] = None
    UNFINISHED: ClassVar[str] = "stream ended early"
    MALFORMED: ClassVar[str] = "malformed event in stream"

    def __init__(
        self, deployment: Deployment, resp: aiohttp.ClientResponse, secret: str | None
    ) -> None:
        self._deployment = deployment
        self._resp = resp
        self._secret = secret

    def is_error(self, item: dict[str, Any]) -> bool:
        return False

    def is_last(self, item: dict[str, Any]) -> bool:
        return False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._items()

    async def _items(self) -> AsyncIterator[dict[str, Any]]:
        d = self._deployment
        content = self._resp.content
        wait = d.timeouts.ttft_s
        pending = b""
        try:
            while True:
                # One timed read per network segment, not per line: a segment usually holds
                # several events, and a timer per line was a measurable share of the CPU.
                async with asyncio.timeout(wait):
                    data = await content.readany()
                if not data:
                    raise AttemptFailed(AttemptError(d.name, "protocol", None, self.UNFINISHED))
                lines = (pending + data).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue  # blank separators, comments, event: lines
                    payload = line[5:].strip()
                    if payload == self.DONE:
                        return
                    item = self._decode(payload)
                    yield item
                    if self.is_last(item):
                        return
                    wait = d.timeouts.idle_s
        except AttemptFailed:
            raise
        except Exception as exc:
            raise AttemptFailed(from_exception(d, exc, self._secret)) from exc
        finally:
            self._resp.close()

    def _decode(self, data: bytes) -> dict[str, Any]:
        try:
            item = orjson.loads(data)
        except orjson.JSONDecodeError:
            item = None
        if not isinstance(item, dict):
            error = AttemptError(self._deployment.name, "protocol", None, self.MALFORMED)
            raise AttemptFailed(error)
        if self.is_error(item):
            raise AttemptFailed(
                from_status(self._deployment, None, data, None, self._secret, in_stream=True)
            )
        return item

    async def aclose(self) -> None:
        # Closing (not releasing) drops the connection, so the upstream stops generating.
        self._resp.close()
