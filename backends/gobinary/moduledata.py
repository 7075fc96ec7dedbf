"""runtime.firstmoduledata: where it is, the fields gotui needs, and runtime type names.

Stripped binaries have no symbol for it, so we do what Delve does: moduledata's first
field is a pointer to the pclntab header, so search the data sections for that pointer
value and check the next field (funcnametab's data pointer) agrees with the header.
Field offsets (runtime/symtab.go, amd64): text at 176 in every version 1.18-1.27;
types at 280 before Go 1.20, at 296 since (covctrs/ecovctrs were added in 1.20); etypes
right after types except in 1.27 (typedesclen between); gofunc (base of funcdata such as
inline trees) at 304 (1.19), 320 (1.20-1.26), 344 (1.27: itaboffset/itabsize added).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from gotui.backends.gobinary.elffile import PF_W, SHF_WRITE, SHT_NOBITS, ElfFile
from gotui.backends.gobinary.pclntab import uvarint

_TEXT_OFF = 176
_ETEXT_OFF = 184
_DATA_OFF = 208  # data, edata, bss, ebss, noptrbss, enoptrbss follow (all versions)
_FUNCNAMETAB_OFF = 8
TFLAG_EXTRA_STAR = 1 << 1


@dataclass(frozen=True)
class ModuleData:
    addr: int
    text: int
    etext: int
    types: int
    etypes: int
    gofunc: int
    data: tuple[int, int]  # [data, edata)
    bss: tuple[int, int]  # [bss, ebss)
    noptrbss: tuple[int, int]  # [noptrbss, enoptrbss)


def _types_off(go_minor: int) -> int:
    return 280 if 0 < go_minor < 20 else 296


def _gofunc_off(go_minor: int) -> int:
    if 0 < go_minor < 20:
        return 304
    return 344 if go_minor >= 27 else 320


def find_moduledata(elf: ElfFile, pcln_addr: int, funcname_off: int,
                    symbol_addr: int | None, go_minor: int) -> ModuleData | None:
    """Locate and read firstmoduledata. symbol_addr is its .symtab address if known."""
    candidates: list[int] = [symbol_addr] if symbol_addr else []
    if not candidates:
        needle = struct.pack("<Q", pcln_addr)
        # .noptrdata before Go 1.26, .go.module since: search every writable data section
        # (or writable segment when section headers are gone).
        areas = [(s.addr, s.offset, s.size) for s in elf.sections
                 if s.flags & SHF_WRITE and s.type != SHT_NOBITS and s.addr]
        if not elf.sections:
            areas = [(g.vaddr, g.offset, g.filesz) for g in elf.segments if g.flags & PF_W]
        for addr0, off0, size in areas:
            pos = elf.data.find(needle, off0, off0 + size)
            while pos >= 0:
                if (pos - off0) % 8 == 0:
                    candidates.append(addr0 + pos - off0)
                pos = elf.data.find(needle, pos + 1, off0 + size)
        if elf.pie:
            candidates += elf.relative_sites(pcln_addr)
    for addr in candidates:
        if elf.read_ptr(addr + _FUNCNAMETAB_OFF) != pcln_addr + funcname_off:
            continue
        text, etext = elf.read_ptr(addr + _TEXT_OFF), elf.read_ptr(addr + _ETEXT_OFF)
        toff = _types_off(go_minor)
        types = elf.read_ptr(addr + toff)
        etypes = elf.read_ptr(addr + toff + (16 if go_minor >= 27 else 8))
        gofunc = elf.read_ptr(addr + _gofunc_off(go_minor)) or 0
        ranges = [elf.read_ptr(addr + _DATA_OFF + 8 * k) or 0 for k in range(6)]
        if text and etext and types and etypes and text < etext and types < etypes:
            return ModuleData(addr, text, etext, types, etypes, gofunc,
                              (ranges[0], ranges[1]), (ranges[2], ranges[3]),
                              (ranges[4], ranges[5]))
    return None


def read_type_name(read: Callable[[int, int], bytes | None], md: ModuleData, type_addr: int,
                   tflag_off: int, str_off: int) -> str:
    """Name of the runtime type at type_addr. `read(addr, n) -> bytes | None` reads
    link-time addresses. abi.Type.Str is a nameOff from moduledata.types; the name
    is a flags byte, a uvarint length and the bytes (Go >= 1.17 encoding)."""
    head = read(type_addr, max(tflag_off, str_off) + 4)
    if not head:
        return ""
    tflag = head[tflag_off]
    name_off = struct.unpack_from("<i", head, str_off)[0]
    name_addr = md.types + name_off
    if not md.types <= name_addr < md.etypes:
        return ""
    hdr = read(name_addr, 11)
    if not hdr:
        return ""
    length, pos = uvarint(hdr, 1)
    raw = read(name_addr + pos, length)
    if raw is None:
        return ""
    name = raw.decode("utf-8", "replace")
    if tflag & TFLAG_EXTRA_STAR and name.startswith("*"):
        name = name[1:]
    return name
