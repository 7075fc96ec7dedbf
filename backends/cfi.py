"""Unwinding native frames with the call frame information of an ELF file.

C code built without frame pointers (-O2 -fomit-frame-pointer) can only be unwound
with CFI: `.eh_frame` (C, from gcc) and `.debug_frame` (Go writes one for every Go and
assembly function, crosscall2 included, but without rules for rbp: Go saves the
caller's rbp just below the return address, at CFA-16, whenever it has a frame).
Memory comes from any reader (Delve's ExamineMemory, /proc/<pid>/mem, a core file).
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import io
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from elftools.common.exceptions import DWARFError, ELFError
from elftools.dwarf.callframe import FDE, CallFrameInfo, CFARule, RegisterRule
from elftools.elf.elffile import ELFFile
from gotui.backends.cgostack import Mapping, RawFrame, library_for_pc, make_frame
from gotui.backends.model import Frame

RSP, RBP, RA = 7, 6, 16  # DWARF register numbers on amd64
ReadU64 = Callable[[int], int | None]


@dataclass(frozen=True)
class Rule:
    cfa_reg: int  # RSP or RBP
    cfa_offset: int
    rbp_offset: int | None  # rbp saved at CFA + this, None: rbp unchanged
    go: bool  # from .debug_frame (Go's own CFI)


class CfiTable:
    """Symbols and FDEs of one ELF file (addresses as linked; add the load bias).

    Nothing is decoded up front (measured on an 11 MB Go binary: pyelftools parses its
    10k .debug_frame entries in 2 s, its symbols in 0.6 s): symbols are unpacked with
    struct, .eh_frame is indexed through .eh_frame_hdr's sorted table, .debug_frame by
    a walk over its entry headers, and only the FDE covering a pc is parsed, once."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.symbols: dict[str, tuple[int, int]] = {}
        self._by_start: list[tuple[int, int, str]] = []
        # (start, entry offset, its CallFrameInfo, from Go's .debug_frame)
        self._index: list[tuple[int, int, CallFrameInfo, bool]] = []
        self._fdes: dict[tuple[int, bool], FDE | None] = {}
        with contextlib.suppress(OSError, ELFError, DWARFError, ValueError, KeyError,
                                 struct.error):
            with open(path, "rb") as fh:
                elf = ELFFile(fh)
                self._load_symbols(elf)
                self._load_cfi(elf)
        self._index.sort(key=lambda e: e[0])
        self._starts = [e[0] for e in self._index]

    def _load_symbols(self, elf: ELFFile) -> None:
        for name in (".dynsym", ".symtab"):  # stripped libraries keep .dynsym
            symtab = elf.get_section_by_name(name)
            if symtab is None:
                continue
            names = elf.get_section(symtab["sh_link"]).data()
            for name_off, info, _, shndx, value, size in struct.iter_unpack(
                    "<IBBHQQ", symtab.data()):
                if info & 0xF == 2 and value and shndx:  # STT_FUNC defined in this file
                    fname = names[name_off:names.find(b"\0", name_off)].decode(
                        errors="replace")
                    self.symbols[fname] = (value, value + size)
        self._by_start = sorted((lo, hi, n) for n, (lo, hi) in self.symbols.items())

    def _load_cfi(self, elf: ELFFile) -> None:
        eh, hdr = elf.get_section_by_name(".eh_frame"), elf.get_section_by_name(".eh_frame_hdr")
        df = elf.get_section_by_name(".debug_frame")
        if eh is None and df is None:
            return
        structs = elf.get_dwarf_info().structs
        if eh is not None and hdr is not None:
            info = CallFrameInfo(io.BytesIO(eh.data()), eh["sh_size"], eh["sh_addr"],
                                 structs, for_eh_frame=True)
            for lo, fde_addr in _eh_frame_hdr_table(hdr.data(), hdr["sh_addr"]):
                self._index.append((lo, fde_addr - eh["sh_addr"], info, False))
        if df is not None:
            data = df.data()  # decompressed by pyelftools (Go compresses its DWARF)
            info = CallFrameInfo(io.BytesIO(data), len(data), 0, structs)
            for lo, off in _debug_frame_fdes(data):
                self._index.append((lo, off, info, True))

    def _fde(self, i: int) -> FDE | None:
        _, off, info, go = self._index[i]
        if (off, go) not in self._fdes:
            try:
                entry = info._parse_entry_at(off)  # one entry, not the whole section
            except (DWARFError, ValueError, KeyError, struct.error):
                entry = None
            self._fdes[(off, go)] = entry if isinstance(entry, FDE) else None
        return self._fdes[(off, go)]

    def symbol_at(self, addr: int) -> tuple[str, int] | None:
        """(function name, offset) for a linked address, from the symbol tables."""
        i = bisect.bisect_right(self._by_start, (addr, 1 << 64, "")) - 1
        if i >= 0 and self._by_start[i][0] <= addr < max(self._by_start[i][1],
                                                          self._by_start[i][0] + 1):
            return self._by_start[i][2], addr - self._by_start[i][0]
        return None

    def rule(self, pc: int) -> Rule | None:
        # the FDEs starting at or before pc, nearest first (.eh_frame and .debug_frame
        # may both describe one function)
        i = bisect.bisect_right(self._starts, pc) - 1
        nearest = self._starts[i] if i >= 0 else -1
        while i >= 0 and self._starts[i] == nearest:
            fde = self._fde(i)
            if fde is not None and fde["initial_location"] <= pc < \
                    fde["initial_location"] + fde["address_range"]:
                return _rule_in(fde, pc, self._index[i][3])
            i -= 1
        return None


def _rule_in(fde: FDE, pc: int, go: bool) -> Rule | None:
    row = None
    for r in fde.get_decoded().table:
        if r["pc"] > pc:
            break
        row = r
    if row is None:
        return None
    cfa = row["cfa"]
    if not isinstance(cfa, CFARule) or cfa.reg not in (RSP, RBP) or cfa.expr:
        return None
    rbp_rule = row.get(RBP)
    rbp_off = None
    if isinstance(rbp_rule, RegisterRule) and rbp_rule.type == RegisterRule.OFFSET:
        rbp_off = rbp_rule.arg
    elif go and cfa.offset >= 16:
        rbp_off = -16
    return Rule(cfa.reg, cfa.offset, rbp_off, go)


def _eh_frame_hdr_table(data: bytes, hdr_addr: int) -> list[tuple[int, int]]:
    """(function start, FDE address) pairs of .eh_frame_hdr's binary-search table, in
    the encoding GNU ld and lld write (udata4 count, datarel|sdata4 table); [] else."""
    if len(data) < 12 or data[0] != 1 or data[2] != 0x03 or data[3] != 0x3B \
            or data[1] & 0x0F not in (0x03, 0x0B):
        return []
    (count,) = struct.unpack_from("<I", data, 8)
    if 12 + 8 * count > len(data):
        return []
    return [(hdr_addr + lo, hdr_addr + fde)
            for lo, fde in struct.iter_unpack("<ii", data[12:12 + 8 * count])]


def _debug_frame_fdes(data: bytes) -> list[tuple[int, int]]:
    """(start, offset) of every FDE in a 32-bit DWARF .debug_frame with 8-byte
    addresses (what Go writes), from the raw entry headers."""
    out = []
    pos = 0
    while pos + 24 <= len(data):
        length, cie_id = struct.unpack_from("<II", data, pos)
        if length in (0, 0xFFFFFFFF):
            break
        if cie_id != 0xFFFFFFFF:
            out.append((struct.unpack_from("<Q", data, pos + 8)[0], pos))
        pos += 4 + length
    return out


@functools.lru_cache(maxsize=8)
def table(path: str) -> CfiTable:
    return CfiTable(path)


@dataclass(frozen=True)
class NativeFrame:
    pc: int  # exact pc for the first frame, return address for the others
    sp: int


Locate = Callable[[int], tuple[CfiTable, int] | None]  # pc -> (table, load bias)


def unwind(read_u64: ReadU64, locate: Locate, pc: int, sp: int, bp: int,
           stop: Callable[[int], bool], depth: int = 32,
           exact_first: bool = True) -> list[NativeFrame]:
    """Frames from (pc, sp, bp) outwards, CFI rules only, until `stop(pc)` is true
    (that frame is included) or the CFI runs out. Return addresses are looked up at
    pc-1 (the call); `exact_first=False` when the first pc is a return address too."""
    out = [NativeFrame(pc, sp)]
    first = exact_first
    while len(out) < depth and not stop(pc):
        where = locate(pc)
        rule = where[0].rule((pc if first else pc - 1) - where[1]) if where else None
        if rule is None:
            break
        base = sp if rule.cfa_reg == RSP else bp
        cfa = base + rule.cfa_offset
        ret = read_u64(cfa - 8)
        if not ret or cfa <= sp:
            break
        if rule.rbp_offset is not None:
            saved = read_u64(cfa + rule.rbp_offset)
            if saved is None:
                break
            bp = saved
        pc, sp, first = ret, cfa, False
        out.append(NativeFrame(pc, sp))
    return out


ET_EXEC, ET_CORE = 2, 4


def elf_type(path: str) -> int:
    """e_type of an ELF file (ET_EXEC: linked at its final address), 0 if not ELF."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(18)
    except OSError:
        return 0
    if len(head) < 18 or head[:4] != b"\x7fELF":
        return 0
    return int.from_bytes(head[16:18], "little")


def locator(maps: Sequence[Mapping]) -> Locate:
    """pc -> (CFI table of the file mapped there, its load bias)."""
    files: dict[str, tuple[str, int]] = {}  # path -> (file to read, load bias)
    for m in maps:
        src = m.source or m.path
        files.setdefault(m.path, (src, 0 if elf_type(src) == ET_EXEC else m.start - m.offset))

    def locate(pc: int) -> tuple[CfiTable, int] | None:
        path = library_for_pc(maps, pc)
        if not path:
            return None
        src, bias = files[path]
        return table(src), bias

    return locate


def symbol(locate: Locate, pc: int, is_return: bool) -> tuple[str, int]:
    """(function, offset of pc in it) from the ELF symbol tables; ("", 0) if unknown.
    A return address is looked up at pc-1 (the call) but the offset is pc's."""
    where = locate(pc)
    if where is None:
        return "", 0
    sym = where[0].symbol_at(pc - (1 if is_return else 0) - where[1])
    return (sym[0], sym[1] + (1 if is_return else 0)) if sym else ("", 0)


def in_functions(locate: Locate, names: Sequence[str]) -> Callable[[int], bool]:
    """pc -> is it inside one of these functions (looked up in the pc's own file)?"""

    def inside(pc: int) -> bool:
        where = locate(pc)
        if where is None:
            return False
        tab, bias = where
        return any(lo + bias <= pc < hi + bias
                   for n in names if (r := tab.symbols.get(n)) for lo, hi in [r])

    return inside


def elf_frame(locate: Locate, maps: Sequence[Mapping], pc: int, is_return: bool) -> Frame:
    """A Frame named from the ELF symbol tables: C frames get `name+0xoff (library)`."""
    name, offset = symbol(locate, pc, is_return)
    return make_frame(RawFrame(pc=pc, function=name, library=library_for_pc(maps, pc),
                               offset=offset))
