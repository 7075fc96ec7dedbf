"""Decoding runtime.g records read from a running process, with sanity checks.

One precompiled struct.Struct per g layout turns one g's bytes into a tuple in one
call; GRows holds many decoded at once, one numpy column per field of G (but its
address), filled by one gather per field. The process keeps running while we read, so a
record can be torn (half old, half new): `valid` and `valid_rows` reject records
whose fields cannot belong together.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from gotui.backends.gobinary.binary import StructLayout
from gotui.backends.model import SCAN_BIT, STATUS_NAMES

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

_NUMPY = {"Q": "<u8", "I": "<u4", "q": "<i8", "B": "u1"}

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


def statuses(codes: frozenset[int] | set[int]) -> np.ndarray:
    """A table for `in_statuses`: whether each status word (scan bit masked) is one of
    `codes`."""
    table = np.zeros(16, dtype=bool)
    table[sorted(codes)] = True
    return table


def in_statuses(status: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Per status word (scan bit masked): whether it is one of the table's (a torn
    word, whatever it holds, is not)."""
    return table[np.minimum(status, len(table) - 1)]


KNOWN = statuses(set(STATUS_NAMES))
DEAD_ROWS = statuses(DEAD)
assert not KNOWN[-1]


# G's fields as read from the g (all but addr), in the order of _G_FIELDS
ROW_FIELDS = G._fields[1:]
assert len(ROW_FIELDS) == len(_G_FIELDS)
_COLUMN = {name: i for i, name in enumerate(ROW_FIELDS)}


class GRows:
    """Decoded g records: rows["goid"] is the goid of each (a uint64 column; a field
    the layout lacks is 0; "status" keeps the scan bit; "waitsince" is signed)."""

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray) -> None:
        self.data = data  # uint64, one row per field (ROW_FIELDS order), one column per g

    @staticmethod
    def zeros(n: int) -> GRows:
        return GRows(np.zeros((len(ROW_FIELDS), n), dtype=np.uint64))

    def __len__(self) -> int:
        return int(self.data.shape[1])

    def __getitem__(self, name: str) -> np.ndarray:
        col = self.data[_COLUMN[name]]
        return col.view(np.int64) if name == "waitsince" else col

    def take(self, at: np.ndarray | slice) -> GRows:
        return GRows(self.data[:, at])

    def put(self, at: np.ndarray, other: GRows) -> None:
        self.data[:, at] = other.data

    def differ(self, other: GRows) -> np.ndarray:
        """Per g: whether any field differs from `other`'s (as many g's)."""
        out = np.zeros(len(self), dtype=bool)
        for mine, theirs in zip(self.data, other.data, strict=True):
            out |= mine != theirs
        return out

    def gs(self, addrs: np.ndarray) -> Iterator[G]:
        """The G of each row (status without the scan bit), at these addresses."""
        cols = [self[name] for name in ROW_FIELDS]
        cols[_COLUMN["status"]] = cols[_COLUMN["status"]] & ~np.uint64(SCAN_BIT)
        return map(G._make, zip(addrs.tolist(), *(c.tolist() for c in cols), strict=True))


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
        # GRows columns: (row, offset in the g, numpy type) of the fields present
        self._gather: list[tuple[int, int, np.dtype]] = []
        for row, (name, code, _) in enumerate(_G_FIELDS):
            if name in layout.offsets:
                dt = np.dtype(_NUMPY[code])
                if layout.offsets[name] % dt.itemsize:  # Go aligns fields naturally
                    raise KeyError(f"runtime.g.{name} is not aligned")
                self._gather.append((row, layout.offsets[name], dt))

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

    def rows(self, recs: np.ndarray, out: GRows, at: slice) -> None:
        """Decodes records (the rows of `recs`, a uint8 array of shape (n, stride),
        stride a multiple of 8) into out's columns `at`: one strided copy per field."""
        for row, off, dt in self._gather:
            out.data[row, at] = recs[:, off:off + dt.itemsize].view(dt)[:, 0]

    def valid_rows(self, rows: GRows, n_reasons: int, max_goid: int = MAX_GOID) -> np.ndarray:
        """`valid` of many rows at once (a bool per row)."""
        st = rows["status"] & ~np.uint64(SCAN_BIT)
        lo, hi, sp, goid = rows["stack_lo"], rows["stack_hi"], rows["sp"], rows["goid"]
        ok = ((goid > 0) & (goid <= max_goid) & (lo > 0) & (lo < hi)
              & (hi - lo <= MAX_STACK) & ((st != WAITING) | ((lo <= sp) & (sp < hi))))
        if n_reasons:
            ok &= rows["waitreason"] < n_reasons
        return in_statuses(st, KNOWN) & (in_statuses(st, DEAD_ROWS) | ok)
