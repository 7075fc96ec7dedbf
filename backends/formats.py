"""Text renderings of a Snapshot: a human table and Go's own goroutine dump format.

The dump follows `runtime.Stack(all=true)` / `/debug/pprof/goroutine?debug=2`, so
tools written for it (panicparse, goleak-style parsers) can read gotui's output.
"""

from __future__ import annotations

import json
import re
from collections import Counter

from gotui.backends.analysis import is_system
from gotui.backends.model import Goroutine, Snapshot, to_json

_GO_WRAPPER = re.compile(r"\.gowrap\d+$|·dwrap·")


def to_json_text(snap: Snapshot) -> str:
    return json.dumps(to_json(snap), indent=None, separators=(",", ":"))


def wait_duration(ns: int) -> str:
    """Go's dump style: '3 minutes' (only whole minutes are shown by the runtime)."""
    minutes = ns // 60_000_000_000
    if minutes < 1:
        return ""
    return f"{minutes} minutes"


def human_duration(ns: int) -> str:
    """Compact wait time: 15ms, 42s, 11m53s, 3h05m, 2d04h ("" when unknown)."""
    if ns <= 0:
        return ""
    s = ns // 1_000_000_000
    if s == 0:
        return f"{ns // 1_000_000}ms"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s // 60 % 60:02d}m"
    return f"{s // 86400}d{s // 3600 % 24:02d}h"


def to_text(snap: Snapshot) -> str:
    lines = [
        f"pid {snap.pid}  {snap.exe}  {snap.go_version}  source={snap.source}  "
        f"goroutines={len(snap.goroutines)}  paused={snap.target_paused_ns / 1e6:.1f}ms",
    ]
    by_status = Counter(g.status for g in snap.goroutines)
    lines.append("  ".join(f"{k}={v}" for k, v in sorted(by_status.items())))
    lines.append(f"{'ID':>7}  {'STATUS':<9} {'WAIT':<24} {'LOCATION':<44} START")
    for g in sorted(snap.goroutines, key=lambda g: g.id):
        wait = g.wait_reason
        if g.wait_ns:
            wait = f"{wait} {human_duration(g.wait_ns)}"
        loc = g.user_current if g.user_current.function else g.current
        lines.append(
            f"{g.id:>7}  {g.status:<9} {wait[:24]:<24} {loc.short()[:44]:<44} "
            f"{g.start.function}"
        )
    for c in snap.channels:
        lines.append(
            f"chan {c.addr} {c.elem_type} len={c.len} cap={c.cap} closed={c.closed} "
            f"senders={c.senders} receivers={c.receivers}"
        )
    for lk in snap.locks:
        lines.append(f"lock {lk.addr} {lk.kind} waiters={lk.waiters}")
    return "\n".join(lines) + "\n"


def _dump_state(g: Goroutine) -> str:
    state = g.wait_reason if g.status == "waiting" and g.wait_reason else g.status
    dur = wait_duration(g.wait_ns)
    # (the runtime adds "locked to thread" for LockOSThread; g.lockedm is not in the model)
    return ", ".join([state, dur] if dur else [state])


def shown_by_runtime(function: str) -> bool:
    """The runtime's showfuncinfo at the default GOTRACEBACK level: frames of unexported
    runtime functions (gopark, chanrecv, goexit...) are left out of its dumps."""
    if "." not in function:
        return True  # C frames (cgo): the runtime shows what it can
    if _GO_WRAPPER.search(function):
        return False  # the closure a `go f(x)` statement compiles to (an elided wrapper)
    if not function.startswith("runtime."):
        return True
    name = function[len("runtime."):]
    return name[:1].isupper() or name.startswith("(*") and name[2:3].isupper()


def _frame_lines(function: str, file: str, line: int) -> list[str]:
    return [f"{function}(...)", f"\t{file}:{line}"]


def to_goroutine_dump(snap: Snapshot) -> str:
    """The format of runtime.Stack(buf, true) (= /debug/pprof/goroutine?debug=2) at the
    default GOTRACEBACK level: user goroutines only, runtime-internal frames left out,
    no "created by" for goroutine 1. Arguments are printed as `(...)` (the runtime's
    form for inlined frames) and pc offsets (`+0x..`) are left out: parsers accept both."""
    out: list[str] = []
    for g in sorted(snap.goroutines, key=lambda g: g.id):
        if g.status == "dead" or is_system(g):
            continue
        out.append(f"goroutine {g.id} [{_dump_state(g)}]:")
        frames = [(f.function, f.file, f.line) for f in g.stack] or (
            [(g.current.function, g.current.file, g.current.line)] if g.current.function
            else [])
        shown = [f for f in frames if shown_by_runtime(f[0])] or frames[:1]
        for f in shown:
            out += _frame_lines(*f)
        if g.go_statement.function and g.id != 1:
            creator = f"created by {g.go_statement.function}"
            if g.parent_id:
                creator += f" in goroutine {g.parent_id}"
            out.append(creator)
            out.append(f"\t{g.go_statement.file}:{g.go_statement.line}")
        out.append("")
    return "\n".join(out)
