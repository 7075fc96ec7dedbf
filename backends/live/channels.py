"""Channels that goroutines block on: g.waiting -> sudog -> hchan, read while running.

A goroutine parked in chansend/chanrecv has one sudog; one parked in select has a
chain of them (sudog.waitlink), one per case. Since Go 1.26 sudog.c is a
maybeTraceableChan {vp, vu}: the pointer is in whichever word is non-zero. Every
sudog must point back at its g (sudog.g), else it was reused while we read it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from gotui.backends.gobinary.binary import StructLayout
from gotui.backends.live.memory import AddressRanges, ProcessMemory
from gotui.backends.model import BlockedOn, Channel

MAX_SELECT_CASES = 1024  # runtime limit is 65536 cases; deeper chains are torn
MAX_QUEUE_WALK = 4096  # sudogs followed per channel queue to place select waiters
MAX_CAP = 1 << 40

_U64 = struct.Struct("<Q")


def chan_op(wait_reason: str) -> str | None:
    """"send" / "recv" / "select" for a wait reason that parks on channel sudogs."""
    if "nil chan" in wait_reason or "no cases" in wait_reason:
        return None
    if "select" in wait_reason:
        return "select"
    if "chan receive" in wait_reason:
        return "recv"
    if "chan send" in wait_reason:
        return "send"
    return None


def _off(layouts: dict[str, StructLayout], struct_name: str, dotted: str) -> int:
    offs = layouts[struct_name].offsets
    if dotted in offs:
        return offs[dotted]
    outer, inner = dotted.split(".", 1)
    return offs[outer] + layouts["runtime.waitq"].offsets[inner]


@dataclass
class ChanWait:
    goid: int
    gaddr: int
    sudog: int
    op: str  # send | recv | select
    chans: list[int] = field(default_factory=list)

    def blocked(self) -> list[BlockedOn]:
        return [BlockedOn(f"{c:#x}", self.op) for c in self.chans]  # type: ignore[arg-type]


class ChannelReader:
    def __init__(self, mem: ProcessMemory, layouts: dict[str, StructLayout], go_minor: int,
                 type_name: Callable[[int], str]) -> None:
        self.mem = mem
        sg = layouts["runtime.sudog"].offsets
        self.sg_g, self.sg_c = sg["g"], sg["c"]
        self.sg_waitlink, self.sg_next = sg["waitlink"], sg["next"]
        self.sg_wrapped = go_minor >= 26  # c is {vp, vu}
        self.sg_size = max(self.sg_g, self.sg_waitlink, self.sg_next,
                           self.sg_c + (8 if self.sg_wrapped else 0)) + 8
        hc = layouts["runtime.hchan"].offsets
        self.hc_qcount, self.hc_dataqsiz = hc["qcount"], hc["dataqsiz"]
        self.hc_closed, self.hc_elemtype = hc["closed"], hc["elemtype"]
        self.hc_recvq = _off(layouts, "runtime.hchan", "recvq.first")
        self.hc_sendq = _off(layouts, "runtime.hchan", "sendq.first")
        self.hc_size = max(self.hc_qcount, self.hc_dataqsiz, self.hc_closed + 4,
                           self.hc_elemtype, self.hc_recvq, self.hc_sendq) + 8
        self.type_name = type_name
        self._type_cache: dict[int, str] = {}

    def _u64(self, data: bytes | bytearray, off: int) -> int:
        return _U64.unpack_from(data, off)[0]

    def _chan_of(self, data: bytes | bytearray, base: int) -> int:
        c = self._u64(data, base + self.sg_c)
        if c == 0 and self.sg_wrapped:
            c = self._u64(data, base + self.sg_c + 8)
        return c

    def read(self, waits: list[ChanWait], heap: AddressRanges,
             goids: Callable[[list[int]], dict[int, int]]) -> list[Channel]:
        """Fill each wait's `chans` and return the channels involved. `goids(addrs)`
        maps those of these g addresses that are goroutines' to their goids (asked
        only if a select waiter needs it)."""
        # 1. sudog chains, one batched read per select depth
        level = [(w, w.sudog) for w in waits if heap.contains(w.sudog, self.sg_size)]
        depth = 0
        while level and depth < MAX_SELECT_CASES:
            buf, ok = self.mem.read_same_size([a for _, a in level], self.sg_size)
            nxt = []
            for j, (w, _) in enumerate(level):
                base = j * self.sg_size
                if not ok[j] or self._u64(buf, base + self.sg_g) != w.gaddr:
                    w.chans.clear()  # torn or reused: report nothing rather than garbage
                    continue
                c = self._chan_of(buf, base)
                if heap.contains(c, self.hc_size):
                    w.chans.append(c)
                link = self._u64(buf, base + self.sg_waitlink)
                if w.op == "select" and link and heap.contains(link, self.sg_size):
                    nxt.append((w, link))
            level = nxt
            depth += 1

        # 2. the channels themselves
        addrs = sorted({c for w in waits for c in w.chans})
        buf, ok = self.mem.read_same_size(addrs, self.hc_size)
        chans: dict[int, Channel] = {}
        queues: dict[int, tuple[int, int]] = {}
        for j, a in enumerate(addrs):
            base = j * self.hc_size
            qcount = self._u64(buf, base + self.hc_qcount)
            cap = self._u64(buf, base + self.hc_dataqsiz)
            closed = struct.unpack_from("<I", buf, base + self.hc_closed)[0]
            if not ok[j] or qcount > cap or cap > MAX_CAP or closed > 1:
                continue
            elemtype = self._u64(buf, base + self.hc_elemtype)
            chans[a] = Channel(f"{a:#x}", self._elem_type(elemtype), qcount, cap, bool(closed))
            queues[a] = (self._u64(buf, base + self.hc_recvq), self._u64(buf, base + self.hc_sendq))

        # 3. which queue a select waiter sits in decides whether it sends or receives
        in_select = {c for w in waits if w.op == "select" for c in w.chans}
        direction = self._select_directions([a for a in chans if a in in_select],
                                            queues, heap, goids) if in_select else {}
        for w in waits:
            w.chans = [c for c in w.chans if c in chans]
            for c in w.chans:
                op = w.op if w.op != "select" else direction.get((c, w.goid), "")
                if op == "recv":
                    chans[c].receivers.append(w.goid)
                elif op == "send":
                    chans[c].senders.append(w.goid)
        for ch in chans.values():
            ch.receivers.sort()
            ch.senders.sort()
        return list(chans.values())

    def _select_directions(self, addrs: list[int], queues: dict[int, tuple[int, int]],
                           heap: AddressRanges, goids: Callable[[list[int]], dict[int, int]]
                           ) -> dict[tuple[int, int], str]:
        level = []
        for a in addrs:
            recv, send = queues[a]
            level += [(a, "recv", recv), (a, "send", send)]
        found: list[tuple[int, str, int]] = []  # (channel, op, g address of a waiter)
        hops = 0
        while level and hops < MAX_QUEUE_WALK:
            level = [x for x in level if heap.contains(x[2], self.sg_size)]
            buf, ok = self.mem.read_same_size([s for _, _, s in level], self.sg_size)
            nxt = []
            for j, (a, op, _) in enumerate(level):
                if not ok[j]:
                    continue
                base = j * self.sg_size
                found.append((a, op, self._u64(buf, base + self.sg_g)))
                nxt.append((a, op, self._u64(buf, base + self.sg_next)))
            level = nxt
            hops += 1
        goid_of = goids([g for _, _, g in found]) if found else {}
        res: dict[tuple[int, int], str] = {}
        for a, op, g in found:
            goid = goid_of.get(g)
            if goid is not None:
                res[(a, goid)] = op
        return res

    def _elem_type(self, addr: int) -> str:
        name = self._type_cache.get(addr)
        if name is None:
            try:
                name = self.type_name(addr)
            except Exception:  # unknown type data must not cost the snapshot
                name = ""
            self._type_cache[addr] = name
        return name

