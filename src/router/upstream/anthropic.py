"""Claude on Anthropic's own API, straight over one pooled aiohttp client.

Two ways in, one wire out (``POST {base}/v1/messages``):

- ``complete``/``stream``: an OpenAI chat request, translated per attempt
  (``translate.openai_to_anthropic``); the answer comes back as an OpenAI completion or chunks
  (``openai_to_anthropic_answer``, ``openai_to_anthropic_stream``);
- ``messages``/``messages_stream``: an Anthropic Messages request from an Anthropic client,
  sent unchanged but for ``model`` (and the client's ``anthropic-beta`` values, which change
  what the body may hold); the answer comes back as Anthropic sent it. One exception: when
  another model answered the last turn of a tool loop, thinking is turned off for this
  request, since Claude would refuse it (``translate.thinking``).

Errors go through ``upstream.failures`` like every adapter's: Anthropic's error body is read
for its message, ``Retry-After`` is honoured, and 529 ``overloaded_error`` is a retryable
status like any 5xx. Usage is always known: Anthropic reports it on every answer and stream.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from router.config.catalog import Deployment
from router.errors import AttemptError, AttemptFailed
from router.shapes import MessagesCall
from router.translate import openai_to_anthropic as to_claude
from router.translate import openai_to_anthropic_answer as from_claude
from router.translate.thinking import thinking_must_be_off, without_thinking
from router.upstream import TRACE_HEADERS, Completion
from router.upstream.anthropic_sse import ChatChunks, EventStream
from router.upstream.pool import Pool, Target, Targets, timeout_for

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"


def _target(deployment: Deployment, environ: Mapping[str, str]) -> Target:
    key = environ.get(deployment.api_key_env) if deployment.api_key_env else None
    base = deployment.base_url or DEFAULT_BASE_URL
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    headers = {
        "content-type": "application/json",
        "anthropic-version": deployment.api_version or API_VERSION,
    }
    if key:
        headers["x-api-key"] = key
    return Target(f"{root}/v1/messages", headers, key, timeout_for(deployment))


def _claude_can_take(body: dict[str, Any]) -> dict[str, Any]:
    """The client's body, unchanged, unless another model answered the tool loop's last turn
    with thinking on: then without thinking for this request (``translate.thinking``)."""
    return without_thinking(body) if thinking_must_be_off(body) else body


class AnthropicUpstream:
    """``Upstream`` (OpenAI in and out) and ``MessagesUpstream`` (Anthropic in and out)."""

    def __init__(
        self, *, limit_per_host: int = 0, environ: Mapping[str, str] | None = None
    ) -> None:
        self._pool = Pool(limit_per_host=limit_per_host)
        self._for = Targets(_target, environ)

    # -- OpenAI in, OpenAI out ------------------------------------------------------------

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        payload = self._translated(deployment, body, stream=False)
        message = await self._post(deployment, payload, ())
        answer = from_claude.completion(message, created=int(time.time()))
        return Completion(answer, from_claude.router_usage(message.get("usage")))

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChatChunks:
        payload = self._translated(deployment, body, stream=True)
        events = await self._open(deployment, payload, ())
        return ChatChunks(events, created=int(time.time()))

    def _translated(self, deployment: Deployment, body: dict[str, Any], *, stream: bool) -> bytes:
        request = to_claude.request(
            body,
            model=deployment.model,
            max_tokens_limit=deployment.max_output_tokens,
            stream=stream,
        )
        return orjson.dumps(request)

    # -- Anthropic in, Anthropic out ------------------------------------------------------

    async def messages(self, deployment: Deployment, call: MessagesCall) -> Completion:
        body = {k: v for k, v in _claude_can_take(call.body).items() if k != "stream"}
        body["model"] = deployment.model
        message = await self._post(deployment, orjson.dumps(body), call.betas)
        message_usage = message.get("usage")
        return Completion(message, from_claude.router_usage(message_usage))

    async def messages_stream(self, deployment: Deployment, call: MessagesCall) -> EventStream:
        body = {**_claude_can_take(call.body), "model": deployment.model, "stream": True}
        return await self._open(deployment, orjson.dumps(body), call.betas)

    # -- the wire -------------------------------------------------------------------------

    def _headers(self, target: Target, betas: tuple[str, ...]) -> dict[str, str]:
        trace = TRACE_HEADERS.get()  # the attempt's traceparent, when tracing is on
        if not betas and not trace:
            return target.headers
        extra = {"anthropic-beta": ",".join(betas)} if betas else {}
        return {**target.headers, **extra, **trace}

    async def _post(
        self, deployment: Deployment, payload: bytes, betas: tuple[str, ...]
    ) -> dict[str, Any]:
        target = self._for(deployment)
        headers = self._headers(target, betas)
        message = await self._pool.post_json(deployment, target, payload, headers)
        if not isinstance(message, dict) or message.get("type") != "message":
            raise AttemptFailed(
                AttemptError(deployment.name, "protocol", None, "upstream answer is no message")
            )
        return message

    async def _open(
        self, deployment: Deployment, payload: bytes, betas: tuple[str, ...]
    ) -> EventStream:
        target = self._for(deployment)
        headers = self._headers(target, betas)
        resp = await self._pool.open_stream(deployment, target, payload, headers)
        return EventStream(deployment, resp, target.secret)

    async def aclose(self) -> None:
        await self._pool.aclose()
