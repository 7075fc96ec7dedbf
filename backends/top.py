"""`gotui top <pid> --batch`: one JSON line per live refresh, like `top -b`.

Only the live reader: no TUI, no eBPF, no Delve; the target is never stopped. A line:
{"t": unix ns when the read started, "goroutines": n, "by_status": {status: n},
 "by_wait_reason": {reason: n} (waiting goroutines only), "refresh_ms": wall ms of the
read}. Ends after `count` lines, at SIGINT/SIGTERM (after the line being written), or
when the reader of stdout goes away; a target that exits mid-run is one error line.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any, TextIO

from gotui.backends.live.reader import LiveReader
from gotui.backends.model import GotuiError, Snapshot
from gotui.backends.procinfo import process_facts, require_go
from gotui.backends.signals import handling


def line_of(snap: Snapshot, started_ns: int, read_s: float) -> dict[str, Any]:
    """The JSON object of one refresh."""
    gs = snap.goroutines
    return {
        "t": started_ns,
        "goroutines": len(gs),
        "by_status": dict(Counter(g.status for g in gs).most_common()),
        "by_wait_reason": dict(Counter(g.wait_reason for g in gs
                                       if g.status == "waiting" and g.wait_reason
                                       ).most_common()),
        "refresh_ms": round(read_s * 1000, 1),
    }


def _gone(pid: int) -> bool:
    """The process exited (or is a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def run_top(pid: int, *, interval: float, count: int | None,
            out: TextIO | None = None) -> int:
    """Print one line per refresh; returns the exit code. Errors are GotuiErrors."""
    out = out if out is not None else sys.stdout
    require_go(process_facts(pid))
    reader = LiveReader(pid)
    stop = threading.Event()
    written = 0
    try:
        with handling((signal.SIGINT, signal.SIGTERM), lambda _s, _f: stop.set()):
            next_at = time.monotonic()
            while not stop.is_set() and (count is None or written < count):
                started_ns = time.time_ns()
                t0 = time.perf_counter()
                try:
                    snap = reader.snapshot()
                except GotuiError:
                    if _gone(pid):
                        raise GotuiError(f"process {pid} exited") from None
                    raise
                line = line_of(snap, started_ns, time.perf_counter() - t0)
                del snap
                try:
                    out.write(json.dumps(line, separators=(",", ":")) + "\n")
                    out.flush()
                except BrokenPipeError:
                    _silence_stdout(out)
                    return 0
                written += 1
                if count is not None and written >= count:
                    break
                # start to start, like top; a slow read delays the next, no bursts
                next_at = max(next_at + interval, time.monotonic())
                stop.wait(next_at - time.monotonic())
    finally:
        reader.close()
    return 0


def _silence_stdout(out: TextIO) -> None:
    """The reader of our stdout left (`| head -3`): send what is still buffered to
    /dev/null, so that closing stdout at exit raises nothing."""
    if out is sys.stdout:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
