"""Who holds a contended sync.Mutex / RWMutex, inferred from the goroutines' stacks,
without stopping the target (also used on a halted target: its memory is then still).

Go records no owner. A goroutine is inferred to hold lock L when both hold:
- position: one of its frames sits after an acquiring site (Lock, RLock, TryLock;
  inlined or called: gobinary.locksites) and before the release of that family in
  its function (a deferred Unlock counts as a release at the function's exits), and
  the site's kind fits L (a Mutex site cannot hold an RWMutex);
- identity: the site names L itself (a global receiver in the code), or, when the
  receiver is a pointer, that frame (or, weaker, its stack) holds a pointer to L or
  into the object that contains L (the WINDOW bytes before it).
Goroutines that only point at the object, or sit outside any locked region, are not
holders; a goroutine waiting on L is not its holder. Among the candidates, only
those with the strongest evidence are kept. Holders are always `inferred`: a lock
can be handed to, or unlocked by, another goroutine, which no stack shows.

Cost: stacks are walked only when some lock has waiters, only for user goroutines
that are parked or in a syscall (a running goroutine's registers are not readable);
a parked goroutine whose g record did not change since it was walked is not walked
again, and at most MAX_NEW_WALKS stacks are walked per refresh (with more to walk, no
holder is inferred until all are: a holder not yet walked could be missed, or a
weaker candidate taken for it).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from gotui.backends.gobinary.locksites import ACQUIRE, FunctionSites, LockSite, LockSites
from gotui.backends.live.memory import ProcessMemory
from gotui.backends.live.stackwalk import StackStart
from gotui.backends.model import (
    RUNTIME_PREFIXES,
    Goroutine,
    Holding,
    Location,
    Lock,
    Snapshot,
)

WINDOW = 1024  # a pointer this far below a lock may be to the struct that embeds it
MAX_NEW_WALKS = 20_000  # stacks walked per refresh at most (~8 us each)
MAX_DEPTH = 64
MAX_STACK_READ = 256 * 1024
ARG_SPILL = 64  # a frame's arguments are spilled just above its return address
_PAIR = struct.Struct("<QQ")
SYNC_SIZE = {"mutex": 8, "rwmutex": 24}  # sync.Mutex, sync.RWMutex (Go 1.19-1.27)
MUTEX_LOCKED = 1  # sync.Mutex.state bit


class Held(Protocol):
    @property
    def goid(self) -> int: ...
    @property
    def t_ns(self) -> int:  # CLOCK_MONOTONIC when it was taken
        ...


class ExactSource(Protocol):
    """Holders observed taking their Mutex (backends/ebpf/holders.py HolderTracker)."""

    def lookup(self, addrs: list[int]) -> Mapping[int, Held]: ...
    def check(self) -> None: ...


# strength of the evidence that ties a held site to lock L (lower is stronger)
TIER_GLOBAL, TIER_FRAME_EXACT, TIER_FRAME, TIER_STACK = range(4)
TIER_NAMES = {TIER_GLOBAL: "the site locks this global",
              TIER_FRAME_EXACT: "its frame points at the lock",
              TIER_FRAME: "its frame points into the object holding the lock",
              TIER_STACK: "its stack points into the object holding the lock"}


@dataclass(frozen=True)
class PhysFrame:
    pc: int  # runtime pc: the resume pc of the top frame, a return address otherwise
    lo: int  # the frame's words: [lo, hi)
    hi: int
    top: bool


@dataclass
class HeldFrame:
    frame: PhysFrame
    site: LockSite


@dataclass
class Candidate:
    goid: int
    tier: int
    frame: PhysFrame
    site: LockSite


def lock_objects(lock: Lock, sema_offsets: dict[str, int]) -> list[tuple[int, str]]:
    """(address of the sync object, kind) that lock L may be. A "sema" lock (Go 1.19
    live: only the semaphore word is known) may be a Mutex or either RWMutex sema."""
    addr = int(lock.addr, 16)
    if lock.kind in ("mutex", "rwmutex"):
        return [(addr, lock.kind)]
    if lock.kind != "sema":
        return []
    sema = int(lock.sema or lock.addr, 16)
    out = []
    for key, kind in (("mutex.sema", "mutex"), ("rwmutex.writerSem", "rwmutex"),
                      ("rwmutex.readerSem", "rwmutex")):
        off = sema_offsets.get(key)
        if off is not None:
            out.append((sema - off, kind))
    return out


class HolderFinder:
    """Fills Lock.holders / holders_basis / holding of a live reader's snapshots."""

    def __init__(self, mem: ProcessMemory, sites: LockSites, bias: int,
                 sema_offsets: dict[str, int], globals_range: tuple[int, int]) -> None:
        self.mem = mem
        self.sites = sites
        self.bias = bias
        self.sema_offsets = sema_offsets
        self.globals_range = globals_range  # runtime [lo, hi) of the binary's data+bss
        # goid -> (its g record when walked, its frames in a locked region)
        self._cache: dict[int, tuple[object, list[HeldFrame]]] = {}
        self._held_at: dict[int, list[LockSite]] = {}  # link-time pc -> sites held there
        self.skipped = ""  # why the last annotate inferred nothing, if it did not try

    def annotate(self, snap: Snapshot, keys: dict[int, object],
                 start_of: Callable[[int], StackStart | None],
                 exact: ExactSource | None = None) -> None:
        """`keys`: goid -> cache key (its g record: the same record means the same stack
        if it is parked; None when it may have moved) of the eligible goroutines (see
        module doc); `start_of(goid)`: where its stack starts. `exact`: holders seen
        taking their lock (eBPF), which win over inference."""
        contended = [lk for lk in snap.locks if lk.waiters and lock_objects(lk, self.sema_offsets)]
        self.skipped = ""
        if exact is not None and contended:
            seen = self._exact(snap, contended, exact, start_of)
            contended = [lk for lk in contended if lk not in seen]
        if not contended:
            return
        held, complete = self._held(keys, start_of)
        if not complete:
            self.skipped = (f"walking {len(keys)} stacks, {MAX_NEW_WALKS} per refresh: "
                            "holders inferred once all are read")
            return
        by_id = {g.id: g for g in snap.goroutines}
        stacks = self._stack_words(held, start_of)
        for lock in contended:
            cands = self._candidates(lock, held, stacks)
            if not cands:
                continue
            best = min(c.tier for c in cands)
            chosen = sorted((c for c in cands if c.tier == best), key=lambda c: c.goid)
            lock.holders = [c.goid for c in chosen]
            lock.holders_basis = "inferred"
            lock.holding = [self._holding(c, by_id.get(c.goid)) for c in chosen]

    def _exact(self, snap: Snapshot, locks: list[Lock], exact: ExactSource,
               start_of: Callable[[int], StackStart | None]) -> list[Lock]:
        """Locks whose holder was seen taking them (and whose state word still says
        locked): holders_basis "exact". An RWMutex writer seen holding its `w` while it
        waits for the readers is not the holder: the readers are."""
        objects = {id(lk): lock_objects(lk, self.sema_offsets) for lk in locks}
        found = exact.lookup(sorted({a for objs in objects.values() for a, _ in objs}))
        if not found:
            return []
        by_id = {g.id: g for g in snap.goroutines}
        states = dict(zip(found, self.mem.read_many([(a, 4) for a in found]), strict=True))
        # goroutines waiting on each RWMutex (by its address): a writer seen taking
        # the RWMutex's `w` waits for the readers then (Go 1.19: on another sema word)
        rw_waiters: dict[int, set[int]] = {}
        for other in snap.locks:
            for a, kind in lock_objects(other, self.sema_offsets):
                if kind == "rwmutex" and (other.kind == "rwmutex" or _is_rw_sema(other, a,
                                                                                self.sema_offsets)):
                    rw_waiters.setdefault(a, set()).update(other.waiters)
        now = time.monotonic_ns()
        done = []
        for lk in locks:
            for addr, _kind in objects[id(lk)]:
                held = found.get(addr)
                state = states.get(addr)
                if held is None or state is None or not state[0] & MUTEX_LOCKED:
                    continue
                g = by_id.get(held.goid)
                if (g is None or g.status == "dead" or held.goid in lk.waiters
                        or held.goid in rw_waiters.get(addr, ())):
                    continue
                lk.holders, lk.holders_basis = [held.goid], "exact"
                lk.holding = [Holding(held.goid, "exact", max(0, now - held.t_ns),
                                      self._where(g, start_of), "lock",
                                      "seen taking it (eBPF)")]
                done.append(lk)
                break
        return done

    # ------------------------------------------------------------ stacks
    def _held(self, keys: dict[int, object], start_of: Callable[[int], StackStart | None]
              ) -> tuple[dict[int, list[HeldFrame]], bool]:
        """goid -> the frames in a locked region (only goroutines with some), and
        whether every eligible goroutine is known (at most MAX_NEW_WALKS stacks are
        walked per call; unchanged parked ones come from the cache)."""
        cache = self._cache
        out: dict[int, list[HeldFrame]] = {}
        todo: list[int] = []
        for goid, key in keys.items():
            hit = cache.get(goid)
            if key is not None and hit is not None and hit[0] == key:
                if hit[1]:
                    out[goid] = hit[1]
            else:
                todo.append(goid)
        complete = len(todo) <= MAX_NEW_WALKS
        todo = todo[:MAX_NEW_WALKS]
        starts = [(g, start_of(g)) for g in todo]
        starts = [(g, st) for g, st in starts if st is not None]
        walked = self._walk_many([st for _, st in starts])
        for (goid, _), frames in zip(starts, walked, strict=True):
            hf = self._held_frames(frames)
            if hf:
                out[goid] = hf
            if keys[goid] is not None:
                cache[goid] = (keys[goid], hf)
        if len(cache) > 2 * len(keys) + 1024:  # goroutines gone since: forget them
            self._cache = {g: v for g, v in cache.items() if g in keys}
        return out, complete

    def _walk_many(self, starts: list[StackStart]) -> list[list[tuple[int, int, int, bool]]]:
        """Physical frames (pc, lo, hi, top) by frame-pointer walk, one batched read per
        level (tuples: this runs for every goroutine when a lock has waiters)."""
        frames: list[list[tuple[int, int, int, bool]]] = [[] for _ in starts]
        pcs = [s.pc for s in starts]
        los = [s.sp for s in starts]
        active = [i for i, s in enumerate(starts)
                  if s.pc and s.sp <= s.bp and not s.bp & 7 and s.bp + 16 <= s.hi]
        addrs = [starts[i].bp for i in active]
        depth = 0
        while active and depth < MAX_DEPTH:
            buf, ok = self.mem.read_same_size(addrs, 16)
            nxt, nxt_addrs = [], []
            for i, bp, good, (nextbp, ret) in zip(active, addrs, ok, _PAIR.iter_unpack(buf),
                                                  strict=True):
                f = frames[i]
                f.append((pcs[i], los[i], bp + 16, not f))
                if not good or not ret:
                    continue
                pcs[i], los[i] = ret, bp + 16
                hi = starts[i].hi
                if nextbp > bp and not nextbp & 7 and nextbp + 16 <= hi:
                    nxt.append(i)
                    nxt_addrs.append(nextbp)
                else:
                    f.append((ret, bp + 16, hi, False))
            active, addrs = nxt, nxt_addrs
            depth += 1
        return frames

    def _held_frames(self, frames: list[tuple[int, int, int, bool]]) -> list[HeldFrame]:
        out = []
        cache = self._held_at
        for pc, lo, hi, top in frames:
            # the call the frame is in (a return address is the instruction after it)
            key = pc - self.bias - (0 if top else 1)
            held = cache.get(key)
            if held is None:
                fs: FunctionSites | None = self.sites.for_pc(key)
                held = cache[key] = fs.held_at(key) if fs is not None and fs.sites else []
            if held:
                frame = PhysFrame(pc, lo, hi, top)
                out += [HeldFrame(frame, site) for site in held]
        return out

    def _stack_words(self, held: dict[int, list[HeldFrame]],
                     start_of: Callable[[int], StackStart | None]
                     ) -> dict[int, tuple[int, tuple[int, ...]]]:
        """goid -> (address of the first word, the words) of the in-use stack of each
        goroutine that holds something."""
        goids = []
        reqs = []
        for goid in sorted(held):
            st = start_of(goid)
            if st is None:
                continue
            goids.append(goid)
            reqs.append((st.sp & ~7, min(st.hi - (st.sp & ~7), MAX_STACK_READ)))
        out = {}
        for goid, (lo, _), data in zip(goids, reqs, self.mem.read_many(reqs), strict=True):
            if data is not None and not len(data) % 8:
                out[goid] = (lo, tuple(memoryview(data).cast("Q")))
        return out

    # ------------------------------------------------------------ matching
    def _candidates(self, lock: Lock, held: dict[int, list[HeldFrame]],
                    stacks: dict[int, tuple[int, tuple[int, ...]]]) -> list[Candidate]:
        objects = lock_objects(lock, self.sema_offsets)
        waiting = set(lock.waiters)
        out = []
        for goid, frames in held.items():
            if goid in waiting:
                continue
            best: Candidate | None = None
            for hf in frames:
                for addr, kind in objects:
                    if hf.site.kind != kind:
                        continue
                    tier = self._tier(hf, addr, stacks.get(goid))
                    if tier is not None and (best is None or tier < best.tier):
                        best = Candidate(goid, tier, hf.frame, hf.site)
            if best is not None:
                out.append(best)
        return out

    def _tier(self, hf: HeldFrame, addr: int,
              stack: tuple[int, tuple[int, ...]] | None) -> int | None:
        if hf.site.receiver is not None:  # the word the code works on, in the object
            inside = 0 <= hf.site.receiver + self.bias - addr < SYNC_SIZE[hf.site.kind]
            return TIER_GLOBAL if inside else None
        if stack is None:
            return None
        base, words = stack
        lo = max(0, (hf.frame.lo - base) // 8)
        hi = max(lo, (hf.frame.hi + ARG_SPILL - base) // 8)
        frame_words = words[lo:hi]
        if addr in frame_words:
            return TIER_FRAME_EXACT
        if any(addr - WINDOW <= w <= addr for w in frame_words):
            return TIER_FRAME
        if self.globals_range[0] <= addr < self.globals_range[1]:
            return None  # a global is named in code, not pointed to by a struct base
        if any(addr - WINDOW <= w <= addr for w in words):
            return TIER_STACK
        return None

    def _holding(self, c: Candidate, g: Goroutine | None) -> Holding:
        pc = c.frame.pc if c.frame.top else c.frame.pc - 1
        loc = self._location(pc)
        held_ns = g.wait_ns if g is not None and g.status == "waiting" else 0
        return Holding(c.goid, "inferred", held_ns, loc, c.site.op,
                       TIER_NAMES.get(c.tier, ""))

    def _where(self, g: Goroutine, start_of: Callable[[int], StackStart | None]) -> Location:
        """Where a goroutine holds its lock: its innermost frame in a locked region, else
        its first frame outside the runtime and sync (it may be parked in another Lock)."""
        st = start_of(g.id)
        frames = self._walk_many([st])[0] if st is not None else []
        held = self._held_frames(frames)
        if held:
            f = held[0].frame
            return self._location(f.pc if f.top else f.pc - 1)
        for pc, _, _, top in frames:
            loc = self._location(pc if top else pc - 1)
            if loc.function and not loc.function.startswith((*RUNTIME_PREFIXES, "sync.")):
                return loc
        return g.user_current if g.user_current.function else g.current

    def _location(self, pc: int) -> Location:
        info = self.sites.facts.pc_frames(pc - self.bias)  # type: ignore[attr-defined]
        if not info:
            return Location(pc=pc)
        f = next((i for i in info if not i.function.startswith((*RUNTIME_PREFIXES, "sync."))),
                 info[-1])
        return Location(f.function, f.file, f.line, pc)


def _is_rw_sema(lock: Lock, addr: int, offsets: dict[str, int]) -> bool:
    """A Go 1.19 "sema" lock whose waiters wait on the writerSem of the RWMutex at
    addr: its wait reason is plain semacquire, so only a writer waits there."""
    off = offsets.get("rwmutex.writerSem")
    return lock.kind == "sema" and off is not None and int(lock.sema or lock.addr, 16) - off == addr


def eligible(goroutines: Iterable[Goroutine], system: set[int]) -> list[int]:
    """User goroutines whose stack can be read without stopping them."""
    return [g.id for g in goroutines
            if g.id not in system and g.status in ("waiting", "runnable", "syscall",
                                                   "preempted", "idle")]


__all__ = ["ACQUIRE", "HolderFinder", "eligible", "lock_objects"]
