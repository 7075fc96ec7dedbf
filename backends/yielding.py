"""Input first: work running in a thread beside the TUI (a refresh: reading 100k
goroutines, comparing them with the last snapshot) shares the GIL with the event loop.
A key that lands mid-refresh would get the GIL only every other switch interval, and
its handling and paint would take twice as long. Long loops in that work call
`step_aside()` between pieces of a few ms; while the UI says it is handling input
(`input_arrived()` ... `input_done()`), the thread waits there instead.

A step aside never lasts longer than MAX_STEP: a user typing without pause still gets
refreshes, later."""

from __future__ import annotations

import threading
import time

MAX_STEP = 0.25  # seconds one step aside may wait at most
HOLD = 0.2  # how long input counts as being handled if the UI never says it is done
_POLL = 0.002

_busy_until = 0.0
_main = threading.main_thread()


def input_arrived(hold: float = HOLD) -> None:
    """The UI got input (a key, a click): threads step aside until input_done()."""
    global _busy_until
    _busy_until = time.monotonic() + hold


def input_done() -> None:
    """The UI painted what the input did."""
    global _busy_until
    _busy_until = 0.0


def input_pending() -> bool:
    return time.monotonic() < _busy_until


def step_aside() -> float:
    """Called by long work between pieces: wait while the UI handles input (never on the
    main thread). The seconds waited."""
    if threading.current_thread() is _main:
        return 0.0
    start = now = time.monotonic()
    while now < _busy_until and now - start < MAX_STEP:
        time.sleep(_POLL)
        now = time.monotonic()
    return now - start
