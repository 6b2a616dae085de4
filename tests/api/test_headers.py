"""The x-router-* headers are rendered in one place, from the pipeline's Route."""

from __future__ import annotations

import pytest

from router.api.headers import deadline, router_headers
from router.cache.entry import CacheResult
from router.errors import InvalidRequest
from router.pipeline import Route


def test_every_header_from_the_route() -> None:
    attempts = (("m@a", "503"), ("m@d", "ok"))
    route = Route("p", "m", "m@d", "why", 0.00012, "estimate", CacheResult.MISS, attempts=attempts)
    assert router_headers(route) == {
        "x-router-cache": "miss",
        "x-router-policy": "p",
        "x-router-model": "m",
        "x-router-deployment": "m@d",
        "x-router-reason": "why",
        "x-router-cost-usd": "0.00012",
        "x-router-cost-basis": "estimate",
        "x-router-attempts": "m@a 503, m@d ok",
    }
    hit = Route("p", "m", "m@d", "why", 0.0, "actual", CacheResult.HIT)
    assert router_headers(hit)["x-router-attempts"] == "none"  # a cache hit called nobody


def test_config_names_and_reasons_become_one_ascii_line() -> None:
    reason = "pölicy/rüle:\n  -> dép"
    route = Route("pölicy", "mödel", "dép", reason, 0.0, "actual", CacheResult.HIT)
    headers = router_headers(route)
    for value in headers.values():
        value.encode("latin-1")  # what the ASGI server does with it
        assert value.isascii()
        assert "\n" not in value
    assert headers["x-router-policy"] == "p?licy"
    assert headers["x-router-reason"] == "p?licy/r?le: -> d?p"
    assert headers["x-router-cost-usd"] == "0"


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "3601", "nan"])
def test_a_bad_timeout_header_is_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        deadline({"x-router-timeout": raw})
    assert err.value.param == "x-router-timeout"


def test_timeout_header_in_seconds() -> None:
    assert deadline({"x-router-timeout": "2.5"}) == 2.5
    assert deadline({}) is None


def test_hints_the_answering_model_did_not_get_are_named() -> None:
    route = Route("p", "gpt-4o", "gpt-4o@openai", "why", 0.0, "actual", CacheResult.BYPASS)
    assert "x-router-omitted" not in router_headers(route)
    headers = router_headers(route, omitted=["thinking", "top_k"])
    assert headers["x-router-omitted"] == "thinking,top_k"
