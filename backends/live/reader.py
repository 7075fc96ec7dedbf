"""LiveReader: every goroutine of a running Go process, read without stopping it.

Reads runtime.allgs, then all g's in batched process_vm_readv calls, and decodes
them against layouts from BinaryFacts. No ptrace: target_paused_ns is always 0.
The process keeps running, so records that fail the sanity checks are re-read once
and dropped if they still fail (`dropped` counts them).
Between snapshots the reader keeps what it made of each g record: records whose bytes
are unchanged (most of them, in a big program) are not checked, decoded or walked
again, and their Goroutine objects are reused (copy on write: an object a previous
snapshot holds is never changed; a goroutine that only waited longer gets a copy with
its new wait_ns). Snapshots and their goroutines are read-only for their consumers.
"""

from __future__ import annotations

import contextlib
import gc
import os
import struct
import time
from operator import attrgetter
from typing import NamedTuple

from gotui.backends.gobinary import disasm, godebug
from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.locksites import LockSites
from gotui.backends.gobinary.symbols import Facts, Symbols
from gotui.backends.live.channels import ChannelReader, ChanWait, chan_op
from gotui.backends.live.goroutines import DEAD, MAX_GOID, RUNNING, SYSCALL, G, GDecoder
from gotui.backends.live.holders import ExactSource, HolderFinder, eligible
from gotui.backends.live.locks import SEMA_REASONS, BlockingReader, SemaReader, sync_offsets
from gotui.backends.live.memory import (
    AddressRanges,
    ProcessMemory,
    load_bias,
    read_maps,
)
from gotui.backends.live.stackwalk import (
    StackStart,
    ends_at_base,
    user_frames,
    walk,
    walk_windows,
)
from gotui.backends.model import (
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

_SLICE = struct.Struct("<QQ")
MAX_GOROUTINES = 50_000_000
MAX_LABELS = 64
MAX_LABEL_LEN = 4096
_PARKED = frozenset({0, 1, 4, 9, 10})  # statuses whose g.sched is the goroutine's state
_SCAN = 0x1000
STACK_TRIES = 4  # walks of a goroutine that keeps moving before stacks() gives up
_NOLOC = Location()  # shared "unknown": Locations in a snapshot are read-only


class _Kind(NamedTuple):
    status: str
    reason: str
    go_statement: Location
    start: Location
    system: bool
    op: str | None
    on_sema: bool  # parked on a semaphore or a sync.Cond: locks.BlockingReader looks
    timed: bool  # g.waitsince counts (waiting, leaked or in a syscall)
    idle_in_bubble: bool  # the raw wait reason is in runtime.isIdleInSynctest


class _Rec:
    """A g record read at `addr` and what a snapshot made of it. Records whose bytes
    are unchanged in the next snapshot are reused whole: not checked, decoded or
    walked again."""

    __slots__ = ("addr", "vals", "done", "kind", "cur", "usr", "own", "extra", "gr")

    def __init__(self, addr: int, vals: tuple[int, ...]) -> None:
        self.addr = addr
        self.vals = vals
        self.done = False  # kind, cur, usr, extra are set
        self.kind: _Kind
        self.cur = _NOLOC
        self.usr = _NOLOC
        self.own = _NOLOC
        self.extra = False  # needs channel / thread / label reads
        self.gr: Goroutine | None = None  # the Goroutine the last snapshot made of it


class _LastRead(NamedTuple):
    addrs: list[int]
    buf: bytearray
    items: list[_Rec | None]  # per address: None if dead, dropped or unreadable
    bad_blocks: set[int]  # blocks (of _BLOCK records) holding a record that failed checks


_BLOCK = 128
_new = object.__new__
_ADDR = attrgetter("addr")


def _with_wait(g: Goroutine, wait_ns: int) -> Goroutine:
    """A shallow copy of `g` with another wait_ns (twice as fast as building one)."""
    c = _new(Goroutine)
    d = g.__dict__.copy()
    d["wait_ns"] = wait_ns
    c.__dict__ = d
    return c


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
        self._gaddr: dict[int, int] = {}  # goid -> g address, from the last snapshot
        self._kinds: dict[tuple[int, int, int, int], _Kind] = {}
        # g address -> its record in the last snapshot: unchanged g's are not decoded
        # or walked again
        self._seen: dict[int, _Rec] = {}
        self._last: _LastRead | None = None
        # goids whose Goroutine got a blocked_on_lock or stack_refs in the last snapshot
        self._marked: set[int] = set()
        self._holders: HolderFinder | None = None  # made when a lock first has waiters
        self.exact: ExactSource | None = None  # exact Mutex holders (eBPF), when tracked

    # ------------------------------------------------------------ g's
    def _g_addrs(self, heap: AddressRanges) -> list[int]:
        for _ in range(2):  # allgs may be reallocated (grown) while we read it
            hdr = self.mem.read(self._allgs, 16)
            glen = self.mem.read_u64(self._allglen)
            if hdr is None or glen is None:
                raise GotuiError(f"cannot read runtime.allgs of pid {self.pid}")
            ptr, n = _SLICE.unpack(hdr)
            n = min(n, glen)
            if n == 0:
                return []
            if n > MAX_GOROUTINES or not heap.contains(ptr, 8 * n):
                continue
            raw = self.mem.read(ptr, 8 * n)
            if raw is None:
                continue
            return [a for a in struct.unpack(f"<{n}Q", raw) if a and not a & 7]
        raise GotuiError(f"pid {self.pid}: runtime.allgs keeps changing or is unreadable")

    def _read_gs(self, addrs: list[int]) -> list[_Rec]:
        """Every live g's record; inconsistent ones re-read once. A record identical to
        one that passed the checks before is reused as is (goids only grow): whole
        blocks of records at the same addresses with the same bytes at once. Unmapped
        addresses simply fail their read (no per-pointer map lookups)."""
        dec = self.decoder
        size = dec.size
        valid, n_reasons = dec.valid, self._n_reasons
        ist = dec.i["atomicstatus"]
        seen = self._seen.get
        last = self._last
        buf, ok = self.mem.read_same_size(addrs, size)
        max_goid = self._max_goid()
        n = len(addrs)
        items: list[_Rec | None] = [None] * n
        bad: list[int] = []
        # allgs only grows (g's are reused, never freed): the last read's addresses
        # are normally a prefix of these
        m = 0
        if last is not None and len(last.addrs) <= n and addrs[:len(last.addrs)] == last.addrs:
            m = len(last.addrs)
        all_ok = all(ok)
        iter_unpack = dec.struct.iter_unpack
        seen_any = bool(self._seen)
        for b0 in range(0, n, _BLOCK):
            b1 = min(b0 + _BLOCK, n)
            if (b1 <= m and last is not None and b0 // _BLOCK not in last.bad_blocks
                    and (all_ok or all(ok[b0:b1]))
                    and buf[b0 * size:b1 * size] == last.buf[b0 * size:b1 * size]):
                # (bytearray slices: memoryview == compares item by item, 10x slower)
                items[b0:b1] = last.items[b0:b1]
                continue
            for j, vals in enumerate(iter_unpack(buf[b0 * size:b1 * size]), b0):
                if not ok[j]:
                    bad.append(j)
                    continue
                c = seen(addrs[j]) if seen_any else None
                if c is not None and c.vals == vals:
                    items[j] = c
                elif valid(vals, n_reasons, max_goid):
                    if vals[ist] & ~0x1000 not in DEAD:
                        items[j] = _Rec(addrs[j], vals)
                else:
                    bad.append(j)
        if bad:  # re-read once
            rbuf, rok = self.mem.read_same_size([addrs[j] for j in bad], size)
            max_goid = self._max_goid()
            for j, good, vals in zip(bad, rok, dec.struct.iter_unpack(rbuf), strict=True):
                if good and valid(vals, n_reasons, max_goid):
                    if vals[ist] & ~0x1000 not in DEAD:
                        items[j] = _Rec(addrs[j], vals)
                else:
                    self.dropped += 1
        self._last = _LastRead(addrs, buf, items, {j // _BLOCK for j in bad})
        return list(filter(None, items))

    def _max_goid(self) -> int:
        """sched.goidgen (the first field of runtime.schedt in Go 1.19-1.27): no g can
        have a larger goid. Unknown (stripped binary without the symbol): no bound."""
        if self._goidgen is None:
            return MAX_GOID
        v = self.mem.read_u64(self._goidgen)
        return v if v is not None and 0 < v < MAX_GOID else MAX_GOID

    def _kind(self, status: int, reason_idx: int, gopc: int, startpc: int) -> _Kind:
        """What goroutines sharing status, wait reason and creation site have in common."""
        sym = self.symbols
        name = status_name(status)
        waiting = name in ("waiting", "leaked")
        reasons = self.facts.wait_reasons
        reason = reasons[reason_idx] if waiting and reason_idx < len(reasons) else ""
        raw_start = sym.func_name(startpc)
        return _Kind(name, reason,
                     sym.go_statement(gopc) if gopc else _NOLOC,
                     sym.start(startpc) if startpc else _NOLOC,
                     raw_start.startswith("runtime.") and raw_start != "runtime.main",
                     chan_op(reason) if reason else None, reason in SEMA_REASONS,
                     waiting or name == "syscall", reason_idx in self._idle_in_bubble)

    # ------------------------------------------------------------ LiveSource
    def goroutine_count(self) -> int:
        """Goroutines not dead (system ones included), from their status words only."""
        heap = AddressRanges(read_maps(self.pid), "rw")
        addrs = [a + self.decoder.status_off for a in self._g_addrs(heap)]
        buf, ok = self.mem.read_same_size(addrs, 4)
        return sum(1 for (st,), good in zip(struct.iter_unpack("<I", buf), ok, strict=True)
                   if good and (st & ~0x1000) not in DEAD)

    def snapshot(self) -> Snapshot:
        # The snapshot allocates ~5 objects per goroutine and frees the previous one:
        # with the cyclic GC on, that triggers full collections that cost more than
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
        recs = self._read_gs(addrs)
        sema.update(self.blocking.sema_waiters(heap))  # the newer read wins
        now = time.monotonic_ns()  # the runtime's nanotime is CLOCK_MONOTONIC
        i = self.decoder.i
        ist, iwr, igopc, istart = i["atomicstatus"], i["waitreason"], i["gopc"], i["startpc"]
        igoid, iws, ipar, iwaiting = i["goid"], i["waitsince"], i["parentGoid"], i["waiting"]
        ipc, isp, ibp, ihi = i["sched.pc"], i["sched.sp"], i["sched.bp"], i["stack.hi"]
        im, ilabels = i["m"], i["labels"]
        ilocked, ibubble = i["lockedm"], i["bubble"]
        kinds = self._kinds
        out: list[Goroutine] = []
        system: set[int] = set()
        # stack tops to walk: (pc, sp, bp, stack.hi, goid)
        tops: list[tuple[int, int, int, int, int]] = []
        walked: list[tuple[_Rec, Goroutine]] = []
        waits: list[ChanWait] = []
        waiters: list[Goroutine] = []  # waits[i] is waiters[i]'s
        threads: list[tuple[Goroutine, int]] = []
        labelled: list[tuple[Goroutine, int]] = []
        bubbled: list[tuple[Goroutine, int]] = []
        gaddr: dict[int, int] = {}
        old_seen = self._seen.get
        append = out.append
        shared: set[int] = set()  # goids whose Goroutine the last snapshot holds too
        sema_at: list[int] = []  # where in `out` the goroutines parked on a sema are
        new = _new
        # (indexes, not attribute names: this is the per-goroutine hot path)
        for r in recs:
            v = r.vals
            goid = v[igoid]
            if goid in gaddr:  # a goid twice: one of them is a torn read of a reused g
                self.dropped += 1
                continue
            gaddr[goid] = r.addr
            made = r.gr
            if made is not None and r.done and not r.extra:  # same bytes as last time
                k = r.kind
                ws = v[iws]
                wait = now - ws if k[7] and 0 < ws < now else 0
                if wait == made.wait_ns:
                    shared.add(goid)
                else:  # _with_wait, inline
                    c = new(Goroutine)
                    d = made.__dict__.copy()
                    d["wait_ns"] = wait
                    d["wait_basis"] = "gc" if wait else ""
                    c.__dict__ = d
                    r.gr = made = c
                append(made)
                if k[4]:
                    system.add(goid)
                if k[6]:
                    sema_at.append(len(out) - 1)
                continue
            top = None
            if not r.done:
                st = v[ist] & ~0x1000
                key = (st, v[iwr], v[igopc], v[istart])
                k = kinds.get(key)
                if k is None:
                    k = kinds[key] = self._kind(*key)
                r.kind = k
                r.extra = ((k.op is not None and v[iwaiting] != 0)
                           or (st in (RUNNING, SYSCALL) and v[im] != 0)
                           or (ilabels >= 0 and v[ilabels] != 0)
                           or (ibubble >= 0 and v[ibubble] != 0))
                prev = old_seen(r.addr)
                pv = prev.vals if prev is not None and prev.done else None
                if (pv is not None and st in _PARKED and pv[ist] & ~0x1000 == st
                        and pv[igoid] == goid and pv[iwr] == v[iwr] and pv[ipc] == v[ipc]
                        and pv[isp] == v[isp] and pv[ibp] == v[ibp]):
                    # parked at the same place as last time (waitsince or m changed)
                    r.cur, r.usr, r.own = prev.cur, prev.usr, prev.own  # type: ignore[union-attr]
                elif st in _PARKED and v[ipc]:
                    top = (v[ipc], v[isp], v[ibp], v[ihi], goid)
                elif st == SYSCALL:
                    g = self.decoder.make(r.addr, v)
                    bp = self._syscall_bp(g)
                    if bp and g.syscallpc and g.stack_lo <= g.syscallsp < g.stack_hi:
                        top = (g.syscallpc, g.syscallsp, bp, g.stack_hi, goid)
                r.done = top is None
            k = r.kind
            ws = v[iws]
            wait = now - ws if k[7] and 0 < ws < now else 0
            gr = Goroutine(goid, k[0], k[1], wait, {}, r.cur, r.usr, k[2], k[3],
                           v[ipar] if ipar >= 0 else 0, None, [], 0, [], "", [], r.own,
                           "gc" if wait else "", ilocked >= 0 and v[ilocked] != 0, 0, False,
                           v[ist] & _SCAN != 0)
            r.gr = gr
            append(gr)
            if k[6]:
                sema_at.append(len(out) - 1)
            if top is not None:
                tops.append(top)
                walked.append((r, gr))
            if k[4]:
                system.add(goid)
            if r.extra:
                if k[5] is not None and v[iwaiting]:
                    waits.append(ChanWait(goid, r.addr, v[iwaiting], k[5]))
                    waiters.append(gr)
                if v[ist] & ~0x1000 in (RUNNING, SYSCALL) and v[im]:
                    threads.append((gr, v[im]))
                if ilabels >= 0 and v[ilabels]:
                    labelled.append((gr, v[ilabels]))
                if ibubble >= 0 and v[ibubble]:
                    bubbled.append((gr, v[ibubble]))
                    gr.synctest_durable = k[8]
        self._fill_user_frames(tops, walked)
        self._seen = dict(zip(map(_ADDR, recs), recs, strict=True))
        channels: list[Channel] = []
        if waits and self.chans is not None:
            channels = self.chans.read(
                waits, heap, lambda: dict(zip(gaddr.values(), gaddr, strict=True)))
            for w, gr in zip(waits, waiters, strict=True):
                blocked = w.blocked()
                gr.waiting_on = blocked
                gr.blocked_on = blocked[0] if blocked and (len(blocked) == 1
                                                           or w.op == "select") else None
        self._fill_threads(threads)
        self._fill_labels(labelled)
        self._fill_bubbles(bubbled)
        self._gaddr = gaddr
        self.system_goids = system
        seen = self._seen
        chan_waiting = sum(1 for gr in waiters if gr.waiting_on)
        locks, lock_of, refs = self.blocking.find(
            out, [out[j] for j in sema_at], chan_waiting, gaddr,
            lambda a: seen[a].vals if a in seen else None, system, channels, sema)
        self._set_blocking(out, lock_of, refs, shared, gaddr, sema_at)
        return Snapshot(pid=self.pid, exe=self.exe, go_version=self.facts.go_version,
                        source="live", target_paused_ns=0, goroutines=out, channels=channels,
                        locks=locks, traceback_labels=self._traceback_labels())

    def _fill_user_frames(self, tops: list[tuple[int, int, int, int, int]],
                          walked: list[tuple[_Rec, Goroutine]]) -> None:
        """current, user_current and own_current of the goroutines walked. A walk that
        broke before finding a user frame (the goroutine ran while we read its stack)
        is done once more from a fresh read of its g; if that breaks too, the goroutine
        keeps what the last snapshot found at the same place, else its start function:
        never runtime.gopark. Such records are walked again next time."""
        uf = user_frames(self.mem, self.symbols, tops)
        torn = [j for j, bad in enumerate(uf.torn) if bad]
        if torn:
            fresh = self._tops_again([walked[j][0] for j in torn])
            redo = [(j, t) for j, t in zip(torn, fresh, strict=True) if t is not None]
            again = user_frames(self.mem, self.symbols, [t for _, t in redo])
            for n, (j, _) in enumerate(redo):
                if not again.torn[n]:
                    uf.current[j], uf.user[j], uf.own[j] = (again.current[n], again.user[n],
                                                            again.own[n])
                    uf.torn[j] = False
        igoid = self.decoder.i["goid"]
        for (r, gr), cur, usr, own, bad in zip(walked, uf.current, uf.user, uf.own, uf.torn,
                                               strict=True):
            if bad or usr is None:
                prev = self._seen.get(r.addr)
                if (prev is not None and prev.done and prev.vals[igoid] == gr.id
                        and prev.usr.function):
                    usr, own = prev.usr, prev.own
                else:
                    usr = own = r.kind.start if r.kind.start.function else cur
            gr.current = r.cur = cur
            gr.user_current = r.usr = usr
            gr.own_current = r.own = own or usr
            r.done = not bad

    def _tops_again(self, recs: list[_Rec]) -> list[tuple[int, int, int, int, int] | None]:
        """Stack tops from a fresh read of these g's (None: no longer parked as read)."""
        buf, ok = self.mem.read_same_size([r.addr for r in recs], self.decoder.size)
        out: list[tuple[int, int, int, int, int] | None] = []
        for r, good, vals in zip(recs, ok, self.decoder.struct.iter_unpack(buf), strict=True):
            g = self.decoder.make(r.addr, vals) if good else None
            if (g is None or not self.decoder.valid(vals, self._n_reasons)
                    or g.goid != self.decoder.make(r.addr, r.vals).goid
                    or g.status not in _PARKED or not g.pc):
                out.append(None)
            else:
                out.append((g.pc, g.sp, g.bp, g.stack_hi, g.goid))
        return out

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
                      refs: dict[int, list[str]], shared: set[int],
                      gaddr: dict[int, int], sema_at: list[int]) -> None:
        """Sets blocked_on_lock and stack_refs where they differ from what the goroutine
        object holds: new objects and reused ones that had some last time (copied
        first if the last snapshot holds them too). Only the goroutines parked on a
        sema (`sema_at`, indexes in `out`) are visited when no others can need it: no
        stack_refs now, and no reused object outside them marked last time (a new
        object starts unmarked; a reused one has an unchanged record, so it is still
        parked where it was)."""
        marked = {gid for gid, addr in lock_of.items() if addr}
        marked.update(gid for gid, found in refs.items() if found)
        touched = marked | self._marked
        self._marked = marked
        if not touched:
            return
        at = {out[j].id: j for j in sema_at}
        if not refs and not (touched - at.keys()) & shared:
            where = [(at[gid], out[at[gid]]) for gid in touched if gid in at]
        else:
            where = [(j, g) for j, g in enumerate(out) if g.id in touched]
        for j, g in where:
            gid = g.id
            lock, found = lock_of.get(gid, ""), refs.get(gid, [])
            if g.blocked_on_lock == lock and g.stack_refs == found:
                continue
            if gid in shared:
                g = out[j] = self._seen[gaddr[gid]].gr = _with_wait(g, g.wait_ns)
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
        """goid -> its g record as of the last snapshot if it is parked (the same record
        later means the same stack), else None; goids unknown to it are left out."""
        out: dict[int, object] = {}
        seen, gaddr, ist = self._seen, self._gaddr, self.decoder.i["atomicstatus"]
        for goid in goids:
            addr = gaddr.get(goid)
            rec = seen.get(addr) if addr is not None else None
            if rec is not None:
                out[goid] = rec.vals if rec.vals[ist] & ~0x1000 in _PARKED else None
        return out

    def stack_start_of(self, goid: int) -> StackStart | None:
        """Where a goroutine's stack starts, from the last snapshot's record (None when
        it is running or unknown)."""
        addr = self._gaddr.get(goid)
        rec = self._seen.get(addr) if addr is not None else None
        if rec is None:
            return None
        v, i = rec.vals, self.decoder.i
        if v[i["goid"]] != goid:
            return None
        if v[i["atomicstatus"]] & ~0x1000 in _PARKED:  # (without building a G: 100k calls)
            pc = v[i["sched.pc"]]
            return StackStart(pc, v[i["sched.sp"]], v[i["sched.bp"]], v[i["stack.lo"]],
                              v[i["stack.hi"]]) if pc else None
        return self._stack_start(self.decoder.make(rec.addr, v))

    def _blocking_reader(self) -> BlockingReader:
        facts = self.facts
        offsets = sync_offsets(getattr(facts, "elf", None), getattr(facts, "build_id", ""),
                               facts.go_minor)
        semtable = facts.symbol("runtime.semtable")
        sema = None
        with contextlib.suppress(KeyError, GotuiError):  # no sudog layout: no locks
            sema = SemaReader(self.mem, semtable + self.bias if semtable is not None else None,
                              facts.layouts["runtime.sudog"], offsets, facts.go_minor)
        return BlockingReader(self.mem, sema, offsets, self.decoder.i, _PARKED)

    def _stack_start(self, g: G) -> StackStart | None:
        if g.status in _PARKED and g.pc:
            return StackStart(g.pc, g.sp, g.bp, g.stack_lo, g.stack_hi)
        bp = self._syscall_bp(g) if g.status == SYSCALL and g.syscallpc else 0
        if bp:
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

    def _fill_labels(self, labelled: list[tuple[Goroutine, int]]) -> None:
        """pprof labels (Go >= 1.24: *labelMap is a sorted []struct{key, value string}).
        Goroutines that inherit labels share the map: read each one once per snapshot
        (not across snapshots: a freed map's address can be reused)."""
        if self.facts.go_minor < 24 or not labelled:
            return
        todo = sorted({p for _, p in labelled})
        maps = {p: self._read_labels(hdr) if hdr else {}
                for p, hdr in zip(todo, self.mem.read_many([(p, 16) for p in todo]),
                                  strict=True)}
        for gr, p in labelled:
            gr.labels = dict(maps[p])

    def _read_labels(self, hdr: bytes) -> dict[str, str]:
        ptr, n = _SLICE.unpack(hdr)
        if not 0 < n <= MAX_LABELS:
            return {}
        raw = self.mem.read(ptr, 32 * n)
        if raw is None:
            return {}
        fields = struct.unpack(f"<{4 * n}Q", raw)
        reqs = [(fields[i], fields[i + 1]) for i in range(0, 4 * n, 2)]
        if any(not 0 <= ln <= MAX_LABEL_LEN for _, ln in reqs):
            return {}
        strs = self.mem.read_many([(p, ln) for p, ln in reqs])
        if any(s is None for s in strs):
            return {}
        vals = [s.decode(errors="replace") for s in strs if s is not None]
        return dict(zip(vals[0::2], vals[1::2], strict=True))

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
        wanted = list(self._gaddr) if goids is None else goids
        res: dict[int, list[Frame]] = {g: [] for g in wanted}
        todo = [(g, self._gaddr[g]) for g in wanted if g in self._gaddr]
        for attempt in range(STACK_TRIES):
            last = attempt == STACK_TRIES - 1
            starts = self._parked_starts(todo)
            walked = walk_windows(self.mem, self.symbols, [s for _, _, s, _ in starts], depth)
            again = self._parked_starts([(goid, addr) for goid, addr, _, _ in starts])
            todo = []
            for (goid, addr, _, key), frames, (_, _, _, key2) in zip(starts, walked, again,
                                                                     strict=True):
                # a whole stack ends at its base (goexit); a shorter one is only taken
                # on the last try (C callbacks' goroutines have other bases)
                whole = len(frames) >= depth or bool(frames) and ends_at_base(frames)
                if key == key2 and all(f.function for f in frames) and (whole or last):
                    res[goid] = frames
                elif key2 is not None:
                    todo.append((goid, addr))
            if not todo:
                break
        return res

    def _parked_starts(self, gs: list[tuple[int, int]]
                       ) -> list[tuple[int, int, StackStart, tuple[int, ...] | None]]:
        """(goid, addr, where its stack starts, its state) of those of `gs` whose g
        record holds them with a readable stack; state None for the others (their start
        is then a dummy)."""
        buf, ok = self.mem.read_same_size([a for _, a in gs], self.decoder.size)
        out: list[tuple[int, int, StackStart, tuple[int, ...] | None]] = []
        for (goid, addr), good, vals in zip(gs, ok, self.decoder.struct.iter_unpack(buf),
                                            strict=True):
            start = None
            if good and self.decoder.valid(vals, self._n_reasons):
                g = self.decoder.make(addr, vals)
                if g.goid == goid and g.status not in DEAD:
                    start = self._stack_start(g)
            if start is None:
                out.append((goid, addr, StackStart(0, 0, 0, 0, 0), None))
            else:
                out.append((goid, addr, start, (g.status, g.pc, g.sp, g.bp, g.syscallpc,
                                                g.syscallsp)))
        return out

    def close(self) -> None:
        exact, self.exact = self.exact, None
        close = getattr(exact, "close", None)
        if close is not None:
            close()  # its probes go with it
        self._gaddr.clear()
        self._kinds.clear()
        self._seen.clear()
        self._last = None
        self._marked.clear()
