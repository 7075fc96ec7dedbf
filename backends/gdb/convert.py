"""gdbside.py's JSON (raw runtime fields, raw frames) -> model.Goroutine / Channel."""

from __future__ import annotations

import time
from typing import Any

from gotui.backends.cgostack import RawFrame, make_frame, stitch
from gotui.backends.model import (
    BlockedOn,
    Channel,
    ChanOp,
    Frame,
    Goroutine,
    Location,
    status_name,
)

WAITING = 4


def raw_frame(r: list[Any]) -> RawFrame:
    pc, function, file, line, library, offset = r
    return RawFrame(int(pc), str(function), str(file), int(line), str(library), int(offset))


def _loc(f: Frame | None) -> Location:
    return f.location if f is not None else Location()


def _chan_op(wait_reason: str, is_select: bool) -> ChanOp | None:
    if is_select or wait_reason.startswith("select"):
        return "select"
    if wait_reason.startswith("chan send"):
        return "send"
    if wait_reason.startswith("chan receive"):
        return "recv"
    return None


class FrameCache:
    """10k goroutines share a few hundred distinct frames: classify each once."""

    def __init__(self) -> None:
        self._frames: dict[tuple[Any, ...], Frame] = {}

    def frames(self, raws: list[list[Any]]) -> list[Frame]:
        out = []
        for r in raws:
            key = tuple(r)
            f = self._frames.get(key)
            if f is None:
                f = self._frames[key] = make_frame(raw_frame(r))
            out.append(Frame(f.function, f.file, f.line, f.pc, f.kind, f.note))
        return out


def goroutine_stack(g: dict[str, Any], threads: dict[int, list[Frame]],
                    cache: FrameCache | None = None) -> list[Frame]:
    """Stitched stack: the goroutine's own Go frames + its thread's native frames."""
    go = (cache or FrameCache()).frames(g["go_frames"])
    native: list[Frame] = []
    status = status_name(int(g["status"]))
    if g["thread"] and status in ("running", "syscall"):
        native = threads.get(int(g["thread"]), [])
    elif g["locked_thread"] and status == "waiting":
        native = threads.get(int(g["locked_thread"]), [])
    return stitch(go, native)


def goroutines(dump: dict[str, Any], *, live_clock: bool, stacks: bool = True,
               depth: int = 64) -> list[Goroutine]:
    cache = FrameCache()
    threads = {int(t["lwp"]): cache.frames(t["frames"]) for t in dump.get("threads", [])}
    now = time.monotonic_ns()
    out: list[Goroutine] = []
    for g in dump["goroutines"]:
        raw_status = int(g["status"])
        stack = goroutine_stack(g, threads, cache)[:depth]
        user = next((f for f in stack if f.kind == "go"), None)
        waiting_on = []
        for w in g.get("waiting", []):
            op = _chan_op(str(g["wait_reason"]), bool(w["is_select"]))
            if op is not None:
                waiting_on.append(BlockedOn(f"{int(w['chan']):#x}", op))
        since = int(g.get("waitsince", 0))
        out.append(Goroutine(
            id=int(g["id"]),
            status=status_name(raw_status),
            wait_reason=str(g["wait_reason"]) if raw_status & ~0x1000 == WAITING else "",
            wait_ns=max(0, now - since) if live_clock and since > 0 else 0,
            current=_loc(stack[0] if stack else None),
            user_current=_loc(user),
            go_statement=_loc(make_frame(raw_frame(g["go_statement"]))
                              if g.get("go_statement") else None),
            start=_loc(make_frame(raw_frame(g["start"])) if g.get("start") else None),
            parent_id=int(g.get("parent_id", 0)),
            blocked_on=waiting_on[0] if waiting_on else None,
            waiting_on=waiting_on,
            stack=stack if stacks else [],
            thread_id=int(g["thread"]),
        ))
    return out


def channels(dump: dict[str, Any], gs: list[Goroutine]) -> list[Channel]:
    """Channels that goroutines wait on, with len/cap/closed and who waits."""
    by_addr: dict[str, Channel] = {}
    raw = {int(g["id"]): g for g in dump["goroutines"]}
    for g in gs:
        for w, b in zip(raw.get(g.id, {}).get("waiting", []), g.waiting_on, strict=False):
            ch = by_addr.setdefault(b.chan, Channel(addr=b.chan, len=int(w["len"]),
                                                    cap=int(w["cap"]),
                                                    closed=bool(w["closed"])))
            if b.op == "send":
                ch.senders.append(g.id)
            else:
                ch.receivers.append(g.id)
    return list(by_addr.values())
