from __future__ import annotations

import pytest

from router.cache.response import CacheDirectives
from router.errors import InvalidRequest


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, CacheDirectives()),
        ("", CacheDirectives()),
        ("no-cache", CacheDirectives(no_cache=True)),
        ("No-Store", CacheDirectives(no_store=True)),
        ("no-cache, no-store", CacheDirectives(no_cache=True, no_store=True)),
        ("max-age=60", CacheDirectives(max_age_s=60)),
        ('max-age="30", no-store', CacheDirectives(no_store=True, max_age_s=30)),
        ("max-age=0", CacheDirectives(max_age_s=0)),
        ("private, must-revalidate", CacheDirectives()),
        ("  no-cache ,max-age=5 ", CacheDirectives(no_cache=True, max_age_s=5)),
    ],
)
def test_parse(header: str | None, expected: CacheDirectives) -> None:
    assert CacheDirectives.parse(header) == expected


@pytest.mark.parametrize("header", ["max-age=soon", "max-age=-5", "max-age=\u00b2", "max-age=1e3"])
def test_a_max_age_that_is_not_ascii_digits_is_a_400(header: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        CacheDirectives.parse(header)
    assert refused.value.param == "cache-control"
