"""Input first: work running in a thread beside the TUI (a refresh: reading 100k
goroutines, comparing them with the last snapshot) shares the GIL with the event loop.
A key that lands mid-refresh would get the GIL only every other switch interval, and
its handling and paint would take twice as long. Long loops in that work call
`step_aside()` between pieces of a few ms; while the UI says it is handling input
(`input_arrived()` ... `input_done()`), the thread waits there instead.

Between steps, a thread still holds the GIL for up to the switch interval each time the
event loop wants it back, and the loop gives it up on every turn (its select). At
CPython's 5 ms, `j` x20 that landed on a refresh took 58-83 ms against ~30; the TUI
runs with SWITCH_INTERVAL instead (`favour_the_event_loop()`).

A step aside never lasts longer than MAX_STEP: a user typing without pause still gets
refreshes, later.

The cyclic GC waits too: a young collection costs ~0.6 us per object (Textual's
caches and geometry objects are most of them: 20-30 ms at a 50k threshold), and a key's
own handling and paint allocate enough to trigger one on a good share of keys. It is
off from input_arrived() to input_done() (or until settle() sees no input pending), so
collections run between keys. A thread that turned it off itself (the live reader,
while it builds a snapshot) turns it back on itself."""

from __future__ import annotations

import gc
import sys
import threading
import time

SWITCH_INTERVAL = 0.001  # s a thread may hold the GIL while another waits for it
MAX_STEP = 0.25  # seconds one step aside may wait at most
HOLD = 0.2  # how long input counts as being handled if the UI never says it is done
_POLL = 0.002

_busy_until = 0.0
_last_input = float("-inf")
_gc_held = False  # input turned the cyclic GC off: input_done() turns it back on
_main = threading.main_thread()


def favour_the_event_loop() -> None:
    """A waiting event loop gets the GIL back from a busy thread within SWITCH_INTERVAL
    (only ever shorter: an embedding that chose shorter keeps it)."""
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))


def input_arrived(hold: float = HOLD) -> None:
    """The UI got input (a key, a click): threads step aside until input_done()."""
    global _busy_until, _last_input, _gc_held
    _last_input = time.monotonic()
    _busy_until = _last_input + hold
    if gc.isenabled():
        gc.disable()
        _gc_held = True


def input_done() -> None:
    """The UI painted what the input did."""
    global _busy_until, _gc_held
    _busy_until = 0.0
    if _gc_held:
        _gc_held = False
        gc.enable()


def settle() -> None:
    """The GC back on if input held it and the UI never said it was done (called now and
    then: the refresh timer)."""
    if _gc_held and not input_pending():
        input_done()


def input_pending() -> bool:
    return time.monotonic() < _busy_until


def since_input() -> float:
    """Seconds since the UI last got input (inf if never)."""
    return time.monotonic() - _last_input


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
