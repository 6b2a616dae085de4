"""Anthropic emulator: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens`` with
``x-api-key`` and ``anthropic-version``; ``anthropic-beta`` unlocks beta fields."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from router.emulators.anthropic_wire import (
    ClaudeCall,
    parse_messages,
    render_message,
    render_stream,
)
from router.emulators.generation import Completion
from router.emulators.server import ChatCall, EmulatorServer, ErrorReply, Problem
from router.emulators.sse import StreamScript

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit.",
    500: "Internal server error",
    529: "Overloaded",
}


class AnthropicEmulator(EmulatorServer):
    """``api.anthropic.com``.  ``url`` is the ``base_url`` for the Anthropic SDK/litellm.

    Error bodies are ``{"type": "error", "error": {"type", "message"},
    "request_id"}``; every response carries a ``request-id`` header.
    """

    provider = "anthropic"
    default_models = (
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-opus-4-1",
        "claude-3-5-haiku-latest",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._prompt_cache: set[str] = set()  # digests of cached prompt prefixes

    def reset(self) -> None:
        super().reset()
        self._prompt_cache.clear()

    def routes(self) -> Iterable[web.RouteDef]:
        return [
            web.post("/v1/messages", self.handle_chat),
            web.post("/v1/messages/count_tokens", self._count_tokens),
            web.route("*", "/{tail:.*}", self._not_found),
        ]

    def _reply(self, status: int, kind: str, message: str) -> ErrorReply:
        request_id = self.next_id("req_emu")
        body = {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": request_id,
        }
        return ErrorReply(status, body, {"request-id": request_id})

    def error(self, status: int, message: str | None = None) -> ErrorReply:
        default_kind = "api_error" if status >= 500 else "invalid_request_error"
        kind = _ERROR_TYPES.get(status, default_kind)
        return self._reply(status, kind, message or _MESSAGES.get(status, kind))

    def check_auth(self, request: web.Request) -> ErrorReply | None:
        key = request.headers.get("x-api-key")
        if key is None:
            return self._reply(401, "authentication_error", "x-api-key header is required")
        if key != self.api_key:
            return self._reply(401, "authentication_error", "invalid x-api-key")
        if "anthropic-version" not in request.headers:
            return self._reply(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        return None

    def parse_chat(self, request: web.Request, body: Any) -> ChatCall | ErrorReply:
        parsed = self._parse(request, body, counting=False)
        if isinstance(parsed, ErrorReply):
            return parsed
        key, tokens = parsed.extras.cache_key, min(parsed.extras.cache_tokens, _prompt(parsed))
        if key is None:
            return parsed
        if key in self._prompt_cache:
            return dataclasses.replace(parsed, cache_read=tokens)
        self._prompt_cache.add(key)
        return dataclasses.replace(parsed, cache_write=tokens)

    def _parse(self, request: web.Request, body: Any, *, counting: bool) -> ClaudeCall | ErrorReply:
        betas = request.headers.get("anthropic-beta", "")
        names = frozenset(b.strip() for b in betas.split(",") if b.strip())
        parsed = parse_messages(body, names, counting=counting)
        if isinstance(parsed, Problem):
            return self._reply(parsed.status, "invalid_request_error", parsed.message)
        if not self.known_model(parsed.model_label):
            return self._reply(404, "not_found_error", f"model: {parsed.model_label}")
        return parsed

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        """``{"input_tokens": N}``: what a Messages request with this body would count."""
        body, record = await self.read_json(request)
        reply = self.check_auth(request)
        parsed = self._parse(request, body, counting=True) if reply is None else reply
        if isinstance(parsed, ErrorReply):
            response = parsed.response()
        else:
            response = web.json_response({"input_tokens": _prompt(parsed)})
        record.status = response.status
        record.finish()
        return response

    def render(self, call: ChatCall, completion: Completion, response_id: str) -> bytes:
        return orjson.dumps(render_message(call, completion, response_id))

    def stream_script(
        self, call: ChatCall, completion: Completion, response_id: str, chunk_count: int | None
    ) -> StreamScript:
        return render_stream(call, completion, response_id, chunk_count)

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        record = self.start_record(request, None)
        reply = self._reply(404, "not_found_error", "Not Found")
        record.status = reply.status
        record.finish()
        return reply.response()


def _prompt(call: ClaudeCall) -> int:
    return call.prompt.prompt_tokens
