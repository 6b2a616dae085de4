"""OpenAI, Azure OpenAI and Azure AI Foundry emulators.

All three speak the OpenAI chat body (see :mod:`openai_wire`); this module
holds what differs: URL layout, how the key is sent, and error envelopes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from router.emulators.generation import Completion
from router.emulators.openai_wire import parse_chat, render_completion, render_stream
from router.emulators.server import ChatCall, EmulatorServer, ErrorReply, Problem
from router.emulators.sse import StreamScript

_SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
_OPENAI_FAULTS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", "model_not_found", "The requested model does not exist."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again later.",
    ),
    500: ("server_error", None, _SERVER_ERROR),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
_AZURE_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API "
    "endpoint for your resource."
)


def openai_error(
    status: int, message: str, kind: str, param: str | None = None, code: str | None = None
) -> ErrorReply:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return ErrorReply(status, body)


def _openai_fault(status: int, message: str | None) -> ErrorReply:
    default_kind = "server_error" if status >= 500 else "invalid_request_error"
    kind, code, text = _OPENAI_FAULTS.get(status, (default_kind, None, f"Error {status}"))
    return openai_error(status, message or text, kind, None, code)


def _problem(problem: Problem) -> ErrorReply:
    return openai_error(
        problem.status, problem.message, "invalid_request_error", problem.param, problem.code
    )


def _azure_error(status: int, code: str, message: str) -> ErrorReply:
    return ErrorReply(status, {"error": {"code": code, "message": message}})


def _presented_key(request: web.Request, *, azure_header: bool) -> str | None:
    if azure_header and "api-key" in request.headers:
        return request.headers["api-key"]
    auth = request.headers.get("Authorization")
    if auth is not None and auth.startswith("Bearer "):
        return auth[len("Bearer ") :]
    return None


class _OpenAIBodies(EmulatorServer):
    """Rendering shared by the three OpenAI-bodied emulators."""

    azure_shapes = False

    def render(self, call: ChatCall, completion: Completion, response_id: str) -> bytes:
        return orjson.dumps(render_completion(call, completion, response_id, self.azure_shapes))

    def stream_script(
        self, call: ChatCall, completion: Completion, response_id: str, chunk_count: int | None
    ) -> StreamScript:
        return render_stream(call, completion, response_id, chunk_count, self.azure_shapes)

    def not_found_handler(self, reply: ErrorReply) -> web.RouteDef:
        async def handler(request: web.Request) -> web.StreamResponse:
            record = self.start_record(request, None)
            record.status = reply.status
            record.finish()
            return reply.response()

        return web.route("*", "/{tail:.*}", handler)


class OpenAIEmulator(_OpenAIBodies):
    """``api.openai.com``: ``POST /v1/chat/completions`` and ``GET /v1/models``, Bearer auth.

    ``url`` (``.../v1``) is the ``base_url`` for ``openai.OpenAI``.
    """

    provider = "openai"
    default_models = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini")

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1"

    def routes(self) -> Iterable[web.RouteDef]:
        return [
            web.post("/v1/chat/completions", self.handle_chat),
            web.get("/v1/models", self._list_models),
            self.not_found_handler(openai_error(404, "Invalid URL", "invalid_request_error")),
        ]

    def error(self, status: int, message: str | None = None) -> ErrorReply:
        return _openai_fault(status, message)

    def check_auth(self, request: web.Request) -> ErrorReply | None:
        key = _presented_key(request, azure_header=False)
        if key is None:
            return openai_error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
            )
        if key != self.api_key:
            shown = f"{key[:3]}***{key[-4:]}" if len(key) > 8 else "***"
            return openai_error(
                401,
                f"Incorrect API key provided: {shown}.",
                "invalid_request_error",
                None,
                "invalid_api_key",
            )
        return None

    def parse_chat(self, request: web.Request, body: Any) -> ChatCall | ErrorReply:
        parsed = parse_chat(body)
        if isinstance(parsed, Problem):
            return _problem(parsed)
        if not self.known_model(parsed.model_label):
            return openai_error(
                404,
                f"The model `{parsed.model_label}` does not exist or you do not have access to it.",
                "invalid_request_error",
                None,
                "model_not_found",
            )
        return parsed

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        record = self.start_record(request, None)
        failure = self.check_auth(request)
        reply: web.Response
        if failure is not None:
            reply = failure.response()
        else:
            data = [
                {"id": name, "object": "model", "created": 0, "owned_by": "emulator"}
                for name in sorted(self.models or ())
            ]
            reply = web.json_response({"object": "list", "data": data}, dumps=_dumps)
        record.status = reply.status
        record.finish()
        return reply


class AzureOpenAIEmulator(_OpenAIBodies):
    """Azure OpenAI: ``POST /openai/deployments/{deployment}/chat/completions?api-version=``.

    The key comes in an ``api-key`` header (Bearer is accepted too, as for
    Entra tokens).  ``models`` are deployment names.  ``url`` is the
    ``azure_endpoint`` for ``openai.AzureOpenAI``.  Also serves the
    version-less v1 surface, ``POST /openai/v1/chat/completions``.
    """

    provider = "azure"
    default_models = ("gpt-4o", "gpt-4o-mini")
    azure_shapes = True

    def routes(self) -> Iterable[web.RouteDef]:
        return [
            web.post("/openai/deployments/{deployment}/chat/completions", self.handle_chat),
            web.post("/openai/v1/chat/completions", self.handle_chat),
            self.not_found_handler(_azure_error(404, "404", "Resource not found")),
        ]

    def error(self, status: int, message: str | None = None) -> ErrorReply:
        if status == 400:
            return _openai_fault(status, message)
        if status == 429:
            message = message or (
                "Requests to the ChatCompletions_Create Operation have exceeded the call rate "
                "limit of your current pricing tier. Please retry after the time in the "
                "Retry-After header."
            )
        elif status >= 500:
            message = message or _SERVER_ERROR
        return _azure_error(status, str(status), message or f"Error {status}")

    def check_auth(self, request: web.Request) -> ErrorReply | None:
        # Azure routes on api-version before it looks at credentials.
        if "deployment" in request.match_info and "api-version" not in request.query:
            return _azure_error(404, "404", "Resource not found")
        if _presented_key(request, azure_header=True) != self.api_key:
            return _azure_error(401, "401", _AZURE_DENIED)
        return None

    def parse_chat(self, request: web.Request, body: Any) -> ChatCall | ErrorReply:
        deployment = request.match_info.get("deployment")
        parsed = parse_chat(body, model=deployment)
        if isinstance(parsed, Problem):
            return _problem(parsed)
        if not self.known_model(parsed.model_label):
            return _azure_error(
                404,
                "DeploymentNotFound",
                "The API deployment for this resource does not exist. If you created the "
                "deployment within the last 5 minutes, please wait a moment and try again.",
            )
        return parsed


class AzureFoundryEmulator(_OpenAIBodies):
    """Azure AI Foundry model inference (e.g. MAI-Code-1-Flash).

    ``POST /models/chat/completions?api-version=`` with the model in the body,
    plus the OpenAI-compatible ``/chat/completions`` and ``/v1/chat/completions``.
    Key via ``api-key`` or Bearer.  ``url`` (``.../models``) is the endpoint
    for Azure AI inference clients and litellm's ``azure_ai`` provider.
    """

    provider = "foundry"
    default_models = ("MAI-Code-1-Flash",)

    @property
    def url(self) -> str:
        return f"{self.base_url}/models"

    def routes(self) -> Iterable[web.RouteDef]:
        return [
            web.post("/models/chat/completions", self.handle_chat),
            web.post("/chat/completions", self.handle_chat),
            web.post("/v1/chat/completions", self.handle_chat),
            self.not_found_handler(_azure_error(404, "404", "Resource not found")),
        ]

    def error(self, status: int, message: str | None = None) -> ErrorReply:
        names = {
            400: "BadRequest",
            401: "Unauthorized",
            403: "Forbidden",
            404: "NotFound",
            429: "TooManyRequests",
            500: "InternalServerError",
            503: "ServiceUnavailable",
        }
        text = message or (_SERVER_ERROR if status >= 500 else f"Error {status}")
        return _azure_error(status, names.get(status, str(status)), text)

    def check_auth(self, request: web.Request) -> ErrorReply | None:
        if request.path.startswith("/models/") and "api-version" not in request.query:
            return _azure_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if _presented_key(request, azure_header=True) != self.api_key:
            return _azure_error(401, "401", _AZURE_DENIED)
        return None

    def parse_chat(self, request: web.Request, body: Any) -> ChatCall | ErrorReply:
        if isinstance(body, dict) and not body.get("model"):
            return _azure_error(
                400,
                "no_model_name",
                "No model specified in request. Please provide a model name in the request "
                "body or as a x-ms-model-mesh-model-name header.",
            )
        parsed = parse_chat(body)
        if isinstance(parsed, Problem):
            return _azure_error(parsed.status, parsed.code or "invalid_request", parsed.message)
        if not self.known_model(parsed.model_label):
            text = f"Unknown model: {parsed.model_label}"
            return ErrorReply(
                404, {"error": {"code": "unknown_model", "message": text, "details": text}}
            )
        return parsed


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
