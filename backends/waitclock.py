"""Waits that keep their object: a goroutine the live reader (or a joiner's session)
hands out counts its wait from when it began, on its producer's clock, instead of
holding a number that moves.

A waiting goroutine's wait grows between any two reads, so with wait_ns stored in the
object the reader made a copy of every waiting goroutine on every snapshot: at 100k
parked goroutines, ~100k new objects per refresh, and a young collection of the cyclic
GC over them (50-110 ms that no thread can step aside from), plus a comparison of each
copy downstream. A LiveGoroutine whose g record did not change is the same object in
the next snapshot; its wait_ns reads the clock.

The clock is the producer's: it moves when the reader reads again (or a joiner applies
the host's next snapshot), so an older snapshot's goroutines say how long they have
waited as of the newest one. Consumers read a snapshot before the next one is taken
(the TUI's diff compares objects by identity; the share server stores each wait as it
encodes).
"""

from __future__ import annotations

import dataclasses
from operator import attrgetter

from gotui.backends.model import Goroutine

_FIELDS = attrgetter(*(f.name for f in dataclasses.fields(Goroutine)))


class WaitClock:
    """A producer's clock at its latest snapshot: the target's (CLOCK_MONOTONIC ns, the
    runtime's nanotime) for the live reader; for a joiner, the host's wait growth since
    the first snapshot, from BASE (a wait start is never 0)."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0


BASE = 1 << 62  # a joiner's clock starts here: the start of a long wait stays above 0


class LiveGoroutine(Goroutine):
    """A Goroutine whose wait_ns is `clock.now - since` while the reader's clock is set
    on it (`_clock`, `_since` in its __dict__: 0 = not waiting, or the wait is unknown).
    Set wait_ns (dataclasses.replace does) and it holds that number instead. It equals
    a plain Goroutine with the same fields (one read back from JSON)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Goroutine):
            return NotImplemented
        return bool(_FIELDS(self) == _FIELDS(other))

    __hash__ = None  # type: ignore[assignment]

    @property  # type: ignore[override]
    def wait_ns(self) -> int:
        d = self.__dict__
        clock = d.get("_clock")
        if clock is None:
            return d.get("_wait", 0)  # type: ignore[no-any-return]
        since = d["_since"]
        return clock.now - since if since else 0  # type: ignore[no-any-return]

    @wait_ns.setter
    def wait_ns(self, value: int) -> None:
        d = self.__dict__
        d.pop("_clock", None)
        d["_wait"] = value


def on_clock(fields: dict[str, object], clock: WaitClock, since: int) -> None:
    """Make the __dict__ of a LiveGoroutine count its wait from `since` (0: none)."""
    fields["_clock"] = clock
    fields["_since"] = since
    fields.pop("_wait", None)


def on_clock_from_now(g: Goroutine, clock: WaitClock) -> LiveGoroutine:
    """`g` (fields shared, not copied) as a LiveGoroutine whose wait, g.wait_ns now,
    counts on `clock` from here on."""
    live: LiveGoroutine = object.__new__(LiveGoroutine)
    fields = live.__dict__
    fields.update(g.__dict__)
    wait = fields.get("wait_ns", 0)
    on_clock(fields, clock, clock.now - wait if isinstance(wait, int) and wait > 0 else 0)
    return live
