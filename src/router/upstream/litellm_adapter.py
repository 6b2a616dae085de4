"""Every provider litellm speaks that router has no native adapter for, behind the ``Upstream``
seam.

litellm is imported at start when a configured deployment needs it (``load``; else on first
use), in a worker thread (it takes seconds, and must not stall
the event loop or any other request), with its price map read from the package rather than
fetched, and with its debug banners, stream logging and callbacks off (``load_litellm``).
It never retries: retries belong to ``dispatch`` alone.

Request bodies: only the OpenAI Chat Completions parameters in ``FORWARDED_PARAMS`` go to
litellm, with ``drop_params=True``, so an OpenAI parameter the provider does not support is
dropped instead of failing the attempt, and nothing a client sends can reach litellm's own
keyword arguments (``api_base``, ``mock_response``, ``metadata`` for its loggers, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import time
import warnings
from collections.abc import Mapping
from typing import Any

import httpx

from router.config.catalog import Deployment
from router.errors import AttemptError, AttemptFailed
from router.shapes import Usage
from router.upstream import TRACE_HEADERS, Completion
from router.upstream.failures import from_litellm
from router.upstream.litellm_params import refuse_remote_urls, refuse_unsupported

# OpenAI parameters litellm maps per provider; ``model``, ``messages``, ``stream`` and
# ``stream_options`` are set by the adapter itself.
FORWARDED_PARAMS = frozenset(
    {
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "modalities",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)
# Providers whose litellm handler accepts our own AsyncHTTPHandler (``client=``); the others
# use litellm's cached clients (the OpenAI-SDK-based ones expect an SDK client there).
_OWN_CLIENT_PROVIDERS = frozenset({"anthropic"})
_READONLY_NOISE = r"Items? .* using the `ReadOnly` qualifier"
# litellm-only keys on its response objects that are not part of the OpenAI shape.
_NOT_OPENAI = ("provider_specific_fields", "citations")


def import_litellm() -> Any:
    """Import litellm (seconds, the first time); ``router/__init__`` has already told it, through
    the environment, not to fetch anything (``settings.make_offline``)."""
    return importlib.import_module("litellm")


async def load_litellm() -> Any:
    """Import and configure litellm, then rehearse one call and one stream offline
    (``mock_response``), on the caller's event loop.

    The rehearsal is there because litellm imports modules and builds pydantic schemas
    lazily, on its first call, and pydantic warns while doing so that some of litellm's
    TypedDicts use ``ReadOnly``. Done here with that one warning ignored, litellm's noise stays
    out of router's logs, and out of the first real attempt where warnings are errors (tests).
    """
    litellm = await asyncio.to_thread(import_litellm)  # off the loop: other requests go on
    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners on errors
    litellm.disable_streaming_logging = True  # no per-chunk logging work
    litellm.callbacks = []
    litellm.success_callback = []
    litellm.failure_callback = []
    rehearsal = {
        "model": "anthropic/rehearsal",
        "messages": [{"role": "user", "content": "hi"}],
        "mock_response": "ok",
        "num_retries": 0,
    }
    # catch_warnings is process-wide: this window is a few milliseconds, once per process, and
    # only adds an "ignore" for one message.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _READONLY_NOISE, category=UserWarning)
        await litellm.acompletion(**rehearsal)
        stream = await litellm.acompletion(
            **rehearsal, stream=True, stream_options={"include_usage": True}
        )
        async for _ in stream:
            pass
    return litellm


class LitellmUpstream:
    """``Upstream`` over ``litellm.acompletion``; see the module docstring for the rules."""

    def __init__(self, *, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ  # where the keys are
        self._litellm: Any = None
        self._loading: asyncio.Lock | None = None
        self._client: Any = None  # litellm AsyncHTTPHandler, made on first use

    async def load(self) -> None:
        """Import and configure litellm now, so no request waits for it."""
        await self._lib()

    async def _lib(self) -> Any:
        if self._litellm is None:
            if self._loading is None:
                self._loading = asyncio.Lock()
            async with self._loading:
                if self._litellm is None:
                    self._litellm = await load_litellm()
        return self._litellm

    async def _kwargs(
        self, deployment: Deployment, body: dict[str, Any], *, stream: bool
    ) -> tuple[Any, dict[str, Any], str | None]:
        lib = await self._lib()
        secret = self._environ.get(deployment.api_key_env) if deployment.api_key_env else None
        if deployment.api_key_env and not secret:
            # Without this litellm would quietly use its own variable (ANTHROPIC_API_KEY, ...):
            # a missing key is refused as the provider would refuse it, so dispatch falls
            # back rather than retrying.
            message = f"API key variable {deployment.api_key_env} is not set"
            raise AttemptFailed(AttemptError(deployment.name, "status", 401, message))
        refuse_unsupported(lib, deployment, body, FORWARDED_PARAMS)
        refuse_remote_urls(deployment, body)
        t = deployment.timeouts
        kwargs = {k: v for k, v in body.items() if k in FORWARDED_PARAMS}
        kwargs.update(
            model=f"{deployment.provider}/{deployment.model}",
            messages=body.get("messages") or [],
            stream=stream,
            # litellm's own socket timeouts are a backstop; the deadlines that decide are
            # enforced around the calls, where they can name ttft, idle and total apart.
            timeout=httpx.Timeout(t.total_s, connect=t.connect_s),
            num_retries=0,
            max_retries=0,
            drop_params=True,
        )
        if stream:
            kwargs["stream_options"] = {"include_usage": True}
        if deployment.base_url:
            kwargs["api_base"] = deployment.base_url
        if secret:
            kwargs["api_key"] = secret
        if deployment.api_version:
            kwargs["api_version"] = deployment.api_version
        if trace := TRACE_HEADERS.get():
            kwargs["extra_headers"] = dict(trace)  # the attempt's traceparent
        if deployment.provider in _OWN_CLIENT_PROVIDERS:
            if self._client is None:
                from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

                self._client = AsyncHTTPHandler(timeout=kwargs["timeout"])
            kwargs["client"] = self._client
        return lib, kwargs, secret

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        lib, kwargs, secret = await self._kwargs(deployment, body, stream=False)
        try:
            async with asyncio.timeout(deployment.timeouts.total_s):
                response = await lib.acompletion(**kwargs)
        except Exception as exc:
            raise AttemptFailed(from_litellm(deployment, exc, secret)) from exc
        answer = openai_completion(response)
        usage = Usage.from_openai(answer.get("usage"))
        if usage is None:
            raise AttemptFailed(
                AttemptError(deployment.name, "protocol", None, "answer carried no usage")
            )
        return Completion(answer, usage)

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> LitellmStream:
        """Returns once the first chunk has arrived: some litellm providers only send the
        request when first read, and a failure must surface here, before the client has seen
        anything, so dispatch can still fall back."""
        lib, kwargs, secret = await self._kwargs(deployment, body, stream=True)
        t = deployment.timeouts
        deadline = time.monotonic() + t.total_s
        wrapper: Any = None
        try:
            async with asyncio.timeout(min(t.connect_s + t.ttft_s, t.total_s)):
                wrapper = await lib.acompletion(**kwargs)
                chunks = aiter(wrapper)
                first = await anext(chunks)
        except StopAsyncIteration:
            await _close_quietly(wrapper)
            raise AttemptFailed(
                AttemptError(deployment.name, "protocol", None, "stream ended before any chunk")
            ) from None
        except TimeoutError as exc:
            await _close_quietly(wrapper)
            message = f"no first chunk within {min(t.connect_s + t.ttft_s, t.total_s):g}s"
            raise AttemptFailed(AttemptError(deployment.name, "timeout", None, message)) from exc
        except BaseException as exc:
            await _close_quietly(wrapper)
            if isinstance(exc, Exception):
                raise AttemptFailed(from_litellm(deployment, exc, secret)) from exc
            raise
        return LitellmStream(deployment, wrapper, chunks, first, secret, deadline)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        if self._litellm is not None:
            # litellm queues a success-logging task per call on a process-global worker, even
            # with no callbacks; left running, it outlives the event loop it was started on.
            from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

            await GLOBAL_LOGGING_WORKER.stop(discard_pending=True, timeout=1.0)


class LitellmStream:
    """litellm chunks -> OpenAI ``chat.completion.chunk`` dicts.

    Each read waits at most ``idle_s`` and never past the attempt's ``total_s`` deadline. A
    stream that ends without any ``finish_reason`` was cut short: that is a protocol failure,
    not a quiet end.
    """

    def __init__(
        self,
        deployment: Deployment,
        wrapper: Any,
        chunks: Any,
        first: Any,
        secret: str | None,
        deadline: float,
    ) -> None:
        self._deployment = deployment
        self._wrapper = wrapper
        self._chunks = chunks
        self._pending: Any = first
        self._secret = secret
        self._deadline = deadline
        self._finished = False  # a finish_reason went by
        self._closed = False

    def __aiter__(self) -> LitellmStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._closed:
            raise StopAsyncIteration
        if self._pending is not None:
            raw, self._pending = self._pending, None
        else:
            raw = await self._read()
        chunk = openai_chunk(raw)
        if any(c.get("finish_reason") for c in chunk["choices"]):
            self._finished = True
        return chunk

    async def _read(self) -> Any:
        d = self._deployment
        wait = min(d.timeouts.idle_s, self._deadline - time.monotonic())
        try:
            async with asyncio.timeout(max(0.0, wait)):
                return await anext(self._chunks)
        except StopAsyncIteration:
            await self.aclose()
            if not self._finished:
                raise AttemptFailed(
                    AttemptError(d.name, "protocol", None, "stream ended before finish_reason")
                ) from None
            raise
        except TimeoutError as exc:
            await self.aclose()
            message = f"no chunk within {wait:.3g}s (idle or total budget)"
            raise AttemptFailed(AttemptError(d.name, "timeout", None, message)) from exc
        except Exception as exc:
            await self.aclose()
            raise AttemptFailed(from_litellm(d, exc, self._secret)) from exc

    async def aclose(self) -> None:
        """Closes the upstream response, which drops the connection: the provider stops."""
        if not self._closed:
            self._closed = True
            await _close_quietly(self._wrapper)


async def _close_quietly(wrapper: Any) -> None:
    if wrapper is None:
        return
    # A failed close must not hide the failure that led here; the socket is gone either way.
    with contextlib.suppress(Exception):
        await wrapper.aclose()


def openai_completion(response: Any) -> dict[str, Any]:
    """litellm ``ModelResponse`` -> the ``chat.completion`` object OpenAI would send."""
    body: dict[str, Any] = response.model_dump(exclude_none=True)
    for key in _NOT_OPENAI:
        body.pop(key, None)
    for choice in body.get("choices", ()):
        choice.setdefault("finish_reason", None)
        message = choice.setdefault("message", {})
        message.setdefault("content", None)
        for key in _NOT_OPENAI:
            message.pop(key, None)
    return body


def openai_chunk(chunk: Any) -> dict[str, Any]:
    """litellm ``ModelResponseStream`` -> a ``chat.completion.chunk`` dict."""
    body: dict[str, Any] = chunk.model_dump(exclude_none=True)
    for key in _NOT_OPENAI:
        body.pop(key, None)
    usage = body.get("usage")
    if isinstance(usage, dict):
        usage.pop("cost", None)  # litellm's own estimate; router prices usage itself
    choices = body.setdefault("choices", [])
    for choice in choices:
        choice.setdefault("finish_reason", None)
        delta = choice.setdefault("delta", {})
        for key in _NOT_OPENAI:
            delta.pop(key, None)
    return body
