"""What the eBPF backend needs to know about a Go binary: symbols, code bytes, g/m/sudog
field offsets, function parameters with their DWARF types, pc -> function:file:line.

Reads the ELF with pyelftools. When the live reader's BinaryFacts works (stripped
binaries: symbols from pclntab, offsets from a version table), symbols, offsets and
pc lookups come from it instead; DWARF is then needed only for conditional tracepoints.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from elftools.dwarf.die import DIE
from elftools.elf.elffile import ELFFile
from gotui.backends.gobinary.buildinfo import go_version_of_file
from gotui.backends.model import GotuiError, Location

# The g/m/sudog fields the BPF programs read, as (struct, dotted field) pairs.
G_FIELDS = ("goid", "parentGoid", "gopc", "startpc", "waitreason", "waiting", "m")
M_FIELDS = ("curg",)
SUDOG_FIELDS = ("c",)

DW_AT_GO_KIND = 0x2900


@dataclass(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int


@dataclass
class Offsets:
    """Byte offsets of runtime struct fields (missing key: the field does not exist in
    this Go version, e.g. g.parentGoid before 1.21)."""

    g: dict[str, int] = field(default_factory=dict)
    m: dict[str, int] = field(default_factory=dict)
    sudog: dict[str, int] = field(default_factory=dict)
    source: str = "dwarf"


def _facts(path: str) -> Any | None:
    """The live reader's BinaryFacts for `path`, or None while it is not usable."""
    try:
        from gotui.backends.gobinary.binary import BinaryFacts

        return BinaryFacts.load(path)
    except Exception:
        return None


class GoBinary:
    """One Go executable on disk. Load with GoBinary.load(path) (cached per file)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 - kept open for lazy DWARF reads
        try:
            self.elf = ELFFile(self._file)
        except Exception as e:
            raise GotuiError(f"{path}: not an ELF executable ({e})") from e
        if self.elf.get_machine_arch() != "x64":
            raise GotuiError(f"{path}: eBPF tracing supports amd64 Go binaries only")
        self.facts = _facts(path)
        self._segments = [
            (s["p_vaddr"], s["p_filesz"], s["p_offset"])
            for s in self.elf.iter_segments()
            if s["p_type"] == "PT_LOAD"
        ]
        self.symbols: dict[str, Symbol] = {}
        self.objects: dict[str, Symbol] = {}
        symtab = self.elf.get_section_by_name(".symtab")
        if symtab is not None:
            for s in symtab.iter_symbols():
                kind = s["st_info"]["type"]
                if kind == "STT_FUNC" and s["st_value"]:
                    self.symbols.setdefault(s.name, Symbol(s.name, s["st_value"], s["st_size"]))
                elif kind == "STT_OBJECT" and s["st_value"]:
                    self.objects.setdefault(s.name, Symbol(s.name, s["st_value"], s["st_size"]))
        self._by_addr = sorted(self.symbols.values(), key=lambda s: s.addr)
        self._addrs = [s.addr for s in self._by_addr]
        self.has_dwarf = self.elf.get_section_by_name(".debug_info") is not None
        self.go_version = self._go_version()
        self._dwarf_index: tuple[dict[str, DIE], dict[str, DIE]] | None = None
        self._cu_ranges: list[tuple[int, int, Any]] | None = None
        self._line_tables: dict[int, tuple[list[int], list[tuple[str, int]]]] = {}

    @staticmethod
    @lru_cache(maxsize=16)
    def _cached(path: str, file: tuple[int, int, float]) -> GoBinary:
        return GoBinary(path)

    @classmethod
    def load(cls, path: str) -> GoBinary:
        """Cached per file (device, inode, mtime). `path` is opened as given: a
        /proc/<pid>/exe link opens the running image even if its file was deleted."""
        try:
            st = os.stat(path)
        except FileNotFoundError as e:
            raise GotuiError(f"{path}: no such file") from e
        return cls._cached(path, (st.st_dev, st.st_ino, st.st_mtime))

    @property
    def stripped(self) -> bool:
        return not self.symbols

    @property
    def go_minor(self) -> int:
        parts = self.go_version.removeprefix("go").split(".")
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    # ------------------------------------------------------------------ symbols
    def symbol(self, name: str) -> int | None:
        sym = self.symbols.get(name)
        if sym is not None:
            return sym.addr
        if self.facts is not None:
            with contextlib.suppress(Exception):
                return self.facts.symbol(name)
        return None

    def func_at(self, pc: int) -> Symbol | None:
        if self._by_addr:
            i = bisect.bisect_right(self._addrs, pc) - 1
            if i >= 0 and self._by_addr[i].addr <= pc < self._by_addr[i].addr + max(
                self._by_addr[i].size, 1
            ):
                return self._by_addr[i]
            return None
        if self.facts is not None:
            with contextlib.suppress(Exception):
                fi = self.facts.func_at(pc)
                if fi is not None:
                    return Symbol(fi.name, fi.entry, fi.end - fi.entry)
        return None

    def func_bytes(self, sym: Symbol) -> bytes:
        return self.read(sym.addr, sym.size)

    def read(self, vaddr: int, size: int) -> bytes:
        for start, filesz, offset in self._segments:
            if start <= vaddr and vaddr + size <= start + filesz:
                self._file.seek(offset + vaddr - start)
                return self._file.read(size)
        raise GotuiError(f"address {vaddr:#x} is not in a loaded segment of {self.path}")

    def call_sites(self, target: str, callers: tuple[str, ...]) -> list[int]:
        """Return addresses of the instructions right after each `CALL target` in the
        named caller functions: a uprobe there sees the callee's results in RAX..."""
        dest = self.symbol(target)
        if dest is None:
            return []
        out = []
        for name in callers:
            sym = self.symbols.get(name) or self._facts_symbol(name)
            if sym is None:
                continue
            out += [sym.addr + off for off in _calls_to(self.func_bytes(sym), sym.addr, dest)]
        return out

    def _facts_symbol(self, name: str) -> Symbol | None:
        addr = self.symbol(name)
        return self.func_at(addr) if addr is not None else None

    def wait_reasons(self) -> list[str]:
        """runtime.waitReasonStrings read from the binary (the enum is renumbered
        across Go versions), index = raw g.waitreason."""
        if self.facts is not None and getattr(self.facts, "wait_reasons", None):
            return list(self.facts.wait_reasons)
        sym = self.objects.get("runtime.waitReasonStrings")
        if sym is None:
            return []
        raw = self.read(sym.addr, sym.size)
        out = []
        for i in range(0, len(raw) - 15, 16):
            ptr, n = struct.unpack_from("<QQ", raw, i)
            try:
                out.append(self.read(ptr, n).decode(errors="replace") if n else "")
            except GotuiError:
                out.append("")
        return out

    # ------------------------------------------------------------------ version
    def _go_version(self) -> str:
        if self.facts is not None and getattr(self.facts, "go_version", ""):
            return str(self.facts.go_version)
        return go_version_of_file(self.path)

    # ------------------------------------------------------------------ DWARF
    def _index(self) -> tuple[dict[str, DIE], dict[str, DIE]]:
        """(structure types by name, subprograms by name), one pass over the CUs."""
        if self._dwarf_index is None:
            structs: dict[str, DIE] = {}
            funcs: dict[str, DIE] = {}
            if self.has_dwarf:
                for cu in self.elf.get_dwarf_info().iter_CUs():
                    for die in cu.get_top_DIE().iter_children():
                        name_attr = die.attributes.get("DW_AT_name")
                        if name_attr is None:
                            continue
                        name = name_attr.value.decode(errors="replace")
                        if die.tag == "DW_TAG_structure_type":
                            structs.setdefault(name, die)
                        elif die.tag == "DW_TAG_subprogram":
                            funcs.setdefault(name, die)
            self._dwarf_index = (structs, funcs)
        return self._dwarf_index

    def function_die(self, name: str) -> DIE | None:
        return self._index()[1].get(name)

    def is_trampoline(self, name: str) -> bool:
        if ".gowrap" in name or "·dwrap·" in name:
            return True
        die = self.function_die(name) if self.has_dwarf else None
        return bool(die is not None and die.attributes.get("DW_AT_trampoline"))

    def offsets(self) -> Offsets:
        if self.has_dwarf:
            structs = self._index()[0]
            if "runtime.g" in structs:
                return Offsets(
                    g=_member_offsets(structs["runtime.g"], G_FIELDS),
                    m=_member_offsets(structs["runtime.m"], M_FIELDS),
                    sudog=_member_offsets(structs["runtime.sudog"], SUDOG_FIELDS),
                )
        if self.facts is not None:
            with contextlib.suppress(Exception):
                lay = self.facts.layouts
                g, m, sg = lay["runtime.g"].offsets, lay["runtime.m"].offsets, lay[
                    "runtime.sudog"
                ].offsets
                return Offsets(
                    g={k: g[k] for k in G_FIELDS if k in g},
                    m={k: m[k] for k in M_FIELDS if k in m},
                    sudog={k: sg[k] for k in SUDOG_FIELDS if k in sg},
                    source=lay["runtime.g"].source,
                )
        raise GotuiError(
            f"{self.path}: no DWARF and no offsets table for {self.go_version or 'this Go version'}: "
            "cannot locate goroutine fields"
        )

    # ------------------------------------------------------------------ pc -> line
    def location(self, pc: int) -> Location:
        if not pc:
            return Location()
        if self.facts is not None:
            with contextlib.suppress(Exception):
                pi = self.facts.pc_info(pc)
                if pi is not None:
                    return Location(pi.function, pi.file, pi.line, pc)
        sym = self.func_at(pc)
        file, line = self._dwarf_line(pc)
        return Location(sym.name if sym else "", file, line, pc)

    def start_location(self, startpc: int) -> Location:
        """Where a goroutine starts, as Delve reports it: for the `go f(x)` wrapper
        (a DWARF trampoline / gowrap), the first non-runtime function it calls."""
        sym = self.func_at(startpc)
        if sym is not None and self.is_trampoline(sym.name):
            for _off, dest in _call_targets(self.func_bytes(sym), sym.addr):
                target = self.func_at(dest)
                if target is not None and target.addr == dest and not target.name.startswith(
                    "runtime."
                ):
                    return self.location(dest)
        return self.location(startpc)

    def _dwarf_line(self, pc: int) -> tuple[str, int]:
        if not self.has_dwarf:
            return "", 0
        if self._cu_ranges is None:
            self._cu_ranges = _cu_ranges(self.elf)
        for lo, hi, cu in self._cu_ranges:
            if lo <= pc < hi:
                addrs, rows = self._line_table(cu)
                i = bisect.bisect_right(addrs, pc) - 1
                return rows[i] if i >= 0 else ("", 0)
        return "", 0

    def _line_table(self, cu: Any) -> tuple[list[int], list[tuple[str, int]]]:
        key = cu.cu_offset
        if key not in self._line_tables:
            dwarf = self.elf.get_dwarf_info()
            lp = dwarf.line_program_for_CU(cu)
            entries = []
            if lp is not None:
                files = lp["file_entry"]
                dirs = lp["include_directory"]
                for e in lp.get_entries():
                    st = e.state
                    if st is None or st.end_sequence:
                        continue
                    fe = files[st.file - 1] if 0 < st.file <= len(files) else None
                    name = fe.name.decode(errors="replace") if fe else ""
                    if fe is not None and fe.dir_index and fe.dir_index <= len(dirs):
                        name = dirs[fe.dir_index - 1].decode(errors="replace") + "/" + name
                    entries.append((st.address, name, st.line))
            entries.sort(key=lambda r: r[0])
            self._line_tables[key] = ([a for a, _, _ in entries], [(f, ln) for _, f, ln in entries])
        return self._line_tables[key]


def _member_offsets(die: DIE, wanted: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in die.iter_children():
        if m.tag != "DW_TAG_member" or "DW_AT_name" not in m.attributes:
            continue
        name = m.attributes["DW_AT_name"].value.decode()
        if name not in wanted:
            continue
        off = m.attributes["DW_AT_data_member_location"].value
        mtype = m.get_DIE_from_attribute("DW_AT_type")
        if mtype.tag == "DW_TAG_structure_type":
            # Go >= 1.26 wraps some pointers (sudog.c) in a one-field struct.
            first = next((c for c in mtype.iter_children() if c.tag == "DW_TAG_member"), None)
            if first is not None:
                off += first.attributes["DW_AT_data_member_location"].value
        out[name] = off
    return out


def _cu_ranges(elf: ELFFile) -> list[tuple[int, int, Any]]:
    dwarf = elf.get_dwarf_info()
    out = []
    range_lists = dwarf.range_lists()
    for cu in dwarf.iter_CUs():
        top = cu.get_top_DIE()
        attrs = top.attributes
        if "DW_AT_ranges" in attrs and range_lists is not None:
            base = attrs["DW_AT_low_pc"].value if "DW_AT_low_pc" in attrs else 0
            for r in range_lists.get_range_list_at_offset(attrs["DW_AT_ranges"].value):
                if hasattr(r, "begin_offset"):
                    out.append((base + r.begin_offset, base + r.end_offset, cu))
        elif "DW_AT_low_pc" in attrs and "DW_AT_high_pc" in attrs:
            lo, hi = attrs["DW_AT_low_pc"].value, attrs["DW_AT_high_pc"].value
            if attrs["DW_AT_high_pc"].form != "DW_FORM_addr":
                hi += lo
            out.append((lo, hi, cu))
    return out


def _call_targets(code: bytes, base: int) -> list[tuple[int, int]]:
    """(offset, destination) of every E8 rel32 byte pattern in `code`. Not a
    disassembler: callers only trust a hit whose destination is an exact function
    entry, which a stray E8 byte inside another instruction practically never gives."""
    out = []
    pos = code.find(b"\xe8")
    while 0 <= pos <= len(code) - 5:
        rel = struct.unpack_from("<i", code, pos + 1)[0]
        out.append((pos, base + pos + 5 + rel))
        pos = code.find(b"\xe8", pos + 1)
    return out


def _calls_to(code: bytes, base: int, dest: int) -> list[int]:
    """Offsets just past each CALL rel32 to `dest` (the call's return address)."""
    return [off + 5 for off, d in _call_targets(code, base) if d == dest]
