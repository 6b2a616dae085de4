"""Counters for limits and budgets: the shapes of one atomic admission and one settlement.

An admission (:class:`Ask`) takes from several counters at once, all or nothing: ``draws``
on windowed counters (requests, tokens, budget units) and ``leases`` on concurrency sets.
``options`` are alternatives tried in order after the common part passes (a request's
candidate deployments, each with its own quota): the first option that passes is taken, and
the ones skipped are reported. A window starts at a counter's first draw and lasts
``window_ms`` (0: never ends); the store's own clock times it, so every replica agrees.

A :class:`Settlement` reconciles afterwards: adjusts counters by what was really used,
releases leases, and adds to field counters (spend). Both are batched: a store takes a list
and answers in one round trip, applying each ask atomically in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Draw:
    """Take ``amount`` from ``key`` if its window's total stays within ``limit``."""

    key: str
    limit: int
    amount: int
    window_ms: int


@dataclass(frozen=True, slots=True)
class Lease:
    """Hold one of ``limit`` slots in ``key`` until released or ``ttl_ms`` passes (a crashed
    holder's slot comes back by itself)."""

    key: str
    limit: int
    holder: str
    ttl_ms: int


@dataclass(frozen=True, slots=True)
class Option:
    draws: tuple[Draw, ...] = ()
    leases: tuple[Lease, ...] = ()


@dataclass(frozen=True, slots=True)
class Ask:
    draws: tuple[Draw, ...] = ()
    leases: tuple[Lease, ...] = ()
    options: tuple[Option, ...] = ()


@dataclass(frozen=True, slots=True)
class Level:
    """One counter as the admission saw it: ``used`` includes this ask's draw when admitted;
    ``reset_ms`` is how long until the window ends (0: no window, or nothing used)."""

    used: int
    reset_ms: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """An option passed over: ``item`` indexes its draws then leases; ``level`` is that
    counter's state."""

    option: int
    item: int
    level: Level


@dataclass(frozen=True, slots=True)
class Verdict:
    admitted: bool
    levels: tuple[Level, ...]  # the common draws, then leases, in order
    blocked: int | None = None  # index into levels of the first that refused
    option: int | None = None  # the option taken (None: no options, or none passed)
    skipped: tuple[Skipped, ...] = ()

    @property
    def options_exhausted(self) -> bool:
        """The common part passed but every option refused."""
        return not self.admitted and self.blocked is None


@dataclass(frozen=True, slots=True)
class Adjust:
    """Add ``delta`` (may be negative; the total never drops below 0) to ``key`` while its
    window lives; with ``create``, start a window of ``window_ms`` if there is none."""

    key: str
    delta: int
    window_ms: int = 0
    create: bool = False


@dataclass(frozen=True, slots=True)
class Release:
    key: str
    holder: str


@dataclass(frozen=True, slots=True)
class FieldAdd:
    """Add ``amount`` to ``field`` of the field counter ``key``, kept ``ttl_ms`` after its
    creation (0: forever)."""

    key: str
    field: str
    amount: int
    ttl_ms: int = 0


@dataclass(frozen=True, slots=True)
class Settlement:
    """Applied at most once per ``once`` key (kept ``once_ttl_ms``): a settlement whose
    answer was lost (a timeout after the server ran it) can be sent again safely."""

    adjusts: tuple[Adjust, ...] = ()
    releases: tuple[Release, ...] = ()
    adds: tuple[FieldAdd, ...] = field(default=())
    once: str = ""  # empty: no guard
    once_ttl_ms: int = 3_600_000
