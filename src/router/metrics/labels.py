"""How values become label values and gauge readings, for every metric."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# A breaker's state (``router.shapes.CircuitState``) -> the gauge's numeric encoding; ordered
# so that max() across workers is the worst state.
CIRCUIT_STATES: Final[Mapping[str, int]] = MappingProxyType(
    {"closed": 0, "half_open": 1, "open": 2}
)


def status_class(status_code: int) -> str:
    """Collapse an HTTP status code to its class label ("2xx", "4xx", ...)."""
    return f"{status_code // 100}xx" if 100 <= status_code <= 599 else "other"
