"""A minimal, fast reader for 64-bit little-endian (amd64) ELF files.

Only what gotui needs from a Go binary: sections, loadable segments (to read bytes at
link-time addresses), notes (build ids), `.symtab`, and R_X86_64_RELATIVE relocations
(PIE binaries linked externally keep pointer values in relocation addends, not in place).
pyelftools is used only for DWARF; this parser is an order of magnitude faster at the rest.
"""

from __future__ import annotations

import bisect
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from gotui.backends.model import GotuiError

ET_DYN = 3
EM_X86_64 = 62
SHT_SYMTAB = 2
SHT_RELA = 4
SHT_NOBITS = 8
SHF_WRITE = 0x1
SHF_COMPRESSED = 0x800
ELFCOMPRESS_ZLIB = 1
PT_LOAD = 1
PF_W = 2
STT_OBJECT = 1
STT_FUNC = 2
R_X86_64_RELATIVE = 8


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int

    @property
    def end(self) -> int:
        return self.addr + self.size


@dataclass(frozen=True)
class Segment:
    vaddr: int
    offset: int
    filesz: int
    memsz: int
    flags: int  # PF_X 1, PF_W 2, PF_R 4


@dataclass(frozen=True)
class ElfSymbol:
    name: str
    value: int
    size: int
    kind: int  # STT_OBJECT, STT_FUNC, ...


class ElfFile:
    """The whole file in memory (a read of 10-20 MB costs a few ms) plus parsed headers."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.data = Path(path).read_bytes()
        except OSError as e:
            raise GotuiError(f"cannot read {path}: {e.strerror or e}") from None
        d = self.data
        if len(d) < 64 or d[:4] != b"\x7fELF":
            raise GotuiError(f"{path} is not an ELF file")
        if d[4] != 2 or d[5] != 1:
            raise GotuiError(f"{path} is not a 64-bit little-endian ELF file")
        e_type, e_machine = struct.unpack_from("<HH", d, 16)
        if e_machine != EM_X86_64:
            raise GotuiError(f"{path} is not an amd64 binary (ELF machine {e_machine})")
        self.pie = e_type == ET_DYN
        phoff, shoff = struct.unpack_from("<QQ", d, 0x20)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", d, 0x36)
        self.segments = self._parse_segments(phoff, phentsize, phnum)
        self.sections = self._parse_sections(shoff, shentsize, shnum, shstrndx)
        self._by_name = {s.name: s for s in self.sections}
        self._relative: tuple[list[int], list[int]] | None = None

    def _parse_segments(self, off: int, entsize: int, num: int) -> list[Segment]:
        segs = []
        for i in range(num):
            p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz = struct.unpack_from(
                "<IIQQQQQ", self.data, off + i * entsize)
            if p_type == PT_LOAD:
                segs.append(Segment(p_vaddr, p_offset, p_filesz, p_memsz, p_flags))
        return segs

    def _parse_sections(self, off: int, entsize: int, num: int, strndx: int) -> list[Section]:
        if off == 0 or num == 0 or off + num * entsize > len(self.data):
            return []  # section headers stripped (sstrip): segments still work
        raw = [struct.unpack_from("<IIQQQQI", self.data, off + i * entsize) for i in range(num)]
        str_off = raw[strndx][4] if strndx < num else 0
        out = []
        for name_off, sh_type, flags, addr, offset, size, link in raw:
            end = self.data.find(b"\0", str_off + name_off)
            name = self.data[str_off + name_off:end].decode("latin-1") if str_off else ""
            out.append(Section(name, sh_type, flags, addr, offset, size, link))
        return out

    def section(self, name: str) -> Section | None:
        return self._by_name.get(name)

    def section_data(self, sec: Section) -> bytes:
        if sec.type == SHT_NOBITS:
            return b""
        return self.data[sec.offset:sec.offset + sec.size]

    def section_bytes(self, name: str) -> bytes | None:
        """Contents of a section by name, decompressed if SHF_COMPRESSED (zlib: what the
        Go linker writes for DWARF). None if absent or compressed another way."""
        sec = self.section(name)
        if sec is None:
            return None
        data = self.section_data(sec)
        if not sec.flags & SHF_COMPRESSED:
            return data
        ch_type, _reserved, ch_size = struct.unpack_from("<IIQ", data, 0)
        if ch_type != ELFCOMPRESS_ZLIB:
            return None
        out = zlib.decompress(data[24:])
        return out if len(out) == ch_size else None

    def file_offset(self, addr: int) -> int | None:
        """File offset of a link-time address, None if not backed by file bytes."""
        for s in self.segments:
            if s.vaddr <= addr < s.vaddr + s.filesz:
                return s.offset + addr - s.vaddr
        return None

    def read(self, addr: int, size: int) -> bytes | None:
        """Bytes at a link-time address from the file; None if not (fully) file-backed."""
        off = self.file_offset(addr)
        if off is None or self.file_offset(addr + size - 1) is None:
            return None
        return self.data[off:off + size]

    def read_ptr(self, addr: int) -> int | None:
        """A pointer stored at addr as the program sees it before ASLR: the in-place value,
        or the addend of its R_X86_64_RELATIVE relocation (externally linked PIE)."""
        raw = self.read(addr, 8)
        if raw is None:
            return None
        value = int.from_bytes(raw, "little")
        if value == 0 and self.pie:
            return self.relative_addend(addr) or 0
        return value

    def relative_addend(self, addr: int) -> int | None:
        offsets, addends = self._relative_relocs()
        i = bisect.bisect_left(offsets, addr)
        if i < len(offsets) and offsets[i] == addr:
            return addends[i]
        return None

    def relative_sites(self, target: int) -> list[int]:
        """Addresses whose RELATIVE relocation resolves to target (pointer search in PIE)."""
        offsets, addends = self._relative_relocs()
        return [o for o, a in zip(offsets, addends, strict=True) if a == target]

    def _relative_relocs(self) -> tuple[list[int], list[int]]:
        if self._relative is None:
            pairs: list[tuple[int, int]] = []
            for s in self.sections:
                if s.type != SHT_RELA:
                    continue
                for r_offset, r_info, r_addend in struct.iter_unpack("<QQq", self.section_data(s)):
                    if r_info & 0xFFFFFFFF == R_X86_64_RELATIVE:
                        pairs.append((r_offset, r_addend))
            pairs.sort()
            self._relative = ([p[0] for p in pairs], [p[1] for p in pairs])
        return self._relative

    def notes(self) -> dict[tuple[bytes, int], bytes]:
        """(owner, type) -> descriptor for every note in SHT_NOTE sections."""
        out: dict[tuple[bytes, int], bytes] = {}
        for s in self.sections:
            if s.type != 7:  # SHT_NOTE
                continue
            data, pos = self.section_data(s), 0
            while pos + 12 <= len(data):
                namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
                pos += 12
                name = data[pos:pos + namesz].rstrip(b"\0")
                pos += (namesz + 3) & ~3
                out[(name, ntype)] = data[pos:pos + descsz]
                pos += (descsz + 3) & ~3
        return out

    def symbols(self, skip_funcs: tuple[int, int] = (0, 0)) -> list[ElfSymbol]:
        """Named objects and functions from .symtab (empty when stripped). Functions with
        skip_funcs[0] <= address < skip_funcs[1] are left out (Go functions, which the
        pclntab already names: skipping them halves the cost on big binaries)."""
        sec = self.section(".symtab")
        if sec is None or sec.size % 24:
            return []
        strs = self.section_data(self.sections[sec.link])
        words = memoryview(self.section_data(sec)).cast("Q")
        lo, hi = skip_funcs
        out = []
        for w0, value, size in zip(words[0::3].tolist(), words[1::3].tolist(),
                                   words[2::3].tolist(), strict=True):
            kind = (w0 >> 32) & 0xF
            name_off = w0 & 0xFFFFFFFF
            if name_off == 0 or kind not in (STT_OBJECT, STT_FUNC):
                continue
            if kind == STT_FUNC and lo <= value < hi and size:
                continue  # (keeps size-0 markers such as runtime.text)
            end = strs.find(b"\0", name_off)
            out.append(ElfSymbol(strs[name_off:end].decode("utf-8", "replace"), value, size, kind))
        return out
