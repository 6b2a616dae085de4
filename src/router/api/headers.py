"""Router's own headers, both ways: every ``x-router-*`` response header is rendered here, from
the pipeline's ``Route``, and the per-request overrides a client sends as headers are parsed
here (the policy ones, ``x-router-objective`` and friends, are read by ``decide()``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from router.errors import InvalidRequest
from router.pipeline import Route
from router.wire import header_number

TIMEOUT_HEADER = "x-router-timeout"
OMITTED_HEADER = "x-router-omitted"  # hints the model that answered did not get
ESTIMATE_HEADER = "x-router-token-count"  # on count_tokens: the count is an estimate


def router_headers(route: Route, *, omitted: Sequence[str] = ()) -> dict[str, str]:
    """The ``x-router-*`` headers of one answer; ``omitted`` names request hints the
    deployment that answered could not take (``x-router-omitted``)."""
    headers = {
        "x-router-cache": route.cache.value,
        "x-router-policy": header_safe(route.policy),
        "x-router-model": header_safe(route.model),
        "x-router-deployment": header_safe(route.deployment),
        "x-router-reason": header_safe(route.reason),
        "x-router-cost-usd": format_usd(route.cost_usd),
        "x-router-cost-basis": route.cost_basis,
        **route.limits,
        "x-router-attempts": header_safe(
            ", ".join(f"{name} {outcome}" for name, outcome in route.attempts) or "none"
        ),
    }
    if omitted:
        headers[OMITTED_HEADER] = header_safe(",".join(omitted))
    return headers


def header_safe(value: str) -> str:
    """One printable ASCII line: config names reach headers, which carry latin-1 only and
    end at a newline; anything else becomes ``?`` or a space."""
    if value.isascii() and value.isprintable():
        return value
    return " ".join(value.encode("ascii", "replace").decode("ascii").split())


def format_usd(value: float) -> str:
    """Header form: fixed point, enough digits for a fraction of a cent."""
    return f"{value:.8f}".rstrip("0").rstrip(".") if value else "0"


def deadline(headers: Mapping[str, str]) -> float | None:
    """``x-router-timeout``: the client's deadline for the whole request, in seconds."""
    raw = headers.get(TIMEOUT_HEADER)
    if raw is None:
        return None
    value = header_number(raw)
    if value is None or not 0 < value <= 3600:
        raise InvalidRequest(
            "x-router-timeout must be a number of seconds in (0, 3600]", param=TIMEOUT_HEADER
        )
    return value
