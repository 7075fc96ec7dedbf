"""The Go function table (`.gopclntab`), Go 1.18+ layouts (magic 0xfffffff0 for 1.18-1.19,
0xfffffff1 for 1.20+); present even in `-ldflags=-s -w` binaries.

Layout (runtime/symtab.go pcHeader, debug/gosym): a header of pointer-sized offsets to
funcnametab, cutab, filetab, pctab and the pclntable, whose start is the functab:
nfunc+1 pairs (entryoff, funcoff) of uint32 sorted by entry. Each _func record holds the
name offset and offsets of the pcfile/pcln pc-value tables in pctab.

Entry offsets are relative to the module's text start: the header's textStart field up to
Go 1.25; Go 1.26 stopped storing it (it needed a relocation), so the caller passes
moduledata.text (or runtime.text) instead.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

MAGIC_118 = 0xFFFFFFF0
MAGIC_120 = 0xFFFFFFF1
_NO_FILE = 0xFFFFFFFF
PCDATA_INL_TREE_INDEX = 2
FUNCDATA_INL_TREE = 3


class InlinedCall(NamedTuple):
    name: str
    call_pc: int  # pc of the call site in the next outer function
    func_id: int  # abi.FuncID of the inlined function


@dataclass(frozen=True)
class PclnHeader:
    magic: int
    nfunc: int
    text_start: int  # 0 when not stored (Go >= 1.26)


def parse_header(data: bytes) -> PclnHeader | None:
    if len(data) < 72:
        return None
    magic, pad1, pad2, min_lc, ptr_size = struct.unpack_from("<IBBBB", data, 0)
    if magic not in (MAGIC_118, MAGIC_120) or pad1 or pad2 or min_lc != 1 or ptr_size != 8:
        return None
    nfunc, _nfiles, text_start = struct.unpack_from("<qQQ", data, 8)
    return PclnHeader(magic, nfunc, text_start)


class Pclntab:
    """Function lookup and pc -> file:line for one module. Read-only after construction."""

    def __init__(self, data: bytes, text_start: int) -> None:
        hdr = parse_header(data)
        if hdr is None:
            raise ValueError("not a Go 1.18+ pclntab")
        self.data = data
        self.magic = hdr.magic
        self.nfunc = hdr.nfunc
        self.text_start = text_start
        (self._funcname, self._cutab, self._filetab, self._pctab,
         self._pcln) = struct.unpack_from("<5Q", data, 32)
        end = self._pcln + (self.nfunc + 1) * 8
        if self.nfunc <= 0 or end > len(data):
            raise ValueError("pclntab function table out of bounds")
        ftab = memoryview(data)[self._pcln:end].cast("I")
        self._entryoffs: list[int] = ftab[0::2].tolist()
        self._funcoffs: list[int] = ftab[1::2].tolist()
        self._names: dict[int, str] = {}

    def find(self, pc: int) -> int | None:
        """Index of the function containing pc, or None."""
        off = pc - self.text_start
        if off < self._entryoffs[0] or off >= self._entryoffs[-1]:
            return None
        return bisect.bisect_right(self._entryoffs, off, 0, self.nfunc) - 1

    def entry(self, i: int) -> int:
        return self.text_start + self._entryoffs[i]

    def end(self, i: int) -> int:
        return self.text_start + self._entryoffs[i + 1]

    def name(self, i: int) -> str:
        name = self._names.get(i)
        if name is None:
            name_off = struct.unpack_from("<i", self.data, self._funcrec(i) + 4)[0]
            name = self._cstring(self._funcname + name_off)
            self._names[i] = name
        return name

    def func_id(self, i: int) -> int:
        """The _func.funcID byte (abi.FuncID: wrapper, goexit, ...; numbering varies)."""
        return self.data[self._funcrec(i) + (40 if self.magic == MAGIC_120 else 36)]

    def inline_chain(self, i: int, pc: int, gofunc: int,
                     read: Callable[[int, int], bytes | None]) -> list[InlinedCall]:
        """Functions inlined at pc, innermost first, with the pc of their call site in
        the next outer function; [] when pc is not in inlined code. The inline tree is
        funcdata in go:func.* (at gofunc + offset): 16-byte runtime.inlinedCall records
        since Go 1.20 (funcID first), 20-byte ones in 1.18-1.19 (funcID at 2)."""
        tree_off = self._funcdata_offset(i, FUNCDATA_INL_TREE)
        if tree_off is None or not gofunc:
            return []
        entry = self.entry(i)
        new = self.magic == MAGIC_120
        size, name_at, parent_pc_at, id_at = (16, 4, 8, 0) if new else (20, 12, 16, 2)
        out: list[InlinedCall] = []
        while len(out) < 64:  # inlining depth is bounded; guards corrupt tables
            ix = self._pcdata_value(i, PCDATA_INL_TREE_INDEX, pc)
            if ix is None or ix < 0:
                break
            rec = read(gofunc + tree_off + ix * size, size)
            if rec is None:
                break
            name_off = struct.unpack_from("<i", rec, name_at)[0]
            pc = entry + struct.unpack_from("<i", rec, parent_pc_at)[0]
            out.append(InlinedCall(self._cstring(self._funcname + name_off), pc, rec[id_at]))
        return out

    def pcdata_runs(self, i: int, table: int) -> list[tuple[int, int, int]]:
        """(start, end, value) runs of pc-value table `table` over function i, in pc
        order ([] when the function has no such table)."""
        rec = self._funcrec(i)
        if table >= struct.unpack_from("<I", self.data, rec + 28)[0]:
            return []
        off = struct.unpack_from("<I", self.data, rec + self._fixed_size() + 4 * table)[0]
        if off == 0:
            return []
        data, pos = self.data, self._pctab + off
        val, pc, first = -1, self.entry(i), True
        out: list[tuple[int, int, int]] = []
        while True:
            uv, pos = uvarint(data, pos)
            if uv == 0 and not first:
                return out
            first = False
            val += -((uv >> 1) + 1) if uv & 1 else uv >> 1
            delta, pos = uvarint(data, pos)
            out.append((pc, pc + delta, val))
            pc += delta

    def inline_record(self, i: int, ix: int, gofunc: int,
                      read: Callable[[int, int], bytes | None]) -> tuple[int, int] | None:
        """(name offset in funcnametab, parent pc) of inline tree entry ix of function
        i: the function inlined there, and the pc of its call site in the next outer
        function. Name offsets are shared by equal names (the linker dedups them)."""
        tree_off = self._funcdata_offset(i, FUNCDATA_INL_TREE)
        if tree_off is None or not gofunc or ix < 0:
            return None
        new = self.magic == MAGIC_120
        size, name_at, parent_pc_at = (16, 4, 8) if new else (20, 12, 16)
        rec = read(gofunc + tree_off + ix * size, size)
        if rec is None or len(rec) < size:
            return None
        return (struct.unpack_from("<i", rec, name_at)[0],
                self.entry(i) + struct.unpack_from("<i", rec, parent_pc_at)[0])

    def name_at(self, name_off: int) -> str:
        """A function name by its offset in funcnametab."""
        return self._cstring(self._funcname + name_off)

    def pcdata_value(self, i: int, table: int, pc: int) -> int | None:
        return self._pcdata_value(i, table, pc)

    def sp_delta(self, i: int, pc: int) -> int | None:
        """How far function i has moved SP below its entry SP at pc (pcsp table): its
        frame size there, the return address not counted."""
        off = struct.unpack_from("<I", self.data, self._funcrec(i) + 16)[0]
        return self._pcvalue(off, self.entry(i), pc)

    def _fixed_size(self) -> int:
        return 44 if self.magic == MAGIC_120 else 40  # _func without its pcdata/funcdata

    def _pcdata_value(self, i: int, table: int, pc: int) -> int | None:
        rec = self._funcrec(i)
        if table >= struct.unpack_from("<I", self.data, rec + 28)[0]:
            return None
        off = struct.unpack_from("<I", self.data, rec + self._fixed_size() + 4 * table)[0]
        return self._pcvalue(off, self.entry(i), pc)

    def _funcdata_offset(self, i: int, index: int) -> int | None:
        rec = self._funcrec(i)
        npcdata = struct.unpack_from("<I", self.data, rec + 28)[0]
        nfuncdata = self.data[rec + self._fixed_size() - 1]
        if index >= nfuncdata:
            return None
        off = struct.unpack_from("<I", self.data, rec + self._fixed_size() + 4 * (npcdata + index))[0]
        return None if off == 0xFFFFFFFF else off

    def functions(self) -> list[tuple[str, int, int]]:
        """(name, entry, end) of every function, in address order."""
        return [(self.name(i), self.entry(i), self.end(i)) for i in range(self.nfunc)]

    def file_line(self, i: int, pc: int) -> tuple[str, int]:
        """Source file and line of pc inside function i ("?", 0 if unknown)."""
        rec = self._funcrec(i)
        pcfile, pcln, _npcdata, cu_off = struct.unpack_from("<IIII", self.data, rec + 20)
        entry = self.entry(i)
        fileno = self._pcvalue(pcfile, entry, pc)
        line = self._pcvalue(pcln, entry, pc)
        file = "?"
        if fileno is not None and fileno >= 0:
            pos = self._cutab + (cu_off + fileno) * 4
            if pos + 4 <= len(self.data):
                name_off = struct.unpack_from("<I", self.data, pos)[0]
                if name_off != _NO_FILE:
                    file = self._cstring(self._filetab + name_off)
        return file, line if line is not None and line > 0 else 0

    def _funcrec(self, i: int) -> int:
        return self._pcln + self._funcoffs[i]

    def _cstring(self, pos: int) -> str:
        end = self.data.find(b"\0", pos)
        return self.data[pos:end].decode("utf-8", "replace")

    def _pcvalue(self, off: int, entry: int, target: int) -> int | None:
        """Walk a pc-value table (zig-zag value deltas, pc deltas) to the value at target."""
        if off == 0:
            return None
        data, pos = self.data, self._pctab + off
        val, pc, first = -1, entry, True
        while True:
            uv, pos = uvarint(data, pos)
            if uv == 0 and not first:
                return None
            first = False
            val += -((uv >> 1) + 1) if uv & 1 else uv >> 1
            delta, pos = uvarint(data, pos)
            pc += delta  # minLC is 1 on amd64
            if target < pc:
                return val


def uvarint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 varint at pos; return (value, position after it)."""
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    value, shift = b & 0x7F, 7
    while True:
        pos += 1
        b = data[pos]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos + 1
        shift += 7
