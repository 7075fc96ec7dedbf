"""LiveReader: every goroutine of a running Go process, read without stopping it.

Reads runtime.allgs, then all g's in batched process_vm_readv calls, and decodes
them against layouts from BinaryFacts. No ptrace: target_paused_ns is always 0.
The process keeps running, so records that fail the sanity checks are re-read once
and dropped if they still fail (`dropped` counts them).
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
from typing import NamedTuple

from backends.live.binary import BinaryFacts
from backends.live.channels import ChannelReader, ChanWait, chan_op
from backends.live.goroutines import DEAD, MAX_GOID, RUNNING, SYSCALL, G, GDecoder
from backends.live.memory import (
    AddressRanges,
    ProcessMemory,
    load_bias,
    read_maps,
)
from backends.live.stackwalk import StackStart, user_frames, walk, walk_many
from backends.live.symbols import Facts, Symbols
from backends.model import (
    Channel,
    Frame,
    Goroutine,
    GotuiError,
    Location,
    Snapshot,
    TargetInfo,
    status_name,
)

_SLICE = struct.Struct("<QQ")
MAX_GOROUTINES = 50_000_000
MAX_LABELS = 64
MAX_LABEL_LEN = 4096
_PARKED = frozenset({0, 1, 4, 9, 10})  # statuses whose g.sched is the goroutine's state
_NOLOC = Location()  # shared "unknown": Locations in a snapshot are read-only


class _Kind(NamedTuple):
    status: str
    reason: str
    go_statement: Location
    start: Location
    system: bool
    op: str | None


class _Parked(NamedTuple):
    status: int
    waitreason: int
    pc: int
    sp: int
    bp: int
    kind: _Kind
    current: Location
    user_current: Location


def _exe_path(pid: int) -> str:
    try:
        path = os.readlink(f"/proc/{pid}/exe")
    except FileNotFoundError:
        raise GotuiError(f"process {pid} is gone") from None
    except PermissionError:
        raise GotuiError(f"cannot read /proc/{pid}/exe: need root or the process's user") from None
    path = path.removesuffix(" (deleted)")
    return path if os.path.exists(path) else f"/proc/{pid}/exe"


def load_facts(path: str) -> Facts:
    try:
        return BinaryFacts.load(path)
    except NotImplementedError:
        raise GotuiError("live reader: binary facts (pclntab/DWARF) not available") from None


class LiveReader:
    def __init__(self, pid: int, facts: Facts | None = None) -> None:
        self.pid = pid
        self.exe = _exe_path(pid)
        self.facts = facts if facts is not None else load_facts(self.exe)
        self.mem = ProcessMemory(pid)
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
        with contextlib.suppress(KeyError):
            self.chans = ChannelReader(self.mem, layouts, self.facts.go_minor,
                                       lambda addr: self.facts.type_name(addr - self.bias))
        m = layouts.get("runtime.m")
        self._m_procid = m.offsets.get("procid") if m else None
        self._has_syscallbp = "syscallbp" in layouts["runtime.g"].offsets
        self._n_reasons = len(self.facts.wait_reasons)
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
        # goid -> _Parked from the last snapshot: unchanged parked goroutines are not
        # decoded or walked again
        self._parked: dict[int, _Parked] = {}

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

    def _read_gs(self, addrs: list[int]) -> list[tuple[int, tuple[int, ...]]]:
        """(address, raw record) of every live g; inconsistent ones re-read once.
        Unmapped addresses simply fail their read (no per-pointer map lookups)."""
        dec = self.decoder
        valid, n_reasons = dec.valid, self._n_reasons
        ist = dec.i["atomicstatus"]
        recs: list[tuple[int, tuple[int, ...]]] = []
        retry: list[int] = []
        for attempt in range(2):
            buf, ok = self.mem.read_same_size(addrs, dec.size)
            max_goid = self._max_goid()
            for addr, good, vals in zip(addrs, ok, dec.struct.iter_unpack(buf), strict=True):
                if good and valid(vals, n_reasons, max_goid):
                    if vals[ist] & ~0x1000 not in DEAD:
                        recs.append((addr, vals))
                elif attempt == 0:
                    retry.append(addr)
                else:
                    self.dropped += 1
            if not retry or attempt:
                break
            addrs, retry = retry, []
        return recs

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
        waiting = name == "waiting"
        reasons = self.facts.wait_reasons
        reason = reasons[reason_idx] if waiting and reason_idx < len(reasons) else ""
        raw_start = sym.func_name(startpc)
        return _Kind(name, reason,
                     sym.location(gopc, call=True) if gopc else _NOLOC,
                     sym.start(startpc) if startpc else _NOLOC,
                     raw_start.startswith("runtime.") and raw_start != "runtime.main",
                     chan_op(reason) if reason else None)

    # ------------------------------------------------------------ LiveSource
    def goroutine_count(self) -> int:
        """Goroutines not dead (system ones included), from their status words only."""
        heap = AddressRanges(read_maps(self.pid), "rw")
        addrs = [a + self.decoder.status_off for a in self._g_addrs(heap)]
        buf, ok = self.mem.read_same_size(addrs, 4)
        return sum(1 for (st,), good in zip(struct.iter_unpack("<I", buf), ok, strict=True)
                   if good and (st & ~0x1000) not in DEAD)

    def snapshot(self) -> Snapshot:
        self.dropped = 0
        heap = AddressRanges(read_maps(self.pid), "rw")
        recs = self._read_gs(self._g_addrs(heap))
        now = time.monotonic_ns()  # the runtime's nanotime is CLOCK_MONOTONIC
        i = self.decoder.i
        ist, iwr, igopc, istart = i["atomicstatus"], i["waitreason"], i["gopc"], i["startpc"]
        igoid, iws, ipar, iwaiting = i["goid"], i["waitsince"], i["parentGoid"], i["waiting"]
        ipc, isp, ibp, ihi = i["sched.pc"], i["sched.sp"], i["sched.bp"], i["stack.hi"]
        im, ilabels = i["m"], i["labels"]
        kinds = self._kinds
        out: list[Goroutine] = []
        system: set[int] = set()
        # stack tops to walk: (pc, sp, bp, stack.hi, goid)
        tops: list[tuple[int, int, int, int, int]] = []
        walked: list[tuple[Goroutine, int, int, _Kind]] = []  # (g, status|-1, waitreason, kind)
        old_parked, new_parked = self._parked, {}
        waits: list[ChanWait] = []
        waiters: list[Goroutine] = []  # waits[i] is waiters[i]'s
        threads: list[tuple[Goroutine, int]] = []
        labelled: list[tuple[Goroutine, int]] = []
        gaddr: dict[int, int] = {}
        for addr, v in recs:
            goid = v[igoid]
            if goid in gaddr:  # a goid twice: one of them is a torn read of a reused g
                self.dropped += 1
                continue
            gaddr[goid] = addr
            st = v[ist] & ~0x1000
            prev = old_parked.get(goid)
            # (indexes, not attribute names: this is the per-goroutine hot path)
            if (prev is not None and prev[0] == st and prev[1] == v[iwr]
                    and prev[2] == v[ipc] and prev[3] == v[isp] and prev[4] == v[ibp]):
                # parked at the same place as last time: same kind, same frames
                new_parked[goid] = prev
                _, _, _, _, _, k, cur, usr = prev
                top = None
            else:
                key = (st, v[iwr], v[igopc], v[istart])
                k = kinds.get(key)
                if k is None:
                    k = kinds[key] = self._kind(*key)
                cur = usr = _NOLOC
                top = None
                if st in _PARKED and v[ipc]:
                    top = (v[ipc], v[isp], v[ibp], v[ihi], goid)
                elif st == SYSCALL and self._has_syscallbp:
                    g = self.decoder.make(addr, v)
                    if g.syscallpc and g.stack_lo <= g.syscallsp < g.stack_hi:
                        top = (g.syscallpc, g.syscallsp, g.syscallbp, g.stack_hi, goid)
            status, reason, gostmt, start, is_system, op = k
            ws = v[iws]
            gr = Goroutine(goid, status, reason, now - ws if reason and 0 < ws < now else 0,
                           {}, cur, usr, gostmt, start,
                           v[ipar] if ipar >= 0 else 0, None, [], 0, [])
            if top is not None:
                tops.append(top)
                walked.append((gr, st if st in _PARKED else -1, v[iwr], k))
            if is_system:
                system.add(goid)
            if op is not None and v[iwaiting]:
                waits.append(ChanWait(goid, addr, v[iwaiting], op))
                waiters.append(gr)
            if st in (RUNNING, SYSCALL) and v[im]:
                threads.append((gr, v[im]))
            if ilabels >= 0 and v[ilabels]:
                labelled.append((gr, v[ilabels]))
            out.append(gr)
        current, user = user_frames(self.mem, self.symbols, tops)
        for (gr, st, wr, k), (pc, sp, bp, _, goid), cur, usr in zip(walked, tops, current,
                                                                     user, strict=True):
            gr.current = cur
            gr.user_current = usr
            if st >= 0:  # parked (not in a syscall): remember where
                new_parked[goid] = _Parked(st, wr, pc, sp, bp, k, cur, usr)
        self._parked = new_parked
        channels: list[Channel] = []
        if waits and self.chans is not None:
            channels = self.chans.read(waits, heap, lambda: {a: g for g, a in gaddr.items()})
            for w, gr in zip(waits, waiters, strict=True):
                blocked = w.blocked()
                gr.waiting_on = blocked
                gr.blocked_on = blocked[0] if blocked and (len(blocked) == 1
                                                           or w.op == "select") else None
        self._fill_threads(threads)
        self._fill_labels(labelled)
        self._gaddr = gaddr
        self.system_goids = system
        return Snapshot(pid=self.pid, exe=self.exe, go_version=self.facts.go_version,
                        source="live", target_paused_ns=0, goroutines=out, channels=channels)

    def _stack_start(self, g: G) -> StackStart | None:
        if g.status in _PARKED and g.pc:
            return StackStart(g.pc, g.sp, g.bp, g.stack_lo, g.stack_hi)
        if g.status == SYSCALL and g.syscallpc and self._has_syscallbp:
            return StackStart(g.syscallpc, g.syscallsp, g.syscallbp, g.stack_lo, g.stack_hi)
        return None  # running: its registers are only readable after a stop

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
        and those gone since the last snapshot get an empty stack."""
        if not self._gaddr:
            self.snapshot()
        wanted = list(self._gaddr) if goids is None else goids
        known = [(g, self._gaddr[g]) for g in wanted if g in self._gaddr]
        buf, ok = self.mem.read_same_size([a for _, a in known], self.decoder.size)
        res: dict[int, list[Frame]] = {g: [] for g in wanted}
        todo: list[tuple[int, StackStart]] = []
        for (goid, addr), good, vals in zip(known, ok, self.decoder.struct.iter_unpack(buf),
                                            strict=True):
            if not good or not self.decoder.valid(vals, self._n_reasons):
                continue
            g = self.decoder.make(addr, vals)
            start = self._stack_start(g) if g.goid == goid and g.status not in DEAD else None
            if start is not None:
                todo.append((goid, start))
        walked = walk_many(self.mem, self.symbols, [s for _, s in todo], depth)
        for (goid, _), frames in zip(todo, walked, strict=True):
            res[goid] = frames
        return res

    def close(self) -> None:
        self._gaddr.clear()
        self._kinds.clear()
        self._parked.clear()
