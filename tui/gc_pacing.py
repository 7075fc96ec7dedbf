"""The cyclic GC, paced by the UI: small collections between keys instead of big ones
whenever an allocation crosses a threshold.

Textual allocates tens of thousands of tracked objects for every few seconds of keys
and paints (its caches, regions, segments). A young collection costs ~1 us per object
in it, so at the 50k threshold (tui/cli.py: GC_THRESHOLDS, high for the big snapshots)
one lands on a key now and then and costs it 40-85 ms (measured at 100k goroutines).
Collecting the young generation every PACE once input has been quiet for QUIET keeps
each collection a few ms and out of the way of keys; the middle and old generations
follow at the same ratios as CPython's own (a full collection looks only at what came
after the first paint's freeze). A full collection walks every object (a joiner at
100k goroutines: a few hundred ms); the next one waits until the last one's time is at
most FULL_SHARE of the time since. The thresholds stay as a safety net, for input that
never pauses."""

from __future__ import annotations

import gc
import time

from gotui.backends import yielding

PACE = 0.25  # s between looks
QUIET = 0.5  # s without input before a collection (a burst of keys is not cut in two)
YOUNG = 2_000  # tracked objects in the young generation worth a collection
MIDDLE_AFTER = 10  # young collections per collection of the middle generation
OLD_AFTER = 10  # middle-generation collections per full collection
FULL_SHARE = 0.01  # of the time, at most, in full collections
_full_due_at = 0.0  # monotonic time before which no full collection runs


def collect_between_keys() -> int:
    """One collection if one is due and input is quiet (and no thread turned the GC off
    for its own work); the generation collected, -1 if none."""
    if yielding.since_input() < QUIET or not gc.isenabled():
        return -1
    global _full_due_at
    young, middle, old = gc.get_count()
    now = time.monotonic()
    if old >= OLD_AFTER and now >= _full_due_at:
        gc.collect(2)
        took = time.monotonic() - now
        _full_due_at = now + took + took / FULL_SHARE
        return 2
    if middle >= MIDDLE_AFTER:
        generation = 1
    elif young >= YOUNG:
        generation = 0
    else:
        return -1
    gc.collect(generation)
    return generation
