"""Facts read from a Go binary (ELF): version, symbols, pc->file:line, struct layouts.

This is the interface the live reader codes against. Everything here is read from
the file on disk (never from process memory); DWARF layouts are cached per build id.
Addresses are link-time addresses: for PIE binaries add the load bias (see load_base).

Where each fact comes from (amd64, Go 1.18+ binaries; tested 1.19-1.27):
- version/modinfo: .go.buildinfo (or a scan for its magic); build ids: ELF notes.
- functions, pc -> file:line, inlined frames: .gopclntab (kept by `-ldflags=-s -w`).
- data symbols: .symtab; without it runtime.firstmoduledata by pointer search, and
  runtime.allgs/allgptr/allglen/waitReasonStrings from runtime code (runtime_vars.py).
  Other data symbols are not available in stripped binaries (require_symbol raises).
- struct layouts: DWARF (dwarf_layouts.py), else the per-version table (layout_table.py).
- wait reason strings: the runtime.waitReasonStrings array in the file ([] if not found).
"""

from __future__ import annotations

import bisect
import re
import struct
from collections.abc import Callable

from gotui.backends.gobinary import runtime_vars
from gotui.backends.gobinary.binary_types import FuncInfo, Layouts, PCInfo, StructLayout
from gotui.backends.gobinary.buildinfo import BuildInfo, build_id, go_build_id, read_buildinfo
from gotui.backends.gobinary.dwarf_layouts import cached_layouts_from_dwarf
from gotui.backends.gobinary.elffile import STT_FUNC, ElfFile, ElfSymbol
from gotui.backends.gobinary.layout_table import table_layouts
from gotui.backends.gobinary.moduledata import ModuleData, find_moduledata, read_type_name
from gotui.backends.gobinary.pclntab import MAGIC_118, MAGIC_120, Pclntab, parse_header
from gotui.backends.model import RUNTIME_PREFIXES, GotuiError

__all__ = ["BinaryFacts", "FuncInfo", "Layouts", "PCInfo", "StructLayout", "ReadMem"]

ReadMem = Callable[[int, int], "bytes | None"]  # (link-time address, size) -> bytes

# Globals located by code heuristics when .symtab is missing (see runtime_vars).
HEURISTIC_SYMBOLS = ("runtime.allgs", "runtime.allgptr", "runtime.allglen",
                     "runtime.waitReasonStrings", "runtime.semtable")
_MAX_WAIT_REASONS = 128
_CLOSURE_RE = re.compile(r"\.func\d+(\.\d+)*$")
_FUNCID_WRAPPER_UNTIL_121 = 21  # funcID_wrapper in Go 1.18-1.21 (22 in 1.22-1.24, 23 since)


class BinaryFacts:
    """Open with BinaryFacts.load(path). Safe to share between threads once loaded: the
    only later writes are idempotent cache fills (pc -> PCInfo, type names)."""

    path: str
    build_id: str
    go_version: str  # e.g. "go1.26.8", from .go.buildinfo; "" if unknown
    go_minor: int  # 26 for go1.26.x, 0 if unknown
    pie: bool
    has_dwarf: bool
    stripped: bool  # no .symtab
    layouts: Layouts  # a dict; a missing key raises GotuiError. "runtime.g", "runtime.gobuf", "runtime.sudog",
    # "runtime.hchan", "runtime._type", "runtime.waitq", "runtime.m", "runtime.stack"
    wait_reasons: list[str]  # runtime.waitReasonStrings read from the binary, index=raw

    # Additions beyond the original skeleton:
    go_build_id: str  # `go tool buildid`; "" if absent (build_id prefers the GNU id)
    modinfo: str  # `go version -m` text (path/mod/dep/build lines)
    moduledata: ModuleData | None  # runtime.firstmoduledata: text, types, etypes
    symbol_sources: dict[str, str]  # data symbol -> "symtab" | "moduledata" | "heuristic"
    layout_source: str  # "dwarf", "table" or "none" (then layout() raises)

    def __init__(self, elf: ElfFile, info: BuildInfo, pcln: Pclntab, pcln_addr: int,
                 md: ModuleData | None, symbols: list[ElfSymbol]) -> None:
        self.elf = elf
        self.path = elf.path
        self.build_id = build_id(elf)
        self.go_build_id = go_build_id(elf)
        self.go_version = info.go_version
        self.go_minor = info.go_minor
        self.modinfo = info.modinfo
        self.pie = elf.pie
        self.has_dwarf = elf.section(".debug_info") is not None
        self.stripped = elf.section(".symtab") is None
        self.pcln = pcln
        self.pcln_addr = pcln_addr
        self.moduledata = md
        self._syms: dict[str, int] = {s.name: s.value for s in symbols}
        self._sym_sizes: dict[str, int] = {s.name: s.size for s in symbols}
        cfuncs = sorted((s.value, s.value + s.size, s.name) for s in symbols
                        if s.kind == STT_FUNC and s.size > 0
                        and (md is not None or pcln.find(s.value) is None))
        self._cfunc_starts = [c[0] for c in cfuncs]
        self._cfuncs = cfuncs
        self.symbol_sources = {n: "symtab" for n in HEURISTIC_SYMBOLS if n in self._syms}
        if md is not None and "runtime.firstmoduledata" not in self._syms:
            self._syms["runtime.firstmoduledata"] = md.addr
            self.symbol_sources["runtime.firstmoduledata"] = "moduledata"
        self._funcs_by_name: dict[str, int] | None = None
        self._pc_cache: dict[int, PCInfo | None] = {}
        self._type_names: dict[int, str] = {}
        self._starts: dict[int, FuncInfo] = {}
        self._frames_cache: dict[int, list[PCInfo]] = {}
        self._wait_count_hint = 0  # array length seen in waitReason.String's bounds check
        if self.stripped:
            for name, addr in self.heuristic_data_symbols().items():
                self._syms.setdefault(name, addr)
                self.symbol_sources.setdefault(name, "heuristic")
        self.layouts, self.layout_source = self._load_layouts()
        self.wait_reasons = self._read_wait_reasons()

    @classmethod
    def load(cls, path: str) -> BinaryFacts:
        """Read everything gotui needs from the binary at path; GotuiError (one line) if
        it is not a readable amd64 Go 1.18+ ELF binary."""
        try:
            return cls._load(path)
        except (struct.error, IndexError, ValueError, OverflowError) as e:
            raise GotuiError(f"{path} is truncated or corrupt ({type(e).__name__})") from None

    @classmethod
    def _load(cls, path: str) -> BinaryFacts:
        elf = ElfFile(path)
        info = read_buildinfo(elf)
        if info is None:
            raise GotuiError(f"{path} is not a Go binary (no Go build info)")
        if 0 < info.go_minor < 18:
            raise GotuiError(f"{path} was built with {info.go_version}; gotui needs Go 1.18+")
        pcln_addr, pcln_data = _find_pclntab(elf)
        if pcln_data is None:
            raise GotuiError(f"{path}: no Go function table (.gopclntab) found")
        hdr = parse_header(pcln_data)
        assert hdr is not None
        funcname_off = int.from_bytes(pcln_data[32:40], "little")
        md = find_moduledata(elf, pcln_addr, funcname_off, None, info.go_minor)
        symbols = elf.symbols(skip_funcs=(md.text, md.etext) if md else (0, 0))
        by_name = {s.name: s.value for s in symbols}
        if md is None and "runtime.firstmoduledata" in by_name:
            md = find_moduledata(elf, pcln_addr, funcname_off,
                                 by_name["runtime.firstmoduledata"], info.go_minor)
        text = md.text if md else (hdr.text_start or by_name.get("runtime.text"))
        if not text:
            sec = elf.section(".text")
            text = sec.addr if sec else 0
        return cls(elf, info, Pclntab(pcln_data, text), pcln_addr, md, symbols)

    @property
    def load_base(self) -> int:
        """Lowest link-time address of a loadable segment, page aligned: a PIE's load
        bias is the start of its first mapping (file offset 0) minus this."""
        return min((s.vaddr for s in self.elf.segments), default=0) & ~0xFFF

    # --- symbols -----------------------------------------------------------------------

    def symbol(self, name: str) -> int | None:
        """Link-time address of a data or function symbol (e.g. "runtime.allgs").
        Stripped binaries: functions from .gopclntab; runtime.firstmoduledata,
        runtime.allgs/allgptr/allglen, runtime.waitReasonStrings and runtime.semtable
        by heuristics."""
        addr = self._syms.get(name)
        if addr is not None:
            return addr
        return self._function_entries().get(name)

    def require_symbol(self, name: str) -> int:
        """symbol(), or a one-line GotuiError naming the symbol and the binary."""
        addr = self.symbol(name)
        if addr is None:
            why = " (binary is stripped)" if self.stripped else ""
            raise GotuiError(f"symbol {name} not found in {self.path}{why}")
        return addr

    def heuristic_data_symbols(self) -> dict[str, int]:
        """Runtime globals located from machine code, ignoring .symtab (for stripped
        binaries; exposed so tests can compare against .symtab on unstripped builds)."""
        out: dict[str, int] = {}
        md = self.moduledata
        if md is None:
            return out
        code = self._function_code("runtime.allgadd")
        if code is not None:
            out.update(runtime_vars.find_allg_vars(*code, md.bss, md.noptrbss))
        acquire = self._function_code("runtime.semacquire1")
        release = self._function_code("runtime.semrelease1")
        if acquire is not None and release is not None:
            sem = runtime_vars.find_semtable(acquire, release, md.bss)
            if sem is not None:
                out["runtime.semtable"] = sem
        code = self._function_code("runtime.waitReason.String")
        if code is not None:
            found = runtime_vars.find_wait_reason_strings(*code, md.data)
            if found is not None:
                out["runtime.waitReasonStrings"] = found[0]
                self._wait_count_hint = found[1]
        return out

    def _function_code(self, name: str) -> tuple[bytes, int] | None:
        entry = self._function_entries().get(name)
        if entry is None:
            return None
        fn = self.func_at(entry)
        code = self.elf.read(entry, fn.end - entry) if fn else None
        return (code, entry) if code else None

    def _function_entries(self) -> dict[str, int]:
        if self._funcs_by_name is None:
            self._funcs_by_name = {name: entry for name, entry, _ in self.pcln.functions()}
        return self._funcs_by_name

    def functions(self) -> list[FuncInfo]:
        """Every Go function in the pclntab, in address order."""
        return [FuncInfo(n, e, end) for n, e, end in self.pcln.functions()]

    def c_functions(self) -> list[FuncInfo]:
        """Functions from .symtab outside the Go text (C code of cgo binaries)."""
        return [FuncInfo(name, start, end) for start, end, name in self._cfuncs]

    # --- pc lookup ---------------------------------------------------------------------

    def func_at(self, pc: int) -> FuncInfo | None:
        """The function containing a link-time pc (from .gopclntab; C functions of cgo
        binaries from .symtab)."""
        i = self.pcln.find(pc)
        if i is not None:
            return FuncInfo(self.pcln.name(i), self.pcln.entry(i), self.pcln.end(i))
        j = bisect.bisect_right(self._cfunc_starts, pc) - 1
        if j >= 0 and self._cfuncs[j][0] <= pc < self._cfuncs[j][1]:
            start, end, name = self._cfuncs[j]
            return FuncInfo(name, start, end)
        return None

    def pc_info(self, pc: int) -> PCInfo | None:
        """function, file, line for a link-time pc (from .gopclntab); cached per pc.
        For a return address pass pc-1 to get the line of the call."""
        try:
            return self._pc_cache[pc]
        except KeyError:
            pass
        info: PCInfo | None = None
        i = self.pcln.find(pc)
        if i is not None:
            file, line = self.pcln.file_line(i, pc)
            info = PCInfo(self.pcln.name(i), file, line, self.pcln.entry(i))
        else:
            fn = self.func_at(pc)
            if fn is not None:
                info = PCInfo(fn.name, "?", 0, fn.entry)
        self._pc_cache[pc] = info
        return info

    def start_function(self, startpc: int) -> FuncInfo | None:
        """What a goroutine was started to run: for `go f(x)` the compiler starts the
        goroutine in a wrapper closure (main.main.gowrap1 since Go 1.22, main.main.func1
        flagged as a wrapper before); return f. Like Delve, f is the first non-runtime
        function the wrapper calls; unlike Delve, a call that was inlined into the wrapper
        (optimized builds) counts too, so `go sender(x)` gives main.sender, not the first
        call inside sender. f's entry/end are 0 if it only exists inlined."""
        fn = self.func_at(startpc)
        if fn is None:
            return None
        start = self._starts.get(fn.entry)
        if start is None:
            start = (self._wrapped_function(fn) if self._is_go_wrapper(fn) else None) or fn
            self._starts[fn.entry] = start
        return start

    def _wrapped_function(self, fn: FuncInfo) -> FuncInfo | None:
        i = self.pcln.find(fn.entry)
        code = self.elf.read(fn.entry, fn.end - fn.entry)
        if i is None or code is None:
            return None
        calls = runtime_vars.call_sites(code, fn.entry)
        for pc in range(fn.entry, fn.end):
            chain = self._inline_chain(i, pc)
            if chain and not chain[-1][0].startswith(RUNTIME_PREFIXES):
                return self._func_named(chain[-1][0])
            target = calls.get(pc)
            j = self.pcln.find(target) if target is not None else None
            if j is not None and self.pcln.entry(j) == target:
                name = self.pcln.name(j)
                if not name.startswith(RUNTIME_PREFIXES):
                    return FuncInfo(name, target, self.pcln.end(j))
        return None

    def _func_named(self, name: str) -> FuncInfo:
        entry = self._function_entries().get(name)
        fn = self.func_at(entry) if entry is not None else None
        return fn or FuncInfo(name, 0, 0)

    def _inline_chain(self, i: int, pc: int) -> list[tuple[str, int]]:
        if self.moduledata is None:
            return []
        return self.pcln.inline_chain(i, pc, self.moduledata.gofunc, self.elf.read)

    def pc_frames(self, pc: int) -> list[PCInfo]:
        """The logical frames at a pc, innermost first: more than one when pc is in code
        inlined into its function (optimized builds). The last one equals pc_info(pc)'s
        function; inlined frames carry the inlined function's entry (0 if it has no
        out-of-line copy). Cached per pc."""
        frames = self._frames_cache.get(pc)
        if frames is not None:
            return frames
        i = self.pcln.find(pc)
        outer = self.pc_info(pc)
        if outer is None:
            frames = []
        elif i is None:
            frames = [outer]
        else:
            frames = []
            at = pc
            for name, call_pc in self._inline_chain(i, pc):
                file, line = self.pcln.file_line(i, at)
                frames.append(PCInfo(name, file, line, self._func_named(name).entry))
                at = call_pc
            file, line = self.pcln.file_line(i, at)
            frames.append(PCInfo(outer.function, file, line, outer.entry))
        self._frames_cache[pc] = frames
        return frames

    def _is_go_wrapper(self, fn: FuncInfo) -> bool:
        if ".gowrap" in fn.name or "·dwrap·" in fn.name:
            return True
        if self.go_minor > 21 or not _CLOSURE_RE.search(fn.name):
            return False
        i = self.pcln.find(fn.entry)
        return i is not None and self.pcln.func_id(i) == _FUNCID_WRAPPER_UNTIL_121

    # --- layouts -----------------------------------------------------------------------

    def layout(self, name: str) -> StructLayout:
        """layouts[name], or a one-line GotuiError saying why it is unknown (indexing
        layouts directly raises the same error)."""
        return self.layouts[name]

    def _load_layouts(self) -> tuple[Layouts, str]:
        context = (f"{self.go_version or 'unknown Go'} binary {self.path} "
                   f"(no DWARF and no layout table row for this Go version)")
        table = table_layouts(self.go_minor)
        if self.has_dwarf:
            dwarf = cached_layouts_from_dwarf(self.elf, self.build_id)
            if dwarf:
                return Layouts({**table, **dwarf}, context), "dwarf"
        return Layouts(table, context), "table" if table else "none"

    # --- data read from the file -------------------------------------------------------

    def _read_wait_reasons(self) -> list[str]:
        addr = self._syms.get("runtime.waitReasonStrings")
        if addr is None:
            return []
        size = self._sym_sizes.get("runtime.waitReasonStrings")
        count = size // 16 if size else self._wait_count_hint
        out: list[str] = []
        for i in range(count or _MAX_WAIT_REASONS):
            s = self.read_go_string(addr + 16 * i)
            if s is None:
                if count:
                    return []  # a known-size array we cannot read: do not guess
                break
            out.append(s)
        return out

    def read_go_string(self, addr: int) -> str | None:
        """A Go string header (ptr, len) at a link-time address, read from the file."""
        raw_len = self.elf.read(addr + 8, 8)
        if raw_len is None:
            return None
        length = int.from_bytes(raw_len, "little")
        if length == 0:
            return ""
        ptr = self.elf.read_ptr(addr)
        if not ptr or length > 1 << 16:
            return None
        raw = self.elf.read(ptr, length)
        return raw.decode("utf-8", "replace") if raw is not None else None

    def type_name(self, type_addr: int, read_mem: object = None) -> str:
        """Name of a runtime._type at a link-time address (e.g. a chan's elemtype), read
        from the binary's type data. Types outside the file (made by reflect at run
        time) need read_mem(addr, size) -> bytes | None; "" when unknown."""
        cached = self._type_names.get(type_addr)
        if cached is not None:
            return cached
        lay = self.layouts.get("runtime._type")
        if self.moduledata is None or lay is None:
            return ""

        def read(addr: int, size: int) -> bytes | None:
            data = self.elf.read(addr, size)
            if data is None and callable(read_mem):
                data = read_mem(addr, size)
            return data

        name = read_type_name(read, self.moduledata, type_addr, lay.offsets["tflag"],
                              lay.offsets["str"])
        if name:
            self._type_names[type_addr] = name
        return name


def _find_pclntab(elf: ElfFile) -> tuple[int, bytes | None]:
    for sec in elf.sections:
        if sec.name.endswith("gopclntab"):
            data = elf.section_data(sec)
            if parse_header(data) is not None:
                return sec.addr, data
    # No section header: find the header magic in a loadable segment.
    for magic in (MAGIC_120, MAGIC_118):
        needle = magic.to_bytes(4, "little") + b"\0\0\x01\x08"
        pos = elf.data.find(needle)
        while pos >= 0:
            for seg in elf.segments:
                if seg.offset <= pos < seg.offset + seg.filesz and pos % 8 == 0:
                    data = elf.data[pos:seg.offset + seg.filesz]
                    if parse_header(data) is not None:
                        return seg.vaddr + pos - seg.offset, data
            pos = elf.data.find(needle, pos + 1)
    return 0, None
