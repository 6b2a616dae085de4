from __future__ import annotations

import pytest

from router.cache.response import CacheDirectives


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
        ("max-age=soon", CacheDirectives()),
        ("max-age=-5", CacheDirectives()),
        ("private, must-revalidate", CacheDirectives()),
        ("  no-cache ,max-age=5 ", CacheDirectives(no_cache=True, max_age_s=5)),
    ],
)
def test_parse(header: str | None, expected: CacheDirectives) -> None:
    assert CacheDirectives.parse(header) == expected
