"""Goroutine wait-reason strings by Go version.

Delve reports `waitReason` as the raw runtime.waitReason number, and the enum is
renumbered across Go releases (1.26 moved "sleep" and the chan waits). The best
source is the target itself: runtime.waitReasonStrings read through Delve's Eval
(see backends/delve/backend.py). These tables are the fallback, generated from
src/runtime/runtime2.go (the waitReason const block and waitReasonStrings) of the
Go release noted for each table.
"""

from __future__ import annotations

# first Go minor of a table -> strings indexed by the raw waitReason number
_TABLES: dict[int, tuple[str, ...]] = {
    # runtime2.go of go1.19 (Debian golang-1.19)
    19: (
        "", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)",
        "dumping heap", "garbage collection", "garbage collection scan", "panicwait", "select",
        "select (no cases)", "GC assist wait", "GC sweep wait", "GC scavenge wait",
        "chan receive", "chan send", "finalizer wait", "force gc (idle)", "semacquire", "sleep",
        "sync.Cond.Wait", "timer goroutine (idle)", "trace reader (blocked)",
        "wait for GC cycle", "GC worker (idle)", "preempted", "debug call",
    ),
    # runtime2.go of go1.20.14, go1.21.13
    20: (
        "", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)",
        "dumping heap", "garbage collection", "garbage collection scan", "panicwait", "select",
        "select (no cases)", "GC assist wait", "GC sweep wait", "GC scavenge wait",
        "chan receive", "chan send", "finalizer wait", "force gc (idle)", "semacquire", "sleep",
        "sync.Cond.Wait", "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock",
        "trace reader (blocked)", "wait for GC cycle", "GC worker (idle)", "GC worker (active)",
        "preempted", "debug call", "GC mark termination", "stopping the world",
    ),
    # runtime2.go of go1.22.12
    22: (
        "", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)",
        "dumping heap", "garbage collection", "garbage collection scan", "panicwait", "select",
        "select (no cases)", "GC assist wait", "GC sweep wait", "GC scavenge wait",
        "chan receive", "chan send", "finalizer wait", "force gc (idle)", "semacquire", "sleep",
        "sync.Cond.Wait", "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock",
        "trace reader (blocked)", "wait for GC cycle", "GC worker (idle)", "GC worker (active)",
        "preempted", "debug call", "GC mark termination", "stopping the world",
        "flushing proc caches", "trace goroutine status", "trace proc status",
        "page trace flush", "coroutine",
    ),
    # runtime2.go of go1.23.12
    23: (
        "", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)",
        "dumping heap", "garbage collection", "garbage collection scan", "panicwait", "select",
        "select (no cases)", "GC assist wait", "GC sweep wait", "GC scavenge wait",
        "chan receive", "chan send", "finalizer wait", "force gc (idle)", "semacquire", "sleep",
        "sync.Cond.Wait", "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock",
        "trace reader (blocked)", "wait for GC cycle", "GC worker (idle)", "GC worker (active)",
        "preempted", "debug call", "GC mark termination", "stopping the world",
        "flushing proc caches", "trace goroutine status", "trace proc status",
        "page trace flush", "coroutine", "GC weak to strong wait",
    ),
    # runtime2.go of go1.24.13
    24: (
        "", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)",
        "dumping heap", "garbage collection", "garbage collection scan", "panicwait", "select",
        "select (no cases)", "GC assist wait", "GC sweep wait", "GC scavenge wait",
        "chan receive", "chan send", "finalizer wait", "force gc (idle)", "semacquire", "sleep",
        "sync.Cond.Wait", "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock",
        "sync.WaitGroup.Wait", "trace reader (blocked)", "wait for GC cycle",
        "GC worker (idle)", "GC worker (active)", "preempted", "debug call",
        "GC mark termination", "stopping the world", "flushing proc caches",
        "trace goroutine status", "trace proc status", "page trace flush", "coroutine",
        "GC weak to strong wait", "synctest.Run", "synctest.Wait", "chan receive (synctest)",
        "chan send (synctest)", "select (synctest)",
    ),
    # runtime2.go of go1.25.14
    25: (
        "", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)",
        "dumping heap", "garbage collection", "garbage collection scan", "panicwait", "select",
        "select (no cases)", "GC assist wait", "GC sweep wait", "GC scavenge wait",
        "chan receive", "chan send", "finalizer wait", "force gc (idle)",
        "GOMAXPROCS updater (idle)", "semacquire", "sleep", "sync.Cond.Wait", "sync.Mutex.Lock",
        "sync.RWMutex.RLock", "sync.RWMutex.Lock", "sync.WaitGroup.Wait",
        "trace reader (blocked)", "wait for GC cycle", "GC worker (idle)", "GC worker (active)",
        "preempted", "debug call", "GC mark termination", "stopping the world",
        "flushing proc caches", "trace goroutine status", "trace proc status",
        "page trace flush", "coroutine", "GC weak to strong wait", "synctest.Run",
        "synctest.Wait", "chan receive (durable)", "chan send (durable)", "select (durable)",
        "sync.WaitGroup.Wait (durable)", "cleanup wait",
    ),
    # runtime2.go of go1.26.8, go1.27.3
    26: (
        "", "GC assist marking", "IO wait", "dumping heap", "garbage collection",
        "garbage collection scan", "panicwait", "GC assist wait", "GC sweep wait",
        "GC scavenge wait", "finalizer wait", "force gc (idle)", "GOMAXPROCS updater (idle)",
        "semacquire", "sleep", "chan receive (nil chan)", "chan send (nil chan)",
        "select (no cases)", "select", "chan receive", "chan send", "sync.Cond.Wait",
        "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock", "sync.WaitGroup.Wait",
        "trace reader (blocked)", "wait for GC cycle", "GC worker (idle)", "GC worker (active)",
        "preempted", "debug call", "GC mark termination", "stopping the world",
        "flushing proc caches", "trace goroutine status", "trace proc status",
        "page trace flush", "coroutine", "GC weak to strong wait", "synctest.Run",
        "synctest.Wait", "chan receive (durable)", "chan send (durable)", "select (durable)",
        "sync.WaitGroup.Wait (durable)", "cleanup wait",
    ),
}

OLDEST, NEWEST = min(_TABLES), max(_TABLES)


def table(go_minor: int) -> tuple[str, ...]:
    """The wait-reason table for Go 1.<go_minor> (clamped to the known range)."""
    minor = min(max(go_minor, OLDEST), NEWEST)
    return _TABLES[max(k for k in _TABLES if k <= minor)]


def wait_reason(go_minor: int, raw: int) -> str:
    """The runtime's string for wait reason `raw` in Go 1.<go_minor>."""
    names = table(go_minor)
    if 0 <= raw < len(names):
        return names[raw]
    return f"waitReason({raw})"


def go_minor(version: str) -> int:
    """"go1.26.8" -> 26; 0 if not a go1.N version string."""
    parts = version.removeprefix("go").split(".")
    if len(parts) >= 2 and parts[0] == "1" and parts[1].isdigit():
        return int(parts[1])
    return 0
