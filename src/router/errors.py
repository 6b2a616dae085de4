"""Every error router can answer with, and the one place that maps it to HTTP.

The tree::

    RouterError                      any error a client may see; has status, type, code, param
    ├── InvalidRequest         400   bad JSON, bad or forbidden field (``param`` names it)
    ├── AuthenticationFailed   401   missing or wrong key
    ├── PermissionDenied       403   key valid but not allowed here
    ├── NotFound               404   unknown route, model or policy
    ├── MethodNotAllowed       405
    ├── PayloadTooLarge        413   body over the configured limit
    ├── HeadersTooLarge        431   request headers over 64 KiB in total
    ├── RateLimited            429   a key/team/deployment limit, or the upstream said slow down
    │   └── BudgetExceeded     429   a key's or team's budget is spent
    ├── LimitsUnavailable      503   the limits store failed and a limit says deny
    ├── Overloaded             503   router's own in-flight limit (carries Retry-After)
    └── UpstreamFailed         502/503/504
        ├── NoHealthyDeployment  503 every candidate excluded by live signals (open circuits)
        ├── StreamInterrupted  502   upstream failed after content reached the client (SSE)
        └── AllAttemptsFailed        every attempt of a decision failed; lists them

Foreign exceptions (aiohttp, litellm) are translated at the upstream boundary into an
``AttemptError`` (one failed try); dispatch turns a list of those into ``AllAttemptsFailed``.
Nothing else in router invents an HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

AttemptKind = Literal[
    "status", "timeout", "connect", "protocol", "circuit_open", "deadline", "invalid"
]


class RouterError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init_subclass__(
        cls, *, status: int = 0, kind: str = "", code: str | None = None, **rest: Any
    ) -> None:
        """A subclass names what differs from its parent in its class line
        (``class NotFound(RouterError, status=404, code="not_found")``), so the tree's data
        stands one class a line, as in the docstring; ``kind`` is the body's ``type``."""
        super().__init_subclass__(**rest)
        if status:
            cls.status = status
        if kind:
            cls.type = kind
        if code is not None:
            cls.code = code

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = headers or {}

    def body(self) -> dict[str, Any]:
        """The OpenAI error shape: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def anthropic_body(self) -> dict[str, Any]:
        """Anthropic's error shape, for Messages clients: ``{"type": "error", "error":
        {"type", "message"}}``, the type following the status as Anthropic's does."""
        kind = _ANTHROPIC_TYPES.get(self.status)
        if kind is None:
            kind = "api_error" if self.status >= 500 else "invalid_request_error"
        return {"type": "error", "error": {"type": kind, "message": self.message}}


# Anthropic's error type per status (its SDK picks the exception class by status, not type).
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class InvalidRequest(RouterError, status=400, kind="invalid_request_error"):
    pass


class AuthenticationFailed(
    RouterError, status=401, kind="authentication_error", code="invalid_api_key"
):
    pass


class PermissionDenied(RouterError, status=403, kind="permission_error"):
    pass


class NotFound(RouterError, status=404, kind="invalid_request_error", code="not_found"):
    pass


class MethodNotAllowed(
    RouterError, status=405, kind="invalid_request_error", code="method_not_allowed"
):
    pass


class PayloadTooLarge(
    RouterError, status=413, kind="invalid_request_error", code="payload_too_large"
):
    pass


class HeadersTooLarge(
    RouterError, status=431, kind="invalid_request_error", code="request_headers_too_large"
):
    pass


class RateLimited(RouterError, status=429, kind="rate_limit_error", code="rate_limit_exceeded"):
    pass


class Overloaded(RouterError, status=503, kind="server_error", code="overloaded"):
    pass


class UpstreamFailed(RouterError, status=502, kind="upstream_error", code="upstream_error"):
    pass


class NoHealthyDeployment(UpstreamFailed, status=503, code="no_healthy_deployment"):
    pass


class StreamInterrupted(UpstreamFailed, code="stream_interrupted"):
    """Sent as the final SSE event: the status line has already gone out as 200. ``error`` is
    the failed attempt (defined below; raised by dispatch's answer stream)."""

    def __init__(self, error: AttemptError) -> None:
        super().__init__(f"upstream stream failed after it started: {error.describe()}")
        self.error = error


@dataclass(frozen=True, slots=True)
class AttemptError:
    """One failed try against one deployment; never carries secrets or raw upstream bodies.

    ``kind`` is one of: ``status`` (upstream answered with an error status), ``timeout``
    (the deployment's own timeouts), ``connect`` (could not connect), ``protocol`` (malformed
    or truncated answer), ``circuit_open`` (skipped without trying), and two faults that are
    the client's, never the deployment's: ``deadline`` (the client's own ``x-router-timeout``
    ran out) and ``invalid`` (the adapter could not even build the provider's request from
    the client's body).
    """

    deployment: str
    kind: AttemptKind
    status: int | None
    message: str
    retry_after: float | None = None

    @property
    def client_fault(self) -> bool:
        """The request itself was refused (400, 413, 422, or it could not be translated):
        retrying or falling back cannot help. Upstream 401/403/404 are the deployment's fault
        (bad provider key, missing model)."""
        return self.status in _CLIENT_FAULT or self.kind == "invalid"

    @property
    def answered(self) -> bool:
        """The upstream answered the request with a refusal of it: the deployment is up."""
        return self.kind == "status" and self.status in _CLIENT_FAULT

    @property
    def charged(self) -> bool:
        """Counts against the deployment's health (circuit, error rate)."""
        return not self.client_fault and self.kind != "deadline"

    @property
    def retryable(self) -> bool:
        if self.kind in ("timeout", "connect", "protocol"):
            return True
        return self.status is not None and (self.status == 429 or self.status >= 500)

    def describe(self) -> str:
        what = f"HTTP {self.status}" if self.status is not None else self.kind
        return f"{self.deployment}: {what} ({self.message})"


UNTRANSLATABLE = (
    "the request cannot be translated for this provider; check its tools, content parts "
    "and response_format"
)
"""What a client reads when its request could not be put into a provider's shape."""

_CLIENT_FAULT = frozenset({400, 413, 422})


class AttemptFailed(Exception):
    """Raised by an upstream adapter for one failed attempt; dispatch catches it."""

    def __init__(self, error: AttemptError) -> None:
        super().__init__(error.describe())
        self.error = error


class AllAttemptsFailed(UpstreamFailed):
    """Every attempt failed: the status follows the most telling failure."""

    def __init__(self, attempts: list[AttemptError]) -> None:
        self.attempts = list(attempts)
        listing = "; ".join(a.describe() for a in attempts) or "no deployment was available"
        super().__init__(f"all upstream attempts failed: {listing}")
        self.status, self.type, self.code = _status_for(attempts)
        retry_after = [a.retry_after for a in attempts if a.retry_after is not None]
        if self.status == 429 and retry_after:
            self.headers["retry-after"] = str(max(1, round(min(retry_after))))


def _status_for(attempts: list[AttemptError]) -> tuple[int, str, str]:
    """A request the upstream refused passes through (a 400 is the client's to fix), as does one
    that could not be translated (400); the client's own deadline is a 504; all-429 stays a
    429; all timeouts become 504; open circuits alone become 503; anything else is a 502."""
    refused = [a.status for a in attempts if a.client_fault and a.status is not None]
    if refused:
        return refused[-1], "invalid_request_error", "upstream_rejected_request"
    if any(a.kind == "invalid" for a in attempts):
        return 400, "invalid_request_error", "invalid_request"
    if any(a.kind == "deadline" for a in attempts):
        return 504, "timeout_error", "deadline_exceeded"
    if attempts and all(a.status == 429 for a in attempts):
        return 429, "rate_limit_error", "rate_limit_exceeded"
    if attempts and all(a.kind == "timeout" for a in attempts):
        return 504, "upstream_error", "upstream_timeout"
    if not attempts or all(a.kind == "circuit_open" for a in attempts):
        return 503, "upstream_error", "no_healthy_deployment"
    return 502, "upstream_error", "upstream_error"


class BudgetExceeded(RateLimited, code="budget_exceeded"):
    """A key's or team's budget cannot cover the request; the message names it and when it
    resets."""


class LimitsUnavailable(RouterError, status=503, code="limits_unavailable"):
    """The store that counts limits did not answer and a limit says ``on_store_error: deny``."""
