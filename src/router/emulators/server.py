"""Provider-independent emulator server: lifecycle, recording, and the chat pipeline.

Subclasses supply the wire format (auth, request parsing, rendering, error
shapes); this module owns everything that must behave the same for every
provider: the aiohttp app, request records, behaviour resolution, latency,
fault injection, and cancellation detection.
"""

from __future__ import annotations

import asyncio
import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from router.emulators.behaviour import CONTROL_HEADER, Behaviour, ControlError, Planner
from router.emulators.generation import Completion, Prompt, generate
from router.emulators.records import ReceivedRequest
from router.emulators.sse import StreamScript, write_stream
from router.emulators.tokenizer import split_chars, split_pieces

DEFAULT_API_KEY = "emulator-key"
DEFAULT_ANSWER_WORDS = 12


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A provider-shaped error response."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self, retry_after: float | None = None) -> web.Response:
        headers = dict(self.headers)
        if retry_after is not None:
            # Retry-After is whole seconds on the wire; the OpenAI SDK also
            # reads the millisecond variant, which keeps sub-second tests fast.
            headers["Retry-After"] = str(max(0, round(retry_after)))
            headers["retry-after-ms"] = str(max(0, round(retry_after * 1000)))
        return web.Response(
            status=self.status,
            body=orjson.dumps(self.body),
            content_type="application/json",
            headers=headers,
        )


@dataclass(frozen=True, slots=True)
class Problem:
    """A request validation failure, before it is put in a provider's error shape."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ChatCall:
    """A validated chat request, ready to be answered."""

    prompt: Prompt
    stream: bool
    model_label: str
    """Model name echoed in the response (Azure: the deployment)."""
    include_usage: bool = False


class EmulatorServer(ABC):
    """Base class of all provider emulators.

    Args:
        api_key: the only key accepted; anything else gets the provider's 401.
        models: model (or deployment) names served; ``None`` accepts any name.
        answer_words: length in tokens of generated answers.
        seed: seed of the RNG behind ``slow_fraction`` tail latency.
        record: keep a :class:`ReceivedRequest` per request in ``requests``
            (turn off for long benchmark runs to keep memory flat).
    """

    provider: str = "generic"
    default_models: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        models: Sequence[str] | None = (),
        answer_words: int = DEFAULT_ANSWER_WORDS,
        seed: int = 0,
        record: bool = True,
    ) -> None:
        self.api_key = api_key
        chosen = self.default_models if models == () else models
        self.models: frozenset[str] | None = None if chosen is None else frozenset(chosen)
        self.answer_words = answer_words
        self.record = record
        self.requests: list[ReceivedRequest] = []
        self._planner = Planner(seed)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # -- behaviour controls -------------------------------------------------

    @property
    def default(self) -> Behaviour:
        return self._planner.default

    @default.setter
    def default(self, behaviour: Behaviour) -> None:
        self._planner.default = behaviour

    def plan(self, behaviour: Behaviour, times: int = 1, model: str | None = None) -> None:
        """Apply ``behaviour`` to the next ``times`` chat requests (matching ``model``)."""
        self._planner.plan(behaviour, times, model)

    @property
    def pending_plans(self) -> int:
        return self._planner.pending

    def reset(self) -> None:
        """Forget recorded requests, queued plans and the default behaviour."""
        self.requests.clear()
        self._planner.clear()
        self._planner.default = Behaviour()

    # -- lifecycle ----------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL to hand to this provider's SDK (overridden where a prefix is needed)."""
        return self.base_url

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(self.routes())
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        # handler_cancellation: a client disconnect cancels the handler, which
        # is how cancelled requests get recorded while we are still sleeping.
        runner = web.AppRunner(self.build_app(), handler_cancellation=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self.host = host
        sockets = getattr(site._server, "sockets", None) or ()
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> EmulatorServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # -- provider hooks -----------------------------------------------------

    @abstractmethod
    def routes(self) -> Iterable[web.RouteDef]: ...

    @abstractmethod
    def error(self, status: int, message: str | None = None) -> ErrorReply:
        """The provider's error response for ``status`` (used by ``Behaviour.status``)."""

    @abstractmethod
    def check_auth(self, request: web.Request) -> ErrorReply | None: ...

    @abstractmethod
    def parse_chat(self, request: web.Request, body: Any) -> ChatCall | ErrorReply: ...

    @abstractmethod
    def render(self, call: ChatCall, completion: Completion, response_id: str) -> bytes: ...

    @abstractmethod
    def stream_script(
        self, call: ChatCall, completion: Completion, response_id: str, chunk_count: int | None
    ) -> StreamScript: ...

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):012d}"

    def known_model(self, name: str) -> bool:
        return self.models is None or name in self.models

    # -- shared pipeline ----------------------------------------------------

    def start_record(self, request: web.Request, body: Any) -> ReceivedRequest:
        record = ReceivedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        if self.record:
            self.requests.append(record)
        return record

    async def read_json(self, request: web.Request) -> tuple[Any, ReceivedRequest]:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        return body, self.start_record(request, body)

    async def handle_chat(self, request: web.Request) -> web.StreamResponse:
        """The one handler behind every chat endpoint of every provider."""
        body, record = await self.read_json(request)
        try:
            response = await self._answer(request, body, record)
        except asyncio.CancelledError:
            record.finish(cancelled=True)
            raise
        except ConnectionResetError:
            # The client went away while we were writing.  Returning (rather
            # than raising) keeps aiohttp from logging it as a server error;
            # the placeholder response is never sent.
            record.finish(cancelled=True)
            return web.Response(status=499)
        record.status = response.status
        if not record.cancelled:
            record.finish()
        return response

    async def _answer(
        self, request: web.Request, body: Any, record: ReceivedRequest
    ) -> web.StreamResponse:
        failure = self.check_auth(request)
        if failure is not None:
            return failure.response()
        override: Behaviour | None = None
        control = request.headers.get(CONTROL_HEADER)
        if control is not None:
            try:
                override = Behaviour.from_json(control)
            except ControlError as exc:
                return self.error(400, str(exc)).response()
        parsed = self.parse_chat(request, body)
        if isinstance(parsed, ErrorReply):
            return parsed.response()
        behaviour = self._planner.next_for(parsed.prompt.model, override)
        record.behaviour = behaviour
        record.stream = parsed.stream
        if behaviour.latency_s > 0:
            await asyncio.sleep(behaviour.latency_s)
        if behaviour.status is not None:
            return self.error(behaviour.status).response(behaviour.retry_after)
        completion = generate(
            parsed.prompt,
            call_id=self.next_id("call_" if self.provider != "anthropic" else "toolu_"),
            words=behaviour.reply_words or self.answer_words,
            reply=behaviour.reply,
        )
        response_id = self.next_id("msg_" if self.provider == "anthropic" else "chatcmpl-")
        if parsed.stream:
            script = self.stream_script(parsed, completion, response_id, behaviour.chunk_count)
            return await write_stream(request, record, behaviour, script)
        payload = self.render(parsed, completion, response_id)
        return await self._plain(request, behaviour, payload, completion)

    async def _plain(
        self, request: web.Request, behaviour: Behaviour, payload: bytes, completion: Completion
    ) -> web.StreamResponse:
        # A non-streamed answer arrives when the whole "generation" is done,
        # so the streaming delays add up before the body is sent.
        delay = behaviour.ttft_s
        if behaviour.chunk_interval_s > 0:
            pieces = _piece_count(completion, behaviour.chunk_count)
            delay += behaviour.chunk_interval_s * max(0, pieces - 1)
        if behaviour.stall_after_chunks is not None:
            delay += behaviour.stall_s
        if delay > 0:
            await asyncio.sleep(delay)
        if behaviour.drop_after_chunks is not None:
            # Abort before any byte: the client sees a connection reset.  The
            # returned response is never written (aiohttp drops it quietly).
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=200)
        if behaviour.malformed_after_chunks is not None:
            payload = payload[: max(1, len(payload) // 2)]
        return web.Response(body=payload, content_type="application/json")


def _piece_count(completion: Completion, chunk_count: int | None) -> int:
    if completion.tool_call is not None:
        return len(split_chars(completion.tool_call.arguments, chunk_count))
    return len(split_pieces(completion.text, chunk_count))
