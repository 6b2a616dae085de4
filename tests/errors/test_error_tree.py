"""The error tree's HTTP facts, class by class: what a client reads for each error."""

from __future__ import annotations

import pytest

from router.errors import (
    AllAttemptsFailed,
    AttemptError,
    AuthenticationFailed,
    BudgetExceeded,
    HeadersTooLarge,
    InvalidRequest,
    LimitsUnavailable,
    MethodNotAllowed,
    NoHealthyDeployment,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RouterError,
    StreamInterrupted,
    UpstreamFailed,
)

TREE: list[tuple[type[RouterError], int, str, str | None]] = [
    (RouterError, 500, "server_error", None),
    (InvalidRequest, 400, "invalid_request_error", None),
    (AuthenticationFailed, 401, "authentication_error", "invalid_api_key"),
    (PermissionDenied, 403, "permission_error", None),
    (NotFound, 404, "invalid_request_error", "not_found"),
    (MethodNotAllowed, 405, "invalid_request_error", "method_not_allowed"),
    (PayloadTooLarge, 413, "invalid_request_error", "payload_too_large"),
    (HeadersTooLarge, 431, "invalid_request_error", "request_headers_too_large"),
    (RateLimited, 429, "rate_limit_error", "rate_limit_exceeded"),
    (BudgetExceeded, 429, "rate_limit_error", "budget_exceeded"),
    (LimitsUnavailable, 503, "server_error", "limits_unavailable"),
    (Overloaded, 503, "server_error", "overloaded"),
    (UpstreamFailed, 502, "upstream_error", "upstream_error"),
    (NoHealthyDeployment, 503, "upstream_error", "no_healthy_deployment"),
]


@pytest.mark.parametrize(("cls", "status", "kind", "code"), TREE, ids=[t[0].__name__ for t in TREE])
def test_each_error_answers_with_its_status_type_and_code(
    cls: type[RouterError], status: int, kind: str, code: str | None
) -> None:
    error = cls("what went wrong", param="model")
    assert (error.status, error.type, error.code) == (status, kind, code)
    assert error.body() == {
        "error": {"message": "what went wrong", "type": kind, "param": "model", "code": code}
    }


def test_a_code_given_to_one_error_stays_with_it() -> None:
    assert NotFound("no such policy", code="policy_not_found").code == "policy_not_found"
    assert NotFound("no such model").code == "not_found"


def test_stream_interrupted_keeps_its_parents_status_and_its_own_code() -> None:
    error = StreamInterrupted(AttemptError("gpt", "protocol", None, "cut short"))
    assert (error.status, error.type, error.code) == (502, "upstream_error", "stream_interrupted")
    assert "gpt: protocol (cut short)" in error.message


@pytest.mark.parametrize(
    ("cls", "anthropic_type"),
    [
        (InvalidRequest, "invalid_request_error"),
        (AuthenticationFailed, "authentication_error"),
        (HeadersTooLarge, "invalid_request_error"),
        (Overloaded, "overloaded_error"),
        (UpstreamFailed, "api_error"),
    ],
)
def test_messages_clients_read_anthropics_type_for_the_status(
    cls: type[RouterError], anthropic_type: str
) -> None:
    assert cls("no").anthropic_body() == {
        "type": "error",
        "error": {"type": anthropic_type, "message": "no"},
    }


def test_all_attempts_failed_takes_the_status_of_its_attempts() -> None:
    throttled = [AttemptError("a", "status", 429, "slow down", retry_after=2.4)]
    error = AllAttemptsFailed(throttled)
    assert (error.status, error.type, error.code) == (
        429,
        "rate_limit_error",
        "rate_limit_exceeded",
    )
    assert error.headers == {"retry-after": "2"}
