"""A small breaker for the store: after a failure, skip it for ``cooldown_s``, then let one
call through to probe. Skipping is what keeps a dead or frozen Redis from costing every
request its full timeout.
"""

from __future__ import annotations

from collections.abc import Callable


class Circuit:
    def __init__(self, cooldown_s: float, clock: Callable[[], float]) -> None:
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._open_until: float | None = None  # None: closed
        self._probing = False
        self.last_error = ""

    @property
    def closed(self) -> bool:
        return self._open_until is None

    def admit(self) -> bool | None:
        """None: skip the call. False: a normal call. True: this call is the one probe."""
        if self._open_until is None:
            return False
        if self._probing or self._clock() < self._open_until:
            return None
        self._probing = True
        return True

    def succeeded(self, probe: bool) -> None:
        if probe:
            self._probing = False
        self._open_until = None
        self.last_error = ""

    def failed(self, probe: bool, error: str) -> None:
        if probe:
            self._probing = False
        self._open_until = self._clock() + self._cooldown_s
        self.last_error = error

    def abandoned(self, probe: bool) -> None:
        """The caller was cancelled: neither outcome is known, so let the next call probe."""
        if probe:
            self._probing = False
