"""Goroutines asleep on sync objects, and the stack words that point at what they wait on.

sync.Mutex, RWMutex and WaitGroup park through the runtime's semaphore table:
runtime.semtable is [251]struct{root semaRoot; pad}, semaRoot.treap a treap of sudogs,
one node per semaphore address (sudog.elem; prev/next are the children), with the other
waiters on the same address chained by sudog.waitlink. Each waiting sudog's g gives the
goroutine. The address of the sync object is the sema word's address minus the offset
of that word in the object, which the wait reason tells (sync.Mutex.Lock: Mutex.sema,
sync.RWMutex.RLock: readerSem...), offsets read from the binary's DWARF with fallbacks
for stripped binaries.

Since Go 1.26 (for its goroutine-leak GC) a goroutine parked on a semaphore or a
sync.Cond also points at its sudog (g.waiting), whose elem is the sema word or the
Cond's notifyList. That is read with the g record, so it does not race the table, and
it is the only way to a Cond's address: before 1.26 a notifyList is in no table a g
points to, and Cond waiters are reported by wait reason only.

stack_refs: for the wait-for analysis, which goroutines hold the address of a channel or
lock that another goroutine waits on in their stack (Go has no callee-saved registers:
a value a function still needs after a call is in its frame).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gotui.backends.gobinary import dwarf_layouts
from gotui.backends.gobinary.binary_types import StructLayout
from gotui.backends.gobinary.dwarf_layouts import TypeFinder, dwarf_info, field_offset
from gotui.backends.gobinary.elffile import ElfFile
from gotui.backends.live.goroutines import G
from gotui.backends.live.memory import AddressRanges, ProcessMemory
from gotui.backends.model import Channel, Goroutine, Lock
from gotui.backends.safefiles import read_cache_json, write_cache_json

SEMTAB_SIZE = 251  # runtime.semTabSize, unchanged since Go 1.9
MAX_TREAP_NODES = 65536
# stack_refs reads every user goroutine's stack (in use part): above these, none is
# read (a partial scan could miss the goroutine that can still wake a "cycle")
MAX_STACK_SCAN = 32 << 20
MAX_SCANNED_GOROUTINES = 10_000
MAX_STACK = 1 << 30
_U64 = struct.Struct("<Q")

# wait reason -> (lock kind, offset key of the sema word in the object)
REASON_KIND: dict[str, tuple[str, str]] = {
    "sync.Mutex.Lock": ("mutex", "mutex.sema"),
    "sync.RWMutex.RLock": ("rwmutex", "rwmutex.readerSem"),
    "sync.RWMutex.Lock": ("rwmutex", "rwmutex.writerSem"),
    "sync.WaitGroup.Wait": ("waitgroup", "waitgroup.sema"),
    "sync.WaitGroup.Wait (durable)": ("waitgroup", "waitgroup.sema"),
    "sync.Cond.Wait": ("cond", "cond.notify"),  # through g.waiting only (Go 1.26+)
}
SEMA_REASONS = frozenset({*REASON_KIND, "semacquire"})

# Offsets for binaries without DWARF; equal in every Go release 1.20-1.27 (checked
# against DWARF in tests/live/test_locks.py). Go 1.19's WaitGroup kept its sema in
# state1/state2 depending on alignment, so its WaitGroups are reported by sema word.
FALLBACK = {"semaRoot.treap": 8, "mutex.sema": 4, "rwmutex.readerSem": 12,
            "rwmutex.writerSem": 8, "waitgroup.sema": 8, "cond.notify": 16}
# offset key -> (DWARF struct names to try, member paths to try)
_DWARF: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "semaRoot.treap": (("runtime.semaRoot",), ("treap",)),
    "mutex.sema": (("sync.Mutex",), ("mu.sema", "sema")),
    "rwmutex.readerSem": (("sync.RWMutex",), ("readerSem",)),
    "rwmutex.writerSem": (("sync.RWMutex",), ("writerSem",)),
    "waitgroup.sema": (("sync.WaitGroup",), ("sema",)),
    "cond.notify": (("sync.Cond",), ("notify",)),
}


def sync_offsets(elf: ElfFile | None, build_id: str, go_minor: int) -> dict[str, int]:
    """Offsets of the sema words (and semaRoot.treap), from DWARF when the binary has
    it (cached per build id), else FALLBACK. Keys missing from both are unknown."""
    fallback = dict(FALLBACK)
    if go_minor < 20:
        del fallback["waitgroup.sema"]
    cache_name = f"sync-offsets-{build_id}.json"
    if build_id:
        cached = read_cache_json(dwarf_layouts.CACHE_DIR, cache_name)
        with contextlib.suppress(AttributeError, ValueError, TypeError):
            return {**fallback, **{k: int(v) for k, v in cached.items()}}
    found: dict[str, int] = {}
    dwarf = dwarf_info(elf) if elf is not None else None
    if dwarf is not None:
        finder = TypeFinder(dwarf)
        for key, (names, paths) in _DWARF.items():
            die = next((d for d in map(finder.struct, names) if d is not None), None)
            off = next((o for p in paths if die is not None
                        and (o := field_offset(die, p)) is not None), None)
            if off is not None:
                found[key] = off
        if build_id:
            write_cache_json(dwarf_layouts.CACHE_DIR, cache_name, found)
    return {**fallback, **found}


@dataclass
class SemaWaiter:
    gaddr: int
    sema: int


class SemaReader:
    """Reads runtime.semtable (semaphore address -> addresses of the waiting g's), and
    the sudogs that g.waiting points to since Go 1.26."""

    def __init__(self, mem: ProcessMemory, semtable: int | None, sudog: StructLayout,
                 offsets: dict[str, int], go_minor: int) -> None:
        self.mem = mem
        self.semtable = semtable
        self.stride = 64  # semaRoot padded to cpu.CacheLinePadSize (64 on amd64)
        self.treap = offsets["semaRoot.treap"]
        sg = sudog.offsets
        self.sg_g, self.sg_elem = sg["g"], sg["elem"]
        self.sg_prev, self.sg_next, self.sg_waitlink = sg["prev"], sg["next"], sg["waitlink"]
        self.wrapped = go_minor >= 26  # sudog.elem is maybeTraceablePtr{vp, vu}
        self.sg_size = max(self.sg_g, self.sg_prev, self.sg_next, self.sg_waitlink,
                           self.sg_elem + (8 if self.wrapped else 0)) + 8

    def from_waiting(self, gs: list[tuple[int, int]]) -> list[SemaWaiter]:
        """(g address, g.waiting) of goroutines parked on a sema or Cond -> the address
        each sleeps on (sudog.elem), where the sudog still names that g (Go 1.26+)."""
        if not self.wrapped or not gs:
            return []
        buf, ok = self.mem.read_same_size([w for _, w in gs], self.sg_size)
        out = []
        for j, (gaddr, _) in enumerate(gs):
            rec = buf[j * self.sg_size:(j + 1) * self.sg_size]
            if ok[j] and _u64(rec, self.sg_g) == gaddr:
                elem = _u64(rec, self.sg_elem) or _u64(rec, self.sg_elem + 8)
                if elem:
                    out.append(SemaWaiter(gaddr, elem))
        return out

    def waiters(self, heap: AddressRanges) -> list[SemaWaiter]:
        if self.semtable is None:
            return []
        raw = self.mem.read(self.semtable, SEMTAB_SIZE * self.stride)
        if raw is None:
            return []
        roots = [_U64.unpack_from(raw, i * self.stride + self.treap)[0]
                 for i in range(SEMTAB_SIZE)]
        out: list[SemaWaiter] = []
        seen: set[int] = set()
        # breadth-first over treap nodes; each node's waitlink chain shares its address
        level = [(a, 0) for a in roots if a and heap.contains(a, self.sg_size)]
        while level and len(seen) < MAX_TREAP_NODES:
            level = [(a, s) for a, s in level if a not in seen]
            seen.update(a for a, _ in level)
            buf, ok = self.mem.read_same_size([a for a, _ in level], self.sg_size)
            nxt: list[tuple[int, int]] = []
            for j, (_, sema) in enumerate(level):
                if not ok[j]:
                    continue
                rec = buf[j * self.sg_size:(j + 1) * self.sg_size]
                if sema == 0:  # a treap node: its own address
                    sema = _u64(rec, self.sg_elem) or (
                        _u64(rec, self.sg_elem + 8) if self.wrapped else 0)
                    for child in (_u64(rec, self.sg_prev), _u64(rec, self.sg_next)):
                        if child and heap.contains(child, self.sg_size):
                            nxt.append((child, 0))
                if sema:
                    out.append(SemaWaiter(_u64(rec, self.sg_g), sema))
                link = _u64(rec, self.sg_waitlink)
                if sema and link and heap.contains(link, self.sg_size):
                    nxt.append((link, sema))
            level = nxt
        return out


def group_locks(waiters: list[SemaWaiter], reason_of: dict[int, tuple[int, str]],
                offsets: dict[str, int]) -> tuple[list[Lock], dict[int, str]]:
    """Locks with their waiters, and goid -> lock address. `reason_of`: g address ->
    (goid, wait reason) of the goroutines parked on a semaphore (others are ignored:
    a sudog whose g moved on since is stale)."""
    locks: dict[str, Lock] = {}
    lock_of: dict[int, str] = {}
    for w in waiters:
        who = reason_of.get(w.gaddr)
        if who is None:
            continue
        goid, reason = who
        kind, key = REASON_KIND.get(reason, ("sema", ""))
        off = offsets.get(key)
        if off is None:
            kind, off = "sema", 0
        addr = f"{w.sema - off:#x}"
        lock = locks.setdefault(addr, Lock(addr, kind, f"{w.sema:#x}"))
        if goid not in lock.waiters:
            lock.waiters.append(goid)
        lock_of[goid] = addr
    for lock in locks.values():
        lock.waiters.sort()
    return sorted(locks.values(), key=lambda x: (-len(x.waiters), x.addr)), lock_of


class StackScanner:
    """The pointer-like words of goroutine stacks. A parked goroutine whose g record is
    unchanged since the last scan has not run: its frames hold the same words, so they
    are kept (a leak of thousands of parked goroutines is read once, not every refresh)."""

    def __init__(self, mem: ProcessMemory) -> None:
        self.mem = mem
        self._cache: dict[int, tuple[object, frozenset[int]]] = {}  # goid -> (key, words)

    def refs(self, stacks: list[tuple[int, int, int, object]], targets: list[str]
             ) -> dict[int, list[str]]:
        """goid -> targets ("0x.." addresses) found as aligned words in its stack range
        [lo, hi). `stacks`: (goid, lo, hi, key); an entry whose key equals the last
        scan's (and is not None) is not read again. Nothing at all above
        MAX_STACK_SCAN bytes or MAX_SCANNED_GOROUTINES stacks."""
        if not targets or not stacks or len(stacks) > MAX_SCANNED_GOROUTINES:
            self._cache.clear()
            return {}
        words: dict[int, frozenset[int]] = {}
        cache: dict[int, tuple[object, frozenset[int]]] = {}
        budget = MAX_STACK_SCAN
        reqs = []
        for goid, lo, hi, key in stacks:
            hit = self._cache.get(goid)
            if key is not None and hit is not None and hit[0] == key:
                words[goid] = hit[1]
                cache[goid] = hit
                continue
            size = hi - lo
            if not 0 < size <= MAX_STACK or lo & 7:
                continue
            budget -= size
            if budget < 0:
                self._cache.clear()
                return {}
            reqs.append((goid, lo, size, key))
        for (goid, _, _, key), data in zip(
                reqs, self.mem.read_many([(lo, n) for _, lo, n, _ in reqs]), strict=True):
            if data is None or len(data) % 8:
                continue
            found = frozenset(memoryview(data).cast("Q"))  # every aligned word, in C
            words[goid] = found
            if key is not None:
                cache[goid] = (key, found)
        self._cache = cache
        wanted = {int(t, 16): t for t in targets}
        out: dict[int, list[str]] = {}
        for goid, ws in words.items():
            found_here = wanted.keys() & ws
            if found_here:
                out[goid] = sorted(wanted[a] for a in found_here)
        return out


def stack_refs(mem: ProcessMemory, stacks: list[tuple[int, int, int]],
               targets: list[str]) -> dict[int, list[str]]:
    """StackScanner.refs without a cache: (goid, lo, hi) stacks."""
    return StackScanner(mem).refs([(g, lo, hi, None) for g, lo, hi in stacks], targets)


def _sync_reason(g: Goroutine) -> str:
    """The wait reason, or what it would be in Go 1.24+: before that, WaitGroup.Wait
    parks as plain "semacquire", but it is the only caller of sync.runtime_Semacquire
    (checked in the sources of Go 1.19-1.23)."""
    if g.wait_reason == "semacquire" and g.user_current.function == "sync.runtime_Semacquire":
        return "sync.WaitGroup.Wait"
    return g.wait_reason


def _u64(data: bytes | bytearray, off: int) -> int:
    return int(_U64.unpack_from(data, off)[0])


class BlockingReader:
    """Finds a live snapshot's locks, Goroutine.blocked_on_lock and stack_refs."""

    def __init__(self, mem: ProcessMemory, sema: SemaReader | None, offsets: dict[str, int],
                 parked: frozenset[int]) -> None:
        self.mem = mem
        self.sema = sema
        self.offsets = offsets
        self.parked = parked
        self.scanner = StackScanner(mem)

    def sema_waiters(self, heap: AddressRanges) -> dict[int, SemaWaiter]:
        """g address -> its sudog in runtime.semtable now. The reader reads the table
        just before and just after the g records and merges the two: a contended
        mutex changes hands every few milliseconds or faster, and one read made after the
        whole snapshot was decoded missed most of the waiters the g records named."""
        if self.sema is None:
            return {}
        return {w.gaddr: w for w in self.sema.waiters(heap)}

    def find(self, goroutines: list[Goroutine], on_sema_gs: list[Goroutine],
             chan_waiting: int, gaddr: Mapping[int, int],
             gs_of: Callable[[list[int]], list[G | None]], system: set[int],
             channels: list[Channel], sema: dict[int, SemaWaiter]
             ) -> tuple[list[Lock], dict[int, str], dict[int, list[str]]]:
        """The locks with waiters, goid -> address of the lock it waits on, and goid ->
        its stack_refs (goroutines not named: "" and []). `on_sema_gs`: the goroutines
        parked with a reason in SEMA_REASONS; `chan_waiting`: how many wait on a known
        channel; `gs_of(goids)`: their g records as read for the snapshot; `sema`:
        sema_waiters() read around the g records. Reads only the goroutines' id and
        wait_reason: it does not change them."""
        on_sema = {gaddr[g.id]: (g.id, _sync_reason(g)) for g in on_sema_gs}
        locks: list[Lock] = []
        lock_of: dict[int, str] = {}
        if on_sema and self.sema is not None:
            direct = []
            for v in gs_of([goid for goid, _ in on_sema.values()]):
                if v is not None and v.waiting:
                    direct.append((v.addr, v.waiting))
            # what g.waiting says wins over the table (read at another moment)
            sema = {**sema, **{w.gaddr: w for w in self.sema.from_waiting(direct)}}
            locks, lock_of = group_locks(list(sema.values()), on_sema, self.offsets)
        targets = [c.addr for c in channels] + [lk.addr for lk in locks]
        waiting = chan_waiting + sum(1 for addr in lock_of.values() if addr)
        if waiting < 2:  # a wait cycle needs two waiters
            return locks, lock_of, {}
        if len(goroutines) - len(system) > MAX_SCANNED_GOROUTINES:
            self.scanner.refs([], targets)  # too many stacks: none is read (nor listed)
            return locks, lock_of, {}
        stacks = []
        scanned = [g.id for g in goroutines if g.id not in system]
        for goid, v in zip(scanned, gs_of(scanned), strict=True):
            if v is None:
                continue
            parked = v.status in self.parked
            stacks.append((goid, v.sp if parked else v.stack_lo, v.stack_hi,
                           v if parked else None))  # an unchanged parked g did not run
        return locks, lock_of, self.scanner.refs(stacks, targets)
