"""Decoding runtime.g records read from a running process, with sanity checks.

One precompiled struct.Struct per g layout turns a g's bytes into a tuple in one
call. The process keeps running while we read, so a record can be torn (half old,
half new): `check` rejects records whose fields cannot belong together.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from gotui.backends.gobinary.binary import StructLayout
from gotui.backends.model import STATUS_NAMES

# (name in the layout, struct code); missing optional fields decode as 0
_G_FIELDS: list[tuple[str, str, bool]] = [
    ("stack.lo", "Q", True),
    ("stack.hi", "Q", True),
    ("m", "Q", True),
    ("sched.sp", "Q", True),
    ("sched.pc", "Q", True),
    ("sched.bp", "Q", True),
    ("syscallsp", "Q", False),
    ("syscallpc", "Q", False),
    ("syscallbp", "Q", False),
    ("atomicstatus", "I", True),
    ("goid", "Q", True),
    ("waitsince", "q", True),
    ("waitreason", "B", True),
    ("parentGoid", "Q", False),
    ("gopc", "Q", True),
    ("startpc", "Q", True),
    ("waiting", "Q", True),
    ("labels", "Q", False),
    ("lockedm", "Q", False),
    ("bubble", "Q", False),  # *synctestBubble (Go 1.25+), *synctestGroup (1.24)
]

DEAD = frozenset(k for k, v in STATUS_NAMES.items() if v == "dead")
RUNNING = 2
SYSCALL = 3
WAITING = 4
MAX_GOID = 1 << 48
MAX_STACK = 1 << 30


class G(NamedTuple):
    addr: int
    stack_lo: int
    stack_hi: int
    m: int
    sp: int
    pc: int
    bp: int
    syscallsp: int
    syscallpc: int
    syscallbp: int
    status: int  # scan bit masked
    goid: int
    waitsince: int
    waitreason: int
    parent_goid: int
    gopc: int
    startpc: int
    waiting: int
    labels: int
    lockedm: int
    bubble: int


class GDecoder:
    """Reads of `size` bytes at a g's address unpack with `struct` into a raw tuple;
    `i[name]` indexes it (-1: field absent in this Go version); `make` builds a G."""

    def __init__(self, layout: StructLayout) -> None:
        present = [(layout.offsets[n], n, c) for n, c, _ in _G_FIELDS
                   if n in layout.offsets]
        missing = [n for n, _, req in _G_FIELDS if req and n not in layout.offsets]
        if missing:
            raise KeyError(f"runtime.g layout lacks {', '.join(missing)}")
        present.sort()
        fmt = "<"
        pos = 0
        for off, _, code in present:
            fmt += "x" * (off - pos) + code
            pos = off + struct.calcsize("<" + code)
        self.struct = struct.Struct(fmt)
        self.size = self.struct.size  # bytes to read per g (a prefix of the g)
        order = {n: i for i, (_, n, _) in enumerate(present)}
        self.i = {n: order.get(n, -1) for n, _, _ in _G_FIELDS}
        self._index = list(self.i.values())
        self.status_off = layout.offsets["atomicstatus"]
        self.goid_off = layout.offsets["goid"]
        self._iv = tuple(self.i[n] for n in ("atomicstatus", "goid", "waitreason", "stack.lo",
                                             "stack.hi", "sched.sp"))

    def decode(self, addr: int, buf: bytes | bytearray | memoryview, off: int = 0) -> G:
        return self.make(addr, self.struct.unpack_from(buf, off))

    def make(self, addr: int, vals: tuple[int, ...]) -> G:
        v = [vals[i] if i >= 0 else 0 for i in self._index]
        v[9] &= ~0x1000  # atomicstatus scan bit
        return G(addr, *v)

    def valid(self, vals: tuple[int, ...], n_reasons: int, max_goid: int = MAX_GOID) -> bool:
        """True if a raw g record is self-consistent (see module doc); dead g's are
        valid whatever their other fields hold. `max_goid`: the runtime's goid
        generator, read after the record (goids only grow)."""
        ist, igoid, iwr, ilo, ihi, isp = self._iv
        st = vals[ist] & ~0x1000
        if st not in STATUS_NAMES:
            return False
        if st in DEAD:
            return True
        lo, hi, sp = vals[ilo], vals[ihi], vals[isp]
        return (0 < vals[igoid] <= max_goid
                and (not n_reasons or vals[iwr] < n_reasons)
                and 0 < lo < hi and hi - lo <= MAX_STACK
                and (st != WAITING or lo <= sp < hi))
