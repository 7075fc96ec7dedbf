"""LiveReader: every goroutine of a running Go process, read without stopping it.

Reads runtime.allgs, then all g records in a few batched process_vm_readv calls,
decoded and checked vectorised against layouts from BinaryFacts (grecords.py). No
ptrace: target_paused_ns is always 0. The process keeps running, so records that fail
the sanity checks are re-read once and dropped if they still fail (`dropped` counts
them).
Between snapshots the reader keeps what it made of each g record: records whose
decoded fields are unchanged (most of them, in a big program) are not checked,
decoded or walked again, and their Goroutine objects are reused (copy on write: an
object a previous snapshot holds is never changed, except that its wait is counted on
the reader's clock: waitclock.py). Only the changed records go through the decode loop
(`_decode`), which builds their Goroutine objects. Snapshots and their goroutines are
read-only for their consumers.
"""

from __future__ import annotations

import contextlib
import gc
import os
import struct
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from gotui.backends.gobinary import disasm, godebug
from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.locksites import LockSites
from gotui.backends.gobinary.symbols import Facts, Symbols
from gotui.backends.live.channels import ChannelReader, ChanWait, chan_op
from gotui.backends.live.goroutines import (
    DEAD,
    DEAD_ROWS,
    MAX_GOID,
    RUNNING,
    SYSCALL,
    G,
    GDecoder,
    GRows,
    in_statuses,
    statuses,
)
from gotui.backends.live.grecords import GRead, GRecordReader, masked_status
from gotui.backends.live.holders import ExactSource, HolderFinder, eligible
from gotui.backends.live.labels import LabelReader
from gotui.backends.live.locks import SEMA_REASONS, BlockingReader, SemaReader, sync_offsets
from gotui.backends.live.memory import (
    AddressRanges,
    ProcessMemory,
    load_bias,
    read_maps,
)
from gotui.backends.live.stackwalk import (
    StackStart,
    StackTops,
    user_frames,
    walk,
    walk_stacks,
)
from gotui.backends.model import (
    SCAN_BIT,
    STATUS_NAMES,
    Channel,
    Frame,
    Goroutine,
    GotuiError,
    Location,
    Snapshot,
    TargetInfo,
    status_name,
)
from gotui.backends.procinfo import exe_path_for_reading
from gotui.backends.waitclock import LiveGoroutine, WaitClock, on_clock
from gotui.backends.yielding import step_aside

_SLICE = struct.Struct("<QQ")
MAX_GOROUTINES = 50_000_000
_PARKED = frozenset({0, 1, 4, 9, 10})  # statuses whose g.sched is the goroutine's state
# statuses whose g.waitsince counts: waiting, leaked, in a syscall
_TIMED = statuses({k for k, v in STATUS_NAMES.items() if v in ("waiting", "leaked", "syscall")})
_PARKED_ROWS = statuses(_PARKED)
STACK_TRIES = 4  # walks of a goroutine that keeps moving before stacks() gives up
_NO_STACK = np.uint64(2**64 - 1)  # the state of a goroutine without a readable stack
_NOLOC = Location()  # shared "unknown": Locations in a snapshot are read-only
_new = object.__new__


class _Kind(NamedTuple):
    """What goroutines sharing status, wait reason and creation site have in common."""

    status: str
    reason: str
    system: bool
    op: str | None
    has_op: bool  # op is not None
    on_sema: bool  # parked on a semaphore or a sync.Cond: locks.BlockingReader looks
    idle_in_bubble: bool  # the raw wait reason is in runtime.isIdleInSynctest
    # the Goroutine fields they share (status, wait_reason, go_statement, start and
    # the defaults): each goroutine's own fields are set on a copy, by name
    proto: dict[str, object]


class _Walks(NamedTuple):
    """Built records whose locations are found by walking their stacks from `tops`."""

    at: np.ndarray  # int64: their indexes among the records built
    addr: np.ndarray  # uint64: their g's
    goid: np.ndarray  # uint64
    tops: StackTops
    start: list[Location]  # their start functions
    before: list[Goroutine | None]  # what the last snapshot made of it, if walked whole


class _Extras(NamedTuple):
    """What is read every time for the goroutines built (see _Decoded)."""

    waits: list[ChanWait]
    waiters: list[Goroutine]  # waits[i] is waiters[i]'s
    threads: list[tuple[Goroutine, int]]  # (goroutine, its g.m)
    labelled: list[tuple[Goroutine, int]]  # (goroutine, its g.labels)
    bubbled: list[tuple[Goroutine, int]]  # (goroutine, its g.bubble)


def _none(objs: np.ndarray) -> np.ndarray:
    """Which items of an object array are None."""
    return np.fromiter((x is None for x in objs), dtype=bool, count=len(objs))


def copied(g: Goroutine) -> Goroutine:
    """A shallow copy of a goroutine (10x cheaper than copy.copy): the reader shares
    unchanged Goroutine objects between its snapshots, so change only copies."""
    c = _new(g.__class__)
    c.__dict__ = g.__dict__.copy()
    return c


@dataclass
class _Made:
    """What the snapshots made of the g record at each index of the last read."""

    objs: list[Goroutine | None]  # its Goroutine (None: not a goroutine of that read)
    done: np.ndarray  # bool: its locations are final (not walked, or walked whole)
    extra: np.ndarray  # bool: channels, thread, labels or bubble are read every time
    system: np.ndarray  # bool: a runtime goroutine
    on_sema: np.ndarray  # bool: parked on a semaphore or a sync.Cond
    since: np.ndarray  # int64: when its Goroutine's wait began (0: none or unknown)
    rev: np.ndarray  # int64: a new number whenever its Goroutine is built again

    @staticmethod
    def empty(n: int = 0) -> _Made:
        return _Made([None] * n, np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool),
                     np.zeros(n, bool), np.zeros(n, np.int64), np.zeros(n, np.int64))

    def follow(self, prev: np.ndarray) -> _Made:
        """The same, for a read whose index i was prev[i] in the last one (-1: new)."""
        n, m = len(prev), len(self.objs)
        if m <= n and np.array_equal(prev[:m], np.arange(m)) and not (prev[m:] >= 0).any():
            if n == m:  # the same records: this one goes on (nothing else holds it)
                return self
            grow = n - m  # allgs only grew: the usual case
            return _Made(self.objs + [None] * grow,
                         *(np.concatenate([a, np.zeros(grow, a.dtype)]) for a in (
                             self.done, self.extra, self.system, self.on_sema, self.since,
                             self.rev)))
        out = _Made.empty(n)
        had = np.flatnonzero(prev >= 0)
        src = prev[had]
        for a, b in ((out.done, self.done), (out.extra, self.extra), (out.system, self.system),
                     (out.on_sema, self.on_sema), (out.since, self.since), (out.rev, self.rev)):
            a[had] = b[src]
        for i, j in zip(had.tolist(), src.tolist(), strict=True):
            out.objs[i] = self.objs[j]
        return out


class GoroutineIndex(Mapping[int, int]):
    """goid -> g address of the goroutines of one snapshot (in its order), and where
    their records are in the read it came from. The dict is built on first use."""

    def __init__(self, goids: np.ndarray, addrs: np.ndarray, pos: np.ndarray) -> None:
        self.goids = goids
        self.addrs = addrs
        self.pos = pos
        self._at: dict[int, int] | None = None
        self._order: np.ndarray | None = None  # goids' indexes, by goid

    def index(self, goid: int) -> int | None:
        """Its index in the snapshot's goroutines."""
        if self._at is None:
            self._at = dict(zip(self.goids.tolist(), range(len(self.goids)), strict=True))
        return self._at.get(goid)

    def find(self, goids: np.ndarray) -> np.ndarray:
        """The index of each goid in the snapshot's goroutines, -1 if not there."""
        if not len(self.goids):
            return np.full(len(goids), -1, dtype=np.int64)
        if self._order is None:
            self._order = np.argsort(self.goids, kind="stable")
        ordered = self.goids[self._order]
        pos = np.minimum(np.searchsorted(ordered, goids), len(ordered) - 1)
        return np.where(ordered[pos] == goids, self._order[pos], -1)

    def indexes(self, goids: list[int] | set[int]) -> np.ndarray:
        """Indexes of those of `goids` in the snapshot (in its order)."""
        return np.flatnonzero(np.isin(self.goids, np.fromiter(goids, np.uint64, len(goids))))

    def goids_at(self, addrs: list[int]) -> dict[int, int]:
        """g address -> goid, for those of `addrs` that are the snapshot's goroutines'."""
        at = np.flatnonzero(np.isin(self.addrs, np.array(addrs, dtype=np.uint64)))
        return dict(zip(self.addrs[at].tolist(), self.goids[at].tolist(), strict=True))

    def __getitem__(self, goid: int) -> int:
        i = self.index(goid)
        if i is None:
            raise KeyError(goid)
        return int(self.addrs[i])

    def __iter__(self) -> Iterator[int]:
        return iter(self.goids.tolist())

    def __len__(self) -> int:
        return len(self.goids)


def _exe_path(pid: int) -> str:
    try:
        os.readlink(f"/proc/{pid}/exe")
    except FileNotFoundError:
        raise GotuiError(f"process {pid} is gone") from None
    except PermissionError:
        raise GotuiError(f"cannot read /proc/{pid}/exe: need root or the process's user") from None
    return exe_path_for_reading(pid)


def load_facts(path: str) -> Facts:
    try:
        return BinaryFacts.load(path)
    except NotImplementedError:
        raise GotuiError("live reader: binary facts (pclntab/DWARF) not available") from None


class _Decoded(NamedTuple):
    """What the decode loop made of one read."""

    out: list[Goroutine]  # the snapshot's goroutines
    index: GoroutineIndex
    shared: np.ndarray  # bool per goroutine: the last snapshot holds the same object
    extras: _Extras


# the hash that groups g records by kind (status, wait reason, gopc, startpc)
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))


class LiveReader:
    def __init__(self, pid: int, facts: Facts | None = None,
                 mem: ProcessMemory | None = None) -> None:
        self.pid = pid
        self.exe = _exe_path(pid)
        self.facts = facts if facts is not None else load_facts(self.exe)
        self.mem = mem if mem is not None else ProcessMemory(pid)  # every read goes here
        maps = read_maps(pid)
        self.bias = load_bias(pid, self.exe, maps, self.facts.load_base)
        self.symbols = Symbols(self.facts, self.bias)
        layouts = self.facts.layouts
        try:
            self.decoder = GDecoder(layouts["runtime.g"])
        except KeyError as exc:
            raise GotuiError(f"live reader: no usable runtime.g layout for "
                             f"{self.facts.go_version or 'this Go version'} ({exc})") from None
        self.chans: ChannelReader | None = None  # without sudog/hchan layouts: no channels
        with contextlib.suppress(KeyError, GotuiError):
            self.chans = ChannelReader(self.mem, layouts, self.facts.go_minor,
                                       lambda addr: self.facts.type_name(addr - self.bias))
        self.blocking = self._blocking_reader()
        self.labels = LabelReader(self.mem, self.facts.go_minor)
        m = layouts.get("runtime.m")
        self._m_procid = m.offsets.get("procid") if m else None
        self._has_syscallbp = "syscallbp" in layouts["runtime.g"].offsets
        self._n_reasons = len(self.facts.wait_reasons)
        self._idle_in_bubble = self.facts.idle_in_synctest()
        bubble = layouts.get("runtime.synctestBubble")
        self._bubble_offsets = bubble.offsets if bubble is not None else {}
        self._labels_var = godebug.var_addr(self.facts, "tracebacklabels", self.bias)
        self._labels_at_start = godebug.startup_value(
            self.facts, "tracebacklabels", godebug.environ_godebug(pid)) == "1"
        allgs = self.facts.symbol("runtime.allgs")
        allglen = self.facts.symbol("runtime.allglen")
        if allgs is None or allglen is None:
            raise GotuiError(f"{self.exe}: no runtime.allgs symbol (not a Go program?)")
        sched = self.facts.symbol("runtime.sched")
        self._goidgen = sched + self.bias if sched is not None else None
        self._allgs = allgs + self.bias
        self._allglen = allglen + self.bias
        if self.mem.read(self._allgs, 16) is None:
            raise GotuiError(f"cannot read runtime.allgs of pid {pid} (not the binary on disk?)")
        self.info = TargetInfo(pid, self.exe, self.facts.go_version, "live")
        self.dropped = 0  # g records dropped as inconsistent in the last snapshot
        self.system_goids: set[int] = set()  # runtime-internal goroutines, last snapshot
        # the g records (the last read is kept: unchanged records are not decoded again)
        self.records = GRecordReader(self.mem, self.decoder, self._n_reasons, self._max_goid,
                                     _PARKED)
        self._made = _Made.empty()  # what the snapshots made of the last read's records
        self.clock = WaitClock()  # the waits of the goroutines handed out count to it
        self._rev = 0  # the last _Made.rev handed out
        # the goroutines of the last snapshot: goid -> g address
        self._gaddr = GoroutineIndex(*(np.zeros(0, np.uint64),) * 2, np.zeros(0, np.int64))
        self._kinds: dict[tuple[int, int, int, int], _Kind] = {}
        # goids whose Goroutine got a blocked_on_lock or stack_refs in the last snapshot
        self._marked: set[int] = set()
        self._holders: HolderFinder | None = None  # made when a lock first has waiters
        self.exact: ExactSource | None = None  # exact Mutex holders (eBPF), when tracked

    # ------------------------------------------------------------ g's
    def _g_addrs(self, heap: AddressRanges) -> np.ndarray:
        for _ in range(2):  # allgs may be reallocated (grown) while we read it
            hdr = self.mem.read(self._allgs, 16)
            glen = self.mem.read_u64(self._allglen)
            if hdr is None or glen is None:
                raise GotuiError(f"cannot read runtime.allgs of pid {self.pid}")
            ptr, n = _SLICE.unpack(hdr)
            n = min(n, glen)
            if n == 0:
                return np.zeros(0, np.uint64)
            if n > MAX_GOROUTINES or not heap.contains(ptr, 8 * n):
                continue
            raw = self.mem.read(ptr, 8 * n)
            if raw is None:
                continue
            addrs = np.frombuffer(raw, dtype="<u8")
            return addrs[(addrs != 0) & (addrs & np.uint64(7) == 0)].astype(np.uint64)
        raise GotuiError(f"pid {self.pid}: runtime.allgs keeps changing or is unreadable")

    def _max_goid(self) -> int:
        """sched.goidgen (the first field of runtime.schedt in Go 1.19-1.27): no g can
        have a larger goid. Unknown (stripped binary without the symbol): no bound."""
        if self._goidgen is None:
            return MAX_GOID
        v = self.mem.read_u64(self._goidgen)
        return v if v is not None and 0 < v < MAX_GOID else MAX_GOID

    def _kind(self, status: int, reason_idx: int, gopc: int, startpc: int) -> _Kind:
        sym = self.symbols
        name = status_name(status)
        waiting = name in ("waiting", "leaked")
        reasons = self.facts.wait_reasons
        reason = reasons[reason_idx] if waiting and reason_idx < len(reasons) else ""
        raw_start = sym.func_name(startpc)
        proto = Goroutine(id=0, status=name, wait_reason=reason,
                          go_statement=sym.go_statement(gopc) if gopc else _NOLOC,
                          start=sym.start(startpc) if startpc else _NOLOC,
                          current=_NOLOC, user_current=_NOLOC, own_current=_NOLOC).__dict__
        # keys set on every copy are in it already: a new key would resize each copy
        proto["_clock"], proto["_since"] = self.clock, 0
        # its empty stack, waiting_on and stack_refs are shared by the copies (168 bytes
        # a goroutine, 168 MB at 1M): model objects are never changed in place, a
        # goroutine that gets some is given new ones. Not labels: an object sharing its
        # predecessor's labels dict is a copy of it (tui/snapshot_changes.py)
        return _Kind(name, reason, raw_start.startswith("runtime.") and raw_start != "runtime.main",
                     chan_op(reason) if reason else None,
                     bool(reason) and chan_op(reason) is not None, reason in SEMA_REASONS,
                     reason_idx in self._idle_in_bubble, proto.copy())

    # ------------------------------------------------------------ LiveSource
    def goroutine_count(self) -> int:
        """Goroutines not dead (system ones included), from their status words only."""
        heap = AddressRanges(read_maps(self.pid), "rw")
        rows, ok = self.records.read_rows(self._g_addrs(heap))
        dead = in_statuses(masked_status(rows), DEAD_ROWS)
        return int((ok & ~dead).sum())

    def snapshot(self) -> Snapshot:
        # The snapshot allocates ~3 objects per goroutine it builds and frees the previous
        # one: with the cyclic GC on, that triggers full collections that cost more than
        # the decoding itself. Nothing built here forms reference cycles.
        enabled = gc.isenabled()
        gc.disable()
        try:
            snap = self._snapshot()
            self._infer_holders(snap)
            return snap
        finally:
            if enabled:
                gc.enable()

    def _snapshot(self) -> Snapshot:
        self.dropped = 0
        heap = AddressRanges(read_maps(self.pid), "rw")
        addrs = self._g_addrs(heap)
        sema = self.blocking.sema_waiters(heap)
        read = self.records.read(addrs)
        sema.update(self.blocking.sema_waiters(heap))  # the newer read wins
        self.dropped = read.dropped
        now = time.monotonic_ns()  # the runtime's nanotime is CLOCK_MONOTONIC
        try:
            made = self._made.follow(read.prev)
            d = self._decode(read, made, now)
        except BaseException:
            # what was made of the read so far does not match it: start afresh
            self.records.forget()
            self._made = _Made.empty()
            raise
        self._made = made
        step_aside()
        self._gaddr = gaddr = d.index
        out = d.out
        self.system_goids = set(gaddr.goids[made.system[gaddr.pos]].tolist())
        channels: list[Channel] = []
        extras = d.extras
        if extras.waits and self.chans is not None:
            channels = self.chans.read(extras.waits, heap, gaddr.goids_at)
            for w, gr in zip(extras.waits, extras.waiters, strict=True):
                blocked = w.blocked()
                gr.waiting_on = blocked
                gr.blocked_on = blocked[0] if blocked and (len(blocked) == 1
                                                           or w.op == "select") else None
        self._fill_threads(extras.threads)
        self.labels.fill(extras.labelled)
        self._fill_bubbles(extras.bubbled)
        step_aside()
        sema_at = np.flatnonzero(made.on_sema[gaddr.pos]).tolist()
        chan_waiting = sum(1 for gr in extras.waiters if gr.waiting_on)
        locks, lock_of, refs = self.blocking.find(
            out, [out[j] for j in sema_at], chan_waiting, gaddr, self._gs_of,
            self.system_goids, channels, sema)
        self._set_blocking(out, lock_of, refs, d.shared)
        return Snapshot(pid=self.pid, exe=self.exe, go_version=self.facts.go_version,
                        source="live", target_paused_ns=0, goroutines=out, channels=channels,
                        locks=locks, traceback_labels=self._traceback_labels())

    def _decode(self, read: GRead, made: _Made, now: int) -> _Decoded:
        """The decode loop: the Goroutine of every live record. A record unchanged since
        the last snapshot keeps its object (its wait counts on the reader's clock; a copy
        if it began anew), unless its stack walk was torn or it hangs off memory read
        every time (`extra`); the others are built, and those parked somewhere new are
        queued for a stack walk."""
        rows, live, objs = read.rows, read.live, made.objs
        status = masked_status(rows)
        since = rows["waitsince"]
        since = np.where(in_statuses(status, _TIMED) & (since > 0) & (since < now), since, 0)
        self.clock.now = now  # every wait handed out so far now counts to this read
        reuse = live & read.same & made.done & ~made.extra
        moved = np.flatnonzero(reuse & (since != made.since))  # a new wait: a copy
        clock = self.clock
        for j, s in zip(moved.tolist(), since[moved].tolist(), strict=True):
            c = objs[j] = copied(objs[j])  # type: ignore[arg-type]
            on_clock(c.__dict__, clock, s)
            c.wait_basis = "gc" if s else ""
        made.since[moved] = since[moved]
        shared = reuse.copy()
        shared[moved] = False
        for j in np.flatnonzero(~live).tolist():
            objs[j] = None
        build = np.flatnonzero(live & ~reuse)
        extras = self._build(read, made, build, since)
        pos = np.flatnonzero(live)
        out: list[Goroutine] = list(filter(None, objs))  # type: ignore[arg-type]
        index = GoroutineIndex(rows["goid"][pos], read.addr[pos], pos)
        return _Decoded(out, index, shared[pos], extras)

    def _build(self, read: GRead, made: _Made, build: np.ndarray, since: np.ndarray
               ) -> _Extras:
        """The Goroutine objects of the records `build` (indexes in the read), after the
        stack walks that find their locations; what hangs off them is returned."""
        extras = _Extras([], [], [], [], [])
        if not len(build):
            return extras
        objs = made.objs
        rows = read.rows if len(build) == len(read.rows) else read.rows.take(build)
        addr = read.addr[build]
        status = masked_status(rows)
        kinds, kind_of = self._kinds_of(rows, status)

        def per_kind(attr: str) -> np.ndarray:
            return np.array([getattr(k, attr) for k in kinds], dtype=bool)[kind_of]

        was_done = made.done[build]
        befores = [objs[j] for j in build.tolist()]
        # parked where it was last time: the same stack, the same locations
        stays = (read.same | read.same_top)[build] & was_done
        curs = np.full(len(build), _NOLOC, dtype=object)
        usrs, owns = curs.copy(), curs.copy()
        for i in np.flatnonzero(stays).tolist():
            b = befores[i]
            curs[i], usrs[i], owns[i] = b.current, b.user_current, b.own_current  # type: ignore[union-attr]
        walks = self._walks(rows, status, addr, ~stays, kinds, kind_of, befores, was_done)
        torn = self._locate(walks, curs, usrs, owns)
        made.done[build] = True
        made.done[build[walks.at]] = ~torn  # a torn walk is done again next time
        has_chan = per_kind("has_op") & (rows["waiting"] != 0)
        on_thread = ((status == RUNNING) | (status == SYSCALL)) & (rows["m"] != 0)
        made.extra[build] = has_chan | on_thread | (rows["labels"] != 0) | (rows["bubble"] != 0)
        made.system[build] = per_kind("system")
        made.on_sema[build] = per_kind("on_sema")
        made.since[build] = since[build]
        made.rev[build] = np.arange(self._rev + 1, self._rev + 1 + len(build))
        self._rev += len(build)
        goids = rows["goid"].tolist()
        protos = [k.proto for k in kinds]
        new = _new
        grs: list[Goroutine] = []
        for j, goid, w, parent, locked, scanned, k, cur, usr, own in zip(
                build.tolist(), goids, since[build].tolist(), rows["parent_goid"].tolist(),
                (rows["lockedm"] != 0).tolist(),
                ((rows["status"] & np.uint64(SCAN_BIT)) != 0).tolist(), kind_of.tolist(),
                curs.tolist(), usrs.tolist(), owns.tolist(), strict=True):
            # a Goroutine, by field name, on a copy of what its kind shares
            gr = new(LiveGoroutine)
            gr.__dict__ = f = protos[k].copy()
            f["id"] = goid
            f["parent_id"] = parent
            f["_since"] = w  # (its kind's proto has the reader's clock)
            if w:
                f["wait_basis"] = "gc"
            if locked:
                f["locked_to_thread"] = True
            if scanned:
                f["scan"] = True
            f["current"], f["user_current"], f["own_current"] = cur, usr, own
            f["labels"] = {}
            objs[j] = gr
            grs.append(gr)
        for i in np.flatnonzero(has_chan).tolist():
            extras.waits.append(ChanWait(goids[i], int(addr[i]), int(rows["waiting"][i]),
                                         kinds[kind_of[i]].op))  # type: ignore[arg-type]
            extras.waiters.append(grs[i])
        for i in np.flatnonzero(on_thread).tolist():
            extras.threads.append((grs[i], int(rows["m"][i])))
        for i in np.flatnonzero(rows["labels"]).tolist():
            extras.labelled.append((grs[i], int(rows["labels"][i])))
        for i in np.flatnonzero(rows["bubble"]).tolist():
            extras.bubbled.append((grs[i], int(rows["bubble"][i])))
            grs[i].synctest_durable = kinds[kind_of[i]].idle_in_bubble
        return extras

    def _kinds_of(self, rows: GRows, status: np.ndarray) -> tuple[list[_Kind], np.ndarray]:
        """The distinct kinds of these records, and each record's index in them."""
        keys = np.stack([status, rows["waitreason"], rows["gopc"], rows["startpc"]])
        mixed = (keys[2] * _MIX[0]) ^ (keys[3] * _MIX[1]) ^ (keys[0] << np.uint64(56)) ^ (
            keys[1] << np.uint64(40))
        _, first, kind_of = np.unique(mixed, return_index=True, return_inverse=True)
        reps = keys[:, first]
        if not (keys == reps[:, kind_of]).all():  # two kinds mixed to one number
            tuples = list(zip(*keys.tolist(), strict=True))
            number = {t: i for i, t in enumerate(dict.fromkeys(tuples))}
            kind_of = np.array([number[t] for t in tuples], dtype=np.int64)
            reps = np.array(list(number), dtype=np.uint64).T.reshape(4, -1)
        out = []
        for key in zip(*reps.tolist(), strict=True):
            k = self._kinds.get(key)
            if k is None:
                k = self._kinds[key] = self._kind(*key)
            out.append(k)
        return out, kind_of.reshape(-1)

    def _walks(self, rows: GRows, status: np.ndarray, addr: np.ndarray, moved: np.ndarray,
               kinds: list[_Kind], kind_of: np.ndarray, befores: list[Goroutine | None],
               was_done: np.ndarray) -> _Walks:
        """The stack walks of the built records that are not where they were (`moved`):
        parked ones from g.sched, those in a syscall from where they entered it."""
        parked = np.flatnonzero(moved & in_statuses(status, _PARKED_ROWS) & (rows["pc"] != 0))
        syscall = np.flatnonzero(moved & (status == SYSCALL))
        entered: list[tuple[int, int, int, int]] = []  # (pc, sp, bp, stack.hi)
        at_syscall: list[int] = []
        for i, g in zip(syscall.tolist(), rows.take(syscall).gs(addr[syscall]), strict=True):
            start = self._stack_start(g)
            if start is not None:
                entered.append((start.pc, start.sp, start.bp, start.hi))
                at_syscall.append(i)
        tops = StackTops(*(np.concatenate([rows[f][parked], col]) for f, col in zip(
            ("pc", "sp", "bp", "stack_hi"), StackTops.of(entered), strict=True)))
        at = np.concatenate([parked, np.array(at_syscall, dtype=np.int64)])
        goids = rows["goid"][at]
        starts = [k.proto["start"] for k in kinds]
        return _Walks(at, addr[at], goids, tops,
                      [starts[k] for k in kind_of[at].tolist()],  # type: ignore[misc]
                      [befores[i] if was_done[i] and befores[i] is not None
                       and befores[i].id == g else None  # type: ignore[union-attr]
                       for i, g in zip(at.tolist(), goids.tolist(), strict=True)])

    def _locate(self, walks: _Walks, curs: np.ndarray, usrs: np.ndarray, owns: np.ndarray
                ) -> np.ndarray:
        """Sets current, user_current and own_current (object arrays over the records
        built) of the goroutines walked; returns which walks were torn. A walk that
        broke before finding a user frame (the goroutine ran while we read its stack)
        is done once more from a fresh read of its g; if that breaks too, the goroutine
        keeps what the last snapshot found at the same place, else its start function:
        never runtime.gopark."""
        uf = user_frames(self.mem, self.symbols, walks.tops)
        torn = np.flatnonzero(uf.torn)
        if len(torn):
            fresh = self._tops_again(walks, torn)
            redo = np.array([j for j, t in zip(torn.tolist(), fresh, strict=True)
                             if t is not None], dtype=np.int64)
            again = user_frames(self.mem, self.symbols,
                                StackTops.of([t for t in fresh if t is not None]))
            whole = ~again.torn
            for name in ("current", "user", "own"):
                getattr(uf, name)[redo[whole]] = getattr(again, name)[whole]
            uf.torn[redo[whole]] = False
        user, own = uf.user, uf.own
        for j in np.flatnonzero(uf.torn | _none(user)).tolist():
            before = walks.before[j]
            if before is not None and before.user_current.function:
                user[j], own[j] = before.user_current, before.own_current
            else:
                start = walks.start[j]
                user[j] = own[j] = start if start.function else uf.current[j]
        curs[walks.at] = uf.current
        usrs[walks.at] = user
        owns[walks.at] = np.where(_none(own), user, own)
        return np.array(uf.torn, dtype=bool)

    def _tops_again(self, walks: _Walks, which: np.ndarray
                    ) -> list[tuple[int, int, int, int] | None]:
        """Stack tops (pc, sp, bp, stack.hi) of some of the walks from a fresh read of
        their g's (None: no longer parked as read)."""
        addrs = walks.addr[which]
        rows, ok = self.records.read_rows(addrs)
        ok &= self.decoder.valid_rows(rows, self._n_reasons)
        out: list[tuple[int, int, int, int] | None] = []
        for goid, good, g in zip(walks.goid[which].tolist(), ok.tolist(), rows.gs(addrs),
                                 strict=True):
            if not good or g.goid != goid or g.status not in _PARKED or not g.pc:
                out.append(None)
            else:
                out.append((g.pc, g.sp, g.bp, g.stack_hi))
        return out

    def _g_of(self, goid: int) -> G | None:
        """The g record of a goroutine of the last snapshot, as read then."""
        return self._gs_of([goid])[0]

    def _gs_of(self, goids: list[int]) -> list[G | None]:
        """The g records of goroutines of the last snapshot, as read then, in one pass
        (one at a time cost ~25 µs each: a 1k-goroutine refresh spent 20 ms on them)."""
        index = self._gaddr
        at = index.find(np.array(goids, dtype=np.uint64))
        found = at >= 0
        hits = at[found]
        gs = self.records.last.rows.take(index.pos[hits]).gs(index.addrs[hits])
        return [next(gs) if f else None for f in found.tolist()]

    def _fill_bubbles(self, bubbled: list[tuple[Goroutine, int]]) -> None:
        """synctest_bubble: the number the runtime prints in the header, the bubble's
        id (Go 1.25+) or its root goroutine's id (1.24's "synctest group N")."""
        offs = self._bubble_offsets
        if not bubbled or not offs:
            return
        todo = sorted({p for _, p in bubbled})
        if "id" in offs:
            raw = self.mem.read_many([(p + offs["id"], 8) for p in todo])
        elif "root" in offs:
            roots = self.mem.read_many([(p + offs["root"], 8) for p in todo])
            goid = self.decoder.goid_off
            raw = self.mem.read_many([(int.from_bytes(x, "little") + goid, 8) if x else (0, 8)
                                      for x in roots])
        else:
            return
        ids = {p: int.from_bytes(x, "little") for p, x in zip(todo, raw, strict=True) if x}
        for gr, p in bubbled:
            gr.synctest_bubble = ids.get(p, 0)

    def _traceback_labels(self) -> bool:
        """The target's GODEBUG tracebacklabels (backends/gobinary/godebug.py)."""
        if self._labels_var is None:
            return self._labels_at_start
        raw = self.mem.read(self._labels_var, 4)
        return raw is not None and int.from_bytes(raw, "little", signed=True) == 1

    def _set_blocking(self, out: list[Goroutine], lock_of: dict[int, str],
                      refs: dict[int, list[str]], shared: np.ndarray) -> None:
        """Sets blocked_on_lock and stack_refs where they differ from what the goroutine
        object holds: the goroutines named now, and those named last time (a new object
        starts unmarked). An object the last snapshot holds too (`shared`) is copied
        first, and the copy kept for the next snapshots."""
        marked = {gid for gid, addr in lock_of.items() if addr}
        marked.update(gid for gid, found in refs.items() if found)
        touched = marked | self._marked
        self._marked = marked
        if not touched:
            return
        objs, pos = self._made.objs, self._gaddr.pos
        for j in self._gaddr.indexes(touched).tolist():
            g = out[j]
            lock, found = lock_of.get(g.id, ""), refs.get(g.id, [])
            if g.blocked_on_lock == lock and g.stack_refs == found:
                continue
            if shared[j]:
                g = out[j] = objs[pos[j]] = copied(g)
                shared[j] = False
            g.blocked_on_lock, g.stack_refs = lock, found

    def _infer_holders(self, snap: Snapshot) -> None:
        """Lock.holders of the locks with waiters (backends/live/holders.py)."""
        if self.exact is not None:
            self.exact.check()
        if not any(lk.waiters for lk in snap.locks):
            return
        if self._holders is None:
            self._holders = self._holder_finder()
            if self._holders is None:
                return
        keys = self.holder_keys(eligible(snap.goroutines, self.system_goids))
        self._holders.annotate(snap, keys, self.stack_start_of, self.exact)

    def annotate_holders(self, snap: Snapshot, *, fresh: bool = False) -> None:
        """Lock.holders of `snap`, a snapshot of this process taken while it is halted
        (by a stop-the-world backend, or by this reader: `fresh`, its records are then
        current): inferred from the stacks as live (they do not move meanwhile), every
        stack walked, not only the next batch of a live refresh."""
        if not fresh:
            self.snapshot()
        if self._holders is None:
            self._holders = self._holder_finder()
        if self._holders is not None:
            keys = self.holder_keys(eligible(snap.goroutines, self.system_goids))
            for _ in range(100):  # the process is still: walk until every stack is known
                self._holders.annotate(snap, keys, self.stack_start_of, self.exact)
                if not self._holders.skipped:
                    break

    def _holder_finder(self) -> HolderFinder | None:
        facts = self.facts
        md = getattr(facts, "moduledata", None)
        if getattr(facts, "pcln", None) is None or not disasm.available():
            return None
        lo = min(md.data[0], md.noptrbss[0], md.bss[0]) if md else 0
        hi = max(md.data[1], md.noptrbss[1], md.bss[1]) if md else 0
        return HolderFinder(self.mem, LockSites(facts), self.bias, self.blocking.offsets,
                            (lo + self.bias, hi + self.bias))

    def holder_keys(self, goids: list[int]) -> dict[int, object]:
        """goid -> a key of its g record as of the last snapshot if it is parked (the same
        key later means the same record, so the same stack), else None; goids unknown
        to it are left out."""
        index = self._gaddr
        at = index.indexes(goids)
        pos = index.pos[at]
        parked = in_statuses(masked_status(self.records.last.rows.take(pos)), _PARKED_ROWS)
        keys = np.where(parked, self._made.rev[pos], -1).tolist()
        return {goid: key if key >= 0 else None
                for goid, key in zip(index.goids[at].tolist(), keys, strict=True)}

    def stack_start_of(self, goid: int) -> StackStart | None:
        """Where a goroutine's stack starts, from the last snapshot's record (None when
        it is running or unknown)."""
        g = self._g_of(goid)
        return self._stack_start(g) if g is not None else None

    def _blocking_reader(self) -> BlockingReader:
        facts = self.facts
        offsets = sync_offsets(getattr(facts, "elf", None), getattr(facts, "build_id", ""),
                               facts.go_minor)
        semtable = facts.symbol("runtime.semtable")
        sema = None
        with contextlib.suppress(KeyError, GotuiError):  # no sudog layout: no locks
            sema = SemaReader(self.mem, semtable + self.bias if semtable is not None else None,
                              facts.layouts["runtime.sudog"], offsets, facts.go_minor)
        return BlockingReader(self.mem, sema, offsets, _PARKED)

    def _stack_start(self, g: G) -> StackStart | None:
        if g.status in _PARKED and g.pc:
            return StackStart(g.pc, g.sp, g.bp, g.stack_lo, g.stack_hi)
        bp = self._syscall_bp(g) if g.status == SYSCALL and g.syscallpc else 0
        if bp and g.stack_lo <= g.syscallsp < g.stack_hi:
            return StackStart(g.syscallpc, g.syscallsp, bp, g.stack_lo, g.stack_hi)
        return None  # running: its registers are only readable after a stop

    def _syscall_bp(self, g: G) -> int:
        """The frame pointer of the function that entered the syscall: g.syscallbp (Go
        1.23+), else from g.syscallsp, its SP then, and its frame size at syscallpc (the
        saved BP sits just below the return address)."""
        if self._has_syscallbp:
            return g.syscallbp
        size = self.facts.frame_size(g.syscallpc - self.bias) if g.syscallpc else None
        return g.syscallsp + size - 8 if size is not None and size >= 8 else 0

    def _fill_threads(self, threads: list[tuple[Goroutine, int]]) -> None:
        if not threads or self._m_procid is None:
            return
        buf, ok = self.mem.read_same_size([m + self._m_procid for _, m in threads], 8)
        for (gr, _), good, (procid,) in zip(threads, ok, struct.iter_unpack("<Q", buf),
                                            strict=True):
            if good and 0 < procid < 1 << 32:
                gr.thread_id = procid

    def stack(self, goid: int, depth: int = 64) -> list[Frame]:
        """Stack of a parked goroutine; empty if it is running (not readable without a
        stop), has exited, or was created after the last snapshot."""
        if not self._gaddr:
            self.snapshot()  # goid -> g address comes from the last snapshot
        addr = self._gaddr.get(goid)
        if addr is None:
            return []
        for _ in range(2):
            raw = self.mem.read(addr, self.decoder.size)
            if raw is None:
                return []
            vals = self.decoder.struct.unpack(raw)
            g = self.decoder.make(addr, vals)
            if g.goid != goid or g.status in DEAD or not self.decoder.valid(vals, self._n_reasons):
                return []  # exited (or the g was reused) since the last snapshot
            start = self._stack_start(g)
            if start is None:
                return []
            frames = walk(self.mem, self.symbols, start, depth)
            again = self.mem.read(addr, self.decoder.size)
            if again is not None and self.decoder.decode(addr, again)[1:] == g[1:]:
                return frames  # it stayed parked at the same place while we walked
        return []

    def stacks(self, goids: list[int] | None = None, depth: int = 64) -> dict[int, list[Frame]]:
        """Stacks of many goroutines at once (all of the last snapshot by default),
        batched: use this instead of calling stack() per goroutine. Running goroutines
        and those gone since the last snapshot get an empty stack. A stack is only
        kept when the goroutine's g record did not change while it was walked (else it
        ran meanwhile and the walk may mix two stacks) and every frame is known: such
        goroutines are walked again from their new state, up to STACK_TRIES times,
        then get an empty stack rather than a torn one."""
        if not self._gaddr:
            self.snapshot()
        enabled = gc.isenabled()
        gc.disable()  # a list per goroutine, no cycles: see snapshot()
        try:
            return self._stacks(goids, depth)
        finally:
            if enabled:
                gc.enable()

    def _stacks(self, goids: list[int] | None, depth: int) -> dict[int, list[Frame]]:
        index = self._gaddr
        wanted = list(index) if goids is None else goids
        res: dict[int, list[Frame]] = {g: [] for g in wanted}
        asked = np.array(wanted, dtype=np.uint64)
        at = index.find(asked)
        todo, addrs = asked[at >= 0], index.addrs[at[at >= 0]]
        short: dict[int, list[Frame]] = {}  # the last try's walk that ended early
        for attempt in range(STACK_TRIES):
            last = attempt == STACK_TRIES - 1
            tops, state = self._stack_starts(todo, addrs)
            walked = walk_stacks(self.mem, self.symbols, tops, depth)
            _, again = self._stack_starts(todo, addrs)
            still = (state == again).all(axis=0)  # it did not run while we walked
            # a whole stack ends at its base (goexit); a shorter one is only taken on
            # the last try (C callbacks' goroutines have other bases), and only if the
            # try before walked the same frames: a goroutine that parks again where it
            # was between the two reads of its g record (it churns) leaves the same
            # record over a stack it rewrote meanwhile, and a walk of that ends early
            take = still & walked.known & walked.based
            for k in np.flatnonzero(still & walked.known & ~walked.based).tolist():
                goid, frames = int(todo[k]), walked.frames[k]
                take[k] = last and short.get(goid) == frames
                short[goid] = frames
            for k in np.flatnonzero(take).tolist():
                res[int(todo[k])] = walked.frames[k]
            retry = ~take & (again[0] != _NO_STACK)
            todo, addrs = todo[retry], addrs[retry]
            if not len(todo):
                break
        return res

    def _stack_starts(self, goids: np.ndarray, addrs: np.ndarray
                      ) -> tuple[StackTops, np.ndarray]:
        """Where the stacks of these goroutines start (pc 0: no readable stack), and
        their state: a column of (status, pc, sp, bp, syscallpc, syscallsp) each, all
        _NO_STACK when the g record holds no such goroutine with a readable stack."""
        rows, ok = self.records.read_rows(addrs)
        ok &= self.decoder.valid_rows(rows, self._n_reasons) & (rows["goid"] == goids)
        status = masked_status(rows)
        ok &= ~in_statuses(status, DEAD_ROWS)
        started = ok & in_statuses(status, _PARKED_ROWS) & (rows["pc"] != 0)
        pc, sp, bp = (np.where(started, rows[f], 0) for f in ("pc", "sp", "bp"))
        syscall = np.flatnonzero(ok & ~started & (status == SYSCALL) & (rows["syscallpc"] != 0))
        for i, g in zip(syscall.tolist(), rows.take(syscall).gs(addrs[syscall]), strict=True):
            start = self._stack_start(g)
            if start is not None:
                pc[i], sp[i], bp[i] = start.pc, start.sp, start.bp
                started[i] = True
        state = np.stack([status, rows["pc"], rows["sp"], rows["bp"], rows["syscallpc"],
                          rows["syscallsp"]])
        state[:, ~started] = _NO_STACK
        return StackTops(pc, sp, bp, rows["stack_hi"]), state

    def close(self) -> None:
        exact, self.exact = self.exact, None
        close = getattr(exact, "close", None)
        if close is not None:
            close()  # its probes go with it
        self._gaddr = GoroutineIndex(*(np.zeros(0, np.uint64),) * 2, np.zeros(0, np.int64))
        self._kinds.clear()
        self.records.forget()
        self._made = _Made.empty()
        self._marked.clear()
