"""Text renderings of a Snapshot: a human table and Go's own goroutine dump format.

The dump follows `runtime.Stack(all=true)` / `/debug/pprof/goroutine?debug=2`, so
tools written for it (panicparse, goleak-style parsers) can read gotui's output.
"""

from __future__ import annotations

import json
from collections import Counter

from gotui.backends.goroutine_dump import shown_by_runtime, to_goroutine_dump
from gotui.backends.model import Snapshot, to_json


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
        if g.wait_ns:  # a lower bound unless eBPF saw the park (see Goroutine.wait_basis)
            wait = f"{wait} {'' if g.wait_basis == 'park' else '≥'}{human_duration(g.wait_ns)}"
        loc = (g.own_current if g.own_current.function
               else g.user_current if g.user_current.function else g.current)
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


# The goroutine dump lives in its own module; re-exported here for callers of formats.
__all__ = ["human_duration", "shown_by_runtime", "to_goroutine_dump", "to_json_text",
           "to_text", "wait_duration"]
