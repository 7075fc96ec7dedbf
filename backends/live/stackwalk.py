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

import numpy as np
from gotui.backends.gobinary.symbols import Symbols
from gotui.backends.live.memory import ProcessMemory, scatter
from gotui.backends.model import Frame, Location

_PAIR = struct.Struct("<QQ")
MAX_WINDOW = 256 * 1024  # bytes of one goroutine's stack read at once by `walk`
WINDOW = 512  # bytes of each stack's top read at once by `user_frames`
WINDOW_CHUNK = 16384  # stacks whose tops user_frames reads into one buffer
WALK_CHUNK = 32 << 20  # bytes of stacks walk_stacks reads into one buffer
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


class Walked(NamedTuple):
    """walk_stacks' result, per goroutine: its frames, whether every frame is known,
    and whether they go down to the stack's base (or to `depth` frames)."""

    frames: list[list[Frame]]
    known: np.ndarray  # bool
    based: np.ndarray  # bool


def walk_stacks(mem: ProcessMemory, symbols: Symbols, tops: StackTops, depth: int) -> Walked:
    """walk() of many goroutines: each one's used stack ([sp, stack.hi), at most
    MAX_WINDOW) is copied in one batched read and walked in that copy (a goroutine that
    runs meanwhile yields one consistent copy rather than levels read at different
    times), all of them level by level at once. Goroutines with the same pcs share the
    work of building their frames (each gets its own list)."""
    n = len(tops.pc)
    if depth <= 0 or n == 0:
        return Walked([[] for _ in range(n)], np.ones(n, dtype=bool), np.zeros(n, dtype=bool))
    rets = [np.zeros((n, 8), dtype=np.uint64)]  # return address per level (grows)
    levels = np.zeros(n, dtype=np.int64)
    extra: dict[int, list[Frame]] = {}  # frames found below a C -> Go callback
    pcs, pc_of = np.unique(tops.pc, return_inverse=True)
    top = [symbols.top_frames(pc) if pc else [] for pc in pcs.tolist()]
    count = np.array([len(f) for f in top], dtype=np.int64)[pc_of]
    ends = np.array([bool(f) and _ends(f) for f in top], dtype=bool)[pc_of]
    walking = np.flatnonzero((tops.pc != 0) & (count < depth) & ~ends)
    span = np.minimum(tops.hi - tops.sp, np.uint64(MAX_WINDOW)).astype(np.int64)
    span[tops.hi <= tops.sp] = 0
    steps: dict[int, tuple[int, bool, bool]] = {}  # ret -> (frames, at the base, callback)
    c0 = 0
    while c0 < len(walking):  # chunks of about WALK_CHUNK bytes of stacks
        sizes = np.cumsum(span[walking[c0:]] + 8)
        c1 = c0 + max(1, int(np.searchsorted(sizes, WALK_CHUNK)))
        _walk_chunk(mem, symbols, tops, walking[c0:c1], span, depth, steps, rets, levels,
                    count, extra)
        c0 = c1
    return _assemble(symbols, tops.pc, top, pc_of, rets[0], levels, extra, depth)


def _walk_chunk(mem: ProcessMemory, symbols: Symbols, tops: StackTops, at: np.ndarray,
                span: np.ndarray, depth: int, steps: dict[int, tuple[int, bool, bool]],
                rets: list[np.ndarray], levels: np.ndarray, count: np.ndarray,
                extra: dict[int, list[Frame]]) -> None:
    """walk_stacks' level walk of the goroutines `at`, recording the return addresses
    it follows in rets[0] (grown when deeper)/levels, and the frames below a
    cgocallback in `extra`."""
    sp, hi, size = tops.sp[at], tops.hi[at], span[at]
    offs = np.zeros(len(at) + 1, dtype=np.int64)
    np.cumsum((size + 7) & ~7, out=offs[1:])
    buf = np.zeros(int(offs[-1]) // 8 + 1, dtype=np.uint64)
    reads = np.flatnonzero(size > 0)
    pieces = np.stack([offs[:-1][reads], size[reads]], axis=1)
    got = np.zeros(len(at), dtype=bool)
    got[reads] = mem.read_scattered(buf.view(np.uint8),
                                    scatter(sp[reads], pieces, np.arange(len(reads) + 1)))
    bp = tops.bp[at].copy()
    prev = sp - np.uint64(1)
    live = np.flatnonzero(got)  # a stack not read is not walked (top frames only)
    while len(live):
        i = at[live]
        cur, low = bp[live], prev[live]
        ok = (cur > low) & (cur & np.uint64(7) == 0) & (cur >= sp[live]) & (cur < hi[live])
        ok &= cur + np.uint64(16) <= hi[live]
        off = np.where(ok, cur - sp[live], 0).astype(np.int64)
        ok &= off + 16 <= size[live]
        word = np.where(ok, (offs[live] + off) >> 3, 0)
        ret = np.where(ok, buf[word + 1], 0).astype(np.uint64)
        nextbp = np.where(ok, buf[word], 0).astype(np.uint64)
        ok &= ret != 0
        uniq, ret_of = np.unique(ret, return_inverse=True)
        info = []
        for r in uniq.tolist():
            st = steps.get(r)
            if st is None:
                fr = symbols.frames(r, call=True) if r else []
                st = steps[r] = (len(fr), bool(fr) and _ends(fr),
                                 bool(fr) and fr[-1].function in CGOCALLBACK)
            info.append(st)
        adds = np.array([x[0] for x in info], dtype=np.int64)[ret_of]
        based = np.array([x[1] for x in info], dtype=bool)[ret_of]
        callback = np.array([x[2] for x in info], dtype=bool)[ret_of] & ok
        if len(i) and int(levels[i].max()) >= rets[0].shape[1]:
            rets[0] = np.concatenate([rets[0], np.zeros_like(rets[0])], axis=1)
        rets[0][i[ok], levels[i[ok]]] = ret[ok]
        levels[i[ok]] += 1
        count[i[ok]] += adds[ok]
        for k in np.flatnonzero(callback).tolist():  # C called back into Go (rare)
            j, g = int(live[k]), int(i[k])
            data = buf.view(np.uint8)[offs[j]:offs[j] + size[j]].tobytes()
            start = StackStart(int(tops.pc[g]), int(sp[j]), int(tops.bp[g]), 0, int(hi[j]))
            extra[g] = _sp_walk(symbols, start, data, int(cur[k]) + 16, int(ret[k]),
                                depth - int(count[g]))
        go_on = ok & ~callback & ~based & (count[i] < depth)
        prev[live[go_on]] = cur[go_on]
        bp[live[go_on]] = nextbp[go_on]
        live = live[go_on]


def _assemble(symbols: Symbols, pcs: np.ndarray, top: list[list[Frame]], pc_of: np.ndarray,
              rets: np.ndarray, levels: np.ndarray, extra: dict[int, list[Frame]],
              depth: int) -> Walked:
    """Each goroutine's frames from its top pc and return addresses, built once per
    distinct (pc, return addresses)."""
    n = len(pcs)
    width = int(levels.max()) if n else 0
    used = rets[:, :width]
    mixed = pcs * np.uint64(0x9E3779B97F4A7C15)
    for col in range(width):
        mixed = (mixed ^ used[:, col]) * np.uint64(0xC2B2AE3D27D4EB4F)
    _, first, group = np.unique(mixed, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    same = (pcs == pcs[first][group]) & (levels == levels[first][group])
    if width:
        same &= (used == used[first][group]).all(axis=1)
    shapes: list[list[Frame]] = []
    for g in first.tolist():
        frames = list(top[pc_of[g]])
        for r in used[g, :levels[g]].tolist():
            frames += symbols.frames(r, call=True)
        shapes.append(frames[:depth])
    out: list[list[Frame]] = []
    known, based = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    shape_flags = [_flags(f, depth) for f in shapes]
    for i, (g, alike) in enumerate(zip(group.tolist(), same.tolist(), strict=True)):
        if alike and i not in extra:
            out.append(list(shapes[g]))
            known[i], based[i] = shape_flags[g]
        else:  # a mixed-up number, or frames below a callback: its own
            frames = list(top[pc_of[i]])
            for r in rets[i, :levels[i]].tolist():
                frames += symbols.frames(r, call=True)
            frames = (frames + extra.get(i, []))[:depth]
            out.append(frames)
            known[i], based[i] = _flags(frames, depth)
    return Walked(out, known, based)


def _flags(frames: list[Frame], depth: int) -> tuple[bool, bool]:
    """(every frame known, down to the stack's base or `depth` frames)."""
    return (all(f.function for f in frames),
            len(frames) >= depth or bool(frames) and ends_at_base(frames))


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
    we read) before it found them. Object arrays (Location or None), and a bool one."""

    current: np.ndarray
    user: np.ndarray
    own: np.ndarray
    torn: np.ndarray


class StackTops(NamedTuple):
    """Where many parked goroutines' stacks start (uint64 arrays, one entry each)."""

    pc: np.ndarray
    sp: np.ndarray
    bp: np.ndarray
    hi: np.ndarray  # stack.hi

    @staticmethod
    def of(tops: list[tuple[int, int, int, int]]) -> StackTops:
        """From (pc, sp, bp, stack.hi) tuples."""
        cols = np.array(tops, dtype=np.uint64).reshape(-1, 4).T
        return StackTops(*cols)

    def take(self, at: np.ndarray) -> StackTops:
        return StackTops(*(a[at] for a in self))


class _Locations:
    """Locations numbered (0: None), so that per-goroutine arrays hold numbers."""

    def __init__(self) -> None:
        self.objs: list[Location | None] = [None]
        self._ids: dict[int, int] = {}

    def number(self, loc: Location | None) -> int:
        if loc is None:
            return 0
        n = self._ids.get(id(loc))
        if n is None:
            n = self._ids[id(loc)] = len(self.objs)
            self.objs.append(loc)
        return n

    def numbers(self, locs: list[Location | None], inv: np.ndarray) -> np.ndarray:
        """The number of locs[inv[i]] for each i."""
        return np.array([self.number(loc) for loc in locs], dtype=np.int64)[inv]

    def of(self, numbers: np.ndarray) -> np.ndarray:
        """An object array of the Locations numbered."""
        table = np.empty(len(self.objs), dtype=object)
        table[:] = self.objs
        return table[numbers]


# (user, own, outermost frame (numbered by _Locations), stack base?) of a return address
_Step = tuple[int, int, int, bool]


def _valid_bp(bp: np.ndarray, low: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A frame pointer that can be followed: aligned, at or above `low`, its pair of
    words below stack.hi."""
    return (bp & np.uint64(7) == 0) & (bp >= low) & (bp < hi) & (bp + np.uint64(16) <= hi)


def user_frames(mem: ProcessMemory, symbols: Symbols, tops: StackTops,
                max_depth: int = 48) -> UserFrames:
    """UserFrames of many parked goroutines: each one's stack top (WINDOW bytes from
    sp) is copied in one batched read and walked in that copy, all goroutines level
    by level at once (frames beyond the copy: one batched read per level), each only
    as far as its first frame of the program's own code. A whole stack without a user
    frame (a runtime goroutine) gets its outermost frame as user location.
    Symbolisation is cached per pc, so it costs per distinct pc, not per goroutine."""
    n = len(tops.pc)
    locs = _Locations()
    top_pcs, top_of = np.unique(tops.pc, return_inverse=True)
    firsts = []
    for pc in top_pcs.tolist():
        call = symbols.resumes_after_call(pc)
        firsts.append((symbols.location(pc, call), symbols.user_location(pc, call),
                       symbols.own_location(pc, call)))
    current = locs.numbers([f[0] for f in firsts], top_of)
    user = locs.numbers([f[1] for f in firsts], top_of)
    own = locs.numbers([f[2] for f in firsts], top_of)
    last = np.zeros(n, dtype=np.int64)  # outermost frame seen so far
    torn = np.zeros(n, dtype=bool)
    seek = own == 0
    ok = _valid_bp(tops.bp, tops.sp, tops.hi)
    torn[seek & ~ok] = user[seek & ~ok] == 0
    active = np.flatnonzero(seek & ok)
    bp = tops.bp[active]
    steps: dict[int, _Step] = {}
    for c0 in range(0, len(active), WINDOW_CHUNK):
        at, cbp = active[c0:c0 + WINDOW_CHUNK], bp[c0:c0 + WINDOW_CHUNK]
        _walk_levels(mem, symbols, locs, tops, at, cbp, max_depth, steps, user, own, last,
                     torn)
    return UserFrames(locs.of(current), locs.of(user), locs.of(own), torn)


def _walk_levels(mem: ProcessMemory, symbols: Symbols, locs: _Locations, tops: StackTops,
                 at: np.ndarray, bp: np.ndarray, max_depth: int, steps: dict[int, _Step],
                 user: np.ndarray, own: np.ndarray, last: np.ndarray, torn: np.ndarray) -> None:
    """user_frames' level walk of the goroutines `at` (their first frame pointers `bp`),
    filling user, own, last and torn (arrays over all goroutines) in place."""
    sp, hi = tops.sp[at], tops.hi[at]
    size = np.minimum(hi - sp, np.uint64(WINDOW)).astype(np.int64)
    offs = np.zeros(len(at) + 1, dtype=np.int64)
    np.cumsum((size + 7) & ~7, out=offs[1:])
    buf = np.zeros(int(offs[-1]) // 8 + 1, dtype=np.uint64)
    pieces = np.stack([offs[:-1], size], axis=1)
    got = mem.read_scattered(buf.view(np.uint8), scatter(sp, pieces, np.arange(len(at) + 1)))
    base = offs[:-1]
    live = np.arange(len(at))  # indexes into `at` still walking
    for _ in range(1, max_depth):
        if not len(live):
            return
        i = at[live]
        cur_bp = bp[live]
        off = (cur_bp - sp[live]).astype(np.int64)
        inside = got[live] & (off + 16 <= size[live])
        word = np.where(inside, (base[live] + off) >> 3, 0)
        nextbp = np.where(inside, buf[word], 0).astype(np.uint64)
        ret = np.where(inside, buf[word + 1], 0).astype(np.uint64)
        outside = np.flatnonzero(~inside)
        if len(outside):  # beyond the copy: read those pairs now
            raw, good = mem.read_same_size(cur_bp[outside].tolist(), 16)
            pairs = np.frombuffer(bytes(raw), dtype="<u8").reshape(-1, 2)
            good_a = np.array(good, dtype=bool)
            nextbp[outside] = np.where(good_a, pairs[:, 0], 0)
            ret[outside] = np.where(good_a, pairs[:, 1], 0)
        rets, ret_of = np.unique(ret, return_inverse=True)
        info = []
        for r in rets.tolist():
            st = steps.get(r)
            if st is None:
                st = steps[r] = _step(symbols, locs, r) if r else (0, 0, 0, False)
            info.append(st)
        usr, mine, outer = (np.array([x[k] for x in info], dtype=np.int64)[ret_of]
                            for k in range(3))
        base_frame = np.array([x[3] for x in info], dtype=bool)[ret_of]
        broken = ret == 0
        fill = ~broken & (user[i] == 0) & (usr != 0)
        user[i[fill]] = usr[fill]
        keep = ~broken & (outer != 0)
        last[i[keep]] = outer[keep]
        found = ~broken & (mine != 0)
        own[i[found]] = mine[found]
        ends = ~broken & ~found & base_frame
        nothing = ends & (user[i] == 0)
        user[i[nothing]] = last[i[nothing]]  # a runtime goroutine: its outermost function
        more = ~broken & ~found & ~base_frame & _valid_bp(nextbp, cur_bp + np.uint64(1),
                                                          hi[live])
        stop = broken | (~found & ~base_frame & ~more)
        torn[i[stop]] = user[i[stop]] == 0
        bp[live[more]] = nextbp[more]
        live = live[more]
    deep = at[live]  # deeper than max_depth
    none = user[deep] == 0
    user[deep[none]] = last[deep[none]]


def _step(symbols: Symbols, locs: _Locations, ret: int) -> _Step:
    frames = symbols.frames(ret, call=True)
    outer = next((f for f in reversed(frames) if f.function not in STOP_FUNCS
                  and f.func_id != "wrapper"), None)
    return (locs.number(symbols.user_location(ret, call=True)),
            locs.number(symbols.own_location(ret, call=True)),
            locs.number(outer and Location(outer.function, outer.file, outer.line, ret,
                                           outer.entry)),
            _ends(frames))
