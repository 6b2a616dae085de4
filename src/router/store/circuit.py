"""A small breaker for the store: after a failure, skip it for ``cooldown_s``, then let one
call through to probe. Skipping is what keeps a dead or frozen Redis from costing every
request its full timeout.
"""

from __future__ import annotations

from collections.abc import Callable

from router.shapes import Clock

# Told when the store turns unhealthy (False, the error) or healthy again (True, "").
HealthHook = Callable[[bool, str], None]


class Circuit:
    def __init__(
        self,
        cooldown_s: float,
        clock: Clock,
        on_change: HealthHook | None = None,
    ) -> None:
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._on_change = on_change
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
        was_open = self._open_until is not None
        self._open_until = None
        self.last_error = ""
        if was_open and self._on_change is not None:
            self._on_change(True, "")

    def failed(self, probe: bool, error: str) -> None:
        if probe:
            self._probing = False
        was_closed = self._open_until is None
        self._open_until = self._clock() + self._cooldown_s
        self.last_error = error
        if was_closed and self._on_change is not None:
            self._on_change(False, error)

    def abandoned(self, probe: bool) -> None:
        """The caller was cancelled: neither outcome is known, so let the next call probe."""
        if probe:
            self._probing = False
