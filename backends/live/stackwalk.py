"""Stacks of parked goroutines by frame-pointer walk, without stopping the process.

Go keeps frame pointers on amd64: in a frame whose base is bp, the caller's bp is at
[bp] and the return address at [bp+8]. A parked goroutine's g.sched.{pc,sp,bp} is
where it stopped (inside runtime.gopark, or the entry of a goroutine that never
ran). Every bp must lie in [sp, stack.hi), 8-aligned and above the previous one,
otherwise the walk stops there: the stack may change under us while we read it.
Each physical frame is expanded into its logical frames (calls inlined into it).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from gotui.backends.gobinary.symbols import Symbols
from gotui.backends.live.memory import ProcessMemory
from gotui.backends.model import Frame, Location

_PAIR = struct.Struct("<QQ")
MAX_WINDOW = 256 * 1024  # bytes of one goroutine's stack read at once by `walk`
STOP_FUNCS = frozenset({"runtime.goexit", "runtime.mstart", "runtime.rt0_go"})
CGOCALLBACK = frozenset({"runtime.cgocallback", "runtime.cgocallback.abi0"})


class StackStart(NamedTuple):
    pc: int
    sp: int
    bp: int
    lo: int
    hi: int


def _next_ok(bp: int, prev: int, start: StackStart) -> bool:
    return bp > prev and bp & 7 == 0 and start.sp <= bp and bp + 16 <= start.hi


def ends_at_base(frames: list[Frame]) -> bool:
    """The outermost logical frame is the physical function: stop at the stack's base."""
    return frames[-1].function in STOP_FUNCS


_ends = ends_at_base


def walk(mem: ProcessMemory, symbols: Symbols, start: StackStart, depth: int) -> list[Frame]:
    """The whole stack (up to `depth` frames) of one parked goroutine, one read."""
    if depth <= 0 or not start.pc:
        return []
    size = min(start.hi - start.sp, MAX_WINDOW)
    data = mem.read(start.sp, size) if 0 < size else None
    return _walk_data(mem, symbols, start, depth, data)


def walk_windows(mem: ProcessMemory, symbols: Symbols, starts: list[StackStart],
                 depth: int) -> list[list[Frame]]:
    """walk() of many goroutines: each one's used stack ([sp, stack.hi), at most
    MAX_WINDOW) is copied in one batched read and walked in that copy, so a goroutine
    that runs meanwhile yields one consistent copy rather than levels read at different
    times."""
    reqs = [(s.sp, min(s.hi - s.sp, MAX_WINDOW)) if s.pc and s.hi > s.sp else (0, 0)
            for s in starts]
    datas = mem.read_many([r for r in reqs if r[1]])
    it = iter(datas)
    return [_walk_data(None, symbols, s, depth, next(it) if size else None)
            if s.pc and depth > 0 else [] for s, (_, size) in zip(starts, reqs, strict=True)]


def _walk_data(mem: ProcessMemory | None, symbols: Symbols, start: StackStart, depth: int,
               data: bytes | None) -> list[Frame]:
    """Frame-pointer walk in `data` (the stack from start.sp); bps past it are read from
    `mem` (None: the walk stops there)."""
    frames = list(symbols.top_frames(start.pc))
    bp, prev = start.bp, start.sp - 1
    while len(frames) < depth and not _ends(frames):
        if not _next_ok(bp, prev, start):
            break
        off = bp - start.sp
        if data is not None and off + 16 <= len(data):
            nextbp, ret = _PAIR.unpack_from(data, off)
        else:
            raw = mem.read(bp, 16) if mem is not None else None
            if raw is None:
                break
            nextbp, ret = _PAIR.unpack(raw)
        if ret == 0:
            break
        frames += symbols.frames(ret, call=True)
        if frames[-1].function in CGOCALLBACK and data is not None:
            # C called back into Go: below cgocallback's frame is C's. Go on as the
            # runtime's unwinder does, by frame sizes (pcsp): cgocallback's return
            # slot holds the pc the goroutine entered the cgo call from (g.sched.pc)
            frames += _sp_walk(symbols, start, data, bp + 16, ret, depth - len(frames))
            break
        prev, bp = bp, nextbp
    return frames[:depth]


def _sp_walk(symbols: Symbols, start: StackStart, data: bytes, sp: int, pc: int,
             limit: int) -> list[Frame]:
    """The frames under the one running at `pc` with stack pointer `sp`, found from
    each function's frame size at its pc instead of frame pointers."""
    out: list[Frame] = []
    saved = True  # the first pc is g.sched.pc (maybe a function's entry), not a return
    while len(out) < limit:
        size = symbols.frame_size(pc)
        if size is None:
            break
        cfa = sp + size + 8
        off = cfa - 8 - start.sp
        if not 0 <= off <= len(data) - 8:
            break
        (ret,) = struct.unpack_from("<Q", data, off)
        fr = (symbols.top_frames(ret) if saved else symbols.frames(ret, call=True)) if ret else []
        saved = False
        if not fr or not fr[-1].function:
            break
        out += fr
        if ends_at_base(fr):
            break
        sp, pc = cfa, ret
    return out


class UserFrames(NamedTuple):
    """Per goroutine: its innermost location, its first user (non-runtime) frame and
    its first frame of the program's own code (None: not found), and whether the walk
    broke (a frame pointer or read that does not hold up: the goroutine moved while
    we read) before it found them."""

    current: list[Location]
    user: list[Location | None]
    own: list[Location | None]
    torn: list[bool]


def user_frames(mem: ProcessMemory, symbols: Symbols,
                tops: list[tuple[int, int, int, int, int]], max_depth: int = 48) -> UserFrames:
    """UserFrames of many goroutines, given their parked (pc, sp, bp, stack.hi, goid):
    all are walked level by level with one batched read per level, each only as far as
    its first frame of the program's own code. A whole stack without a user frame (a
    runtime goroutine) gets its outermost frame as user location."""
    # per pc: (user Location, own Location, outermost frame, stack base?) -- shared by
    # all goroutines
    step: dict[int, tuple[Location | None, Location | None, Location | None, bool]] = {}
    top: dict[int, tuple[Location, Location | None, Location | None]] = {}
    current: list[Location] = []
    user: list[Location | None] = []
    own: list[Location | None] = []
    torn = [False] * len(tops)
    last: list[Location | None] = [None] * len(tops)  # outermost frame seen so far
    active: list[int] = []
    addrs: list[int] = []
    his = [t[3] for t in tops]
    for i, (pc, sp, bp, hi, _) in enumerate(tops):
        t = top.get(pc)
        if t is None:
            call = symbols.resumes_after_call(pc)
            t = top[pc] = (symbols.location(pc, call), symbols.user_location(pc, call),
                           symbols.own_location(pc, call))
        loc, usr, mine = t
        current.append(loc)
        user.append(usr)
        own.append(mine)
        if mine is None:
            if not bp & 7 and sp <= bp and bp + 16 <= hi:
                active.append(i)
                addrs.append(bp)
            else:
                torn[i] = usr is None
    level = 1
    while active and level < max_depth:
        buf, ok = mem.read_same_size(addrs, 16)
        nxt_active: list[int] = []
        nxt_addrs: list[int] = []
        for i, bp, good, (nextbp, ret) in zip(active, addrs, ok, _PAIR.iter_unpack(buf),
                                              strict=True):
            if not good or not ret:
                torn[i] = user[i] is None
                continue
            st = step.get(ret)
            if st is None:
                frames = symbols.frames(ret, call=True)
                outer = next((f for f in reversed(frames) if f.function not in STOP_FUNCS
                              and f.func_id != "wrapper"), None)
                st = step[ret] = (symbols.user_location(ret, call=True),
                                  symbols.own_location(ret, call=True),
                                  outer and Location(outer.function, outer.file, outer.line,
                                                     ret, outer.entry),
                                  _ends(frames))
            usr, mine, outer_loc, base = st
            if user[i] is None and usr is not None:
                user[i] = usr
            if outer_loc is not None:
                last[i] = outer_loc
            if mine is not None:
                own[i] = mine
            elif base:
                if user[i] is None:
                    user[i] = last[i]  # a runtime goroutine: its outermost function
            elif nextbp > bp and not nextbp & 7 and nextbp + 16 <= his[i]:
                nxt_active.append(i)
                nxt_addrs.append(nextbp)
            else:
                torn[i] = user[i] is None
        active, addrs = nxt_active, nxt_addrs
        level += 1
    for i in active:  # deeper than max_depth
        if user[i] is None:
            user[i] = last[i]
    return UserFrames(current, user, own, torn)
