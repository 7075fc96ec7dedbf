"""Struct layouts of the runtime types gotui reads, from the binary's DWARF.

Walking the runtime compile unit with pyelftools costs ~0.3 s even for a small binary
(all Go types live in that unit), so instead we find each struct by name: Go writes
DIE names inline (DW_FORM_string) right after the abbrev code, so the bytes
"runtime.hchan\\0" in .debug_info sit 1-2 bytes after the start of their DIE. Each
candidate is parsed with pyelftools and kept only if it is a structure type of that
exact name. Results are cached per build id as JSON in ~/.cache/gotui/.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gotui.backends.cachedir import user_cache_dir
from gotui.backends.gobinary.binary_types import StructLayout
from gotui.backends.gobinary.elffile import ElfFile
from gotui.backends.safefiles import read_cache_json, write_cache_json

if TYPE_CHECKING:  # pyelftools costs ~0.1 s to import: only when DWARF is not cached
    from elftools.dwarf.die import DIE
    from elftools.dwarf.dwarfinfo import DWARFInfo

# gotui layout name -> (DWARF struct names to try, {field path: alternative member paths})
# Field paths are dotted for nested structs; wrappers (atomic.Uint32, Go 1.26's
# maybeTraceableChan around sudog.c) are flattened to their first non-empty member, whose
# offset is the offset of the pointer or integer inside.
SPEC: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "runtime.g": (("runtime.g",), {
        "goid": ("goid",), "atomicstatus": ("atomicstatus",), "waitreason": ("waitreason",),
        "waiting": ("waiting",), "gopc": ("gopc",), "startpc": ("startpc",),
        "parentGoid": ("parentGoid",), "sched.sp": ("sched.sp",), "sched.pc": ("sched.pc",),
        "sched.bp": ("sched.bp",), "stack.lo": ("stack.lo",), "stack.hi": ("stack.hi",),
        "m": ("m",), "labels": ("labels",), "waitsince": ("waitsince",),
        "lockedm": ("lockedm",), "syscallsp": ("syscallsp",), "syscallpc": ("syscallpc",),
        "syscallbp": ("syscallbp",), "bubble": ("bubble", "syncGroup"),
    }),
    # testing/synctest's bubble (Go 1.25+; runtime.synctestGroup in 1.24, no id there)
    "runtime.synctestBubble": (("runtime.synctestBubble", "runtime.synctestGroup"), {
        "id": ("id",), "root": ("root",),
    }),
    # the runtime's GODEBUG settings: `var debug struct {...}` ("var:" names a variable)
    "runtime.debug": (("var:runtime.debug",), {"tracebacklabels": ("tracebacklabels",)}),
    "runtime.gobuf": (("runtime.gobuf",), {"sp": ("sp",), "pc": ("pc",), "bp": ("bp",)}),
    "runtime.stack": (("runtime.stack",), {"lo": ("lo",), "hi": ("hi",)}),
    "runtime.m": (("runtime.m",), {"id": ("id",), "procid": ("procid",), "curg": ("curg",)}),
    "runtime.sudog": (("runtime.sudog",), {
        "g": ("g",), "c": ("c",), "elem": ("elem",), "isSelect": ("isSelect",),
        "waitlink": ("waitlink",), "next": ("next",), "prev": ("prev",),
    }),
    "runtime.hchan": (("runtime.hchan",), {
        "qcount": ("qcount",), "dataqsiz": ("dataqsiz",), "buf": ("buf",),
        "elemsize": ("elemsize",), "closed": ("closed",), "elemtype": ("elemtype",),
        "sendx": ("sendx",), "recvx": ("recvx",), "recvq": ("recvq",), "sendq": ("sendq",),
        "lock": ("lock",),
    }),
    "runtime.waitq": (("runtime.waitq",), {"first": ("first",), "last": ("last",)}),
    # runtime._type became an alias of internal/abi.Type in Go 1.21.
    "runtime._type": (("internal/abi.Type", "runtime._type"), {
        "size": ("Size_", "size"), "tflag": ("TFlag", "tflag"), "kind": ("Kind_", "kind"),
        "str": ("Str", "str"),
    }),
}

# Cache files are named after SPEC, so adding a field invalidates older cache entries.
_SPEC_KEY = hashlib.sha1(repr(sorted(SPEC.items())).encode()).hexdigest()[:8]
CACHE_DIR = user_cache_dir()
_STRUCT = "DW_TAG_structure_type"


class TypeFinder:
    """Find type DIEs by name in .debug_info without walking the runtime unit."""

    def __init__(self, dwarf: DWARFInfo) -> None:
        self.dwarf = dwarf
        self.info = dwarf.debug_info_sec.stream.getvalue()

    def struct(self, name: str) -> DIE | None:
        return self.find(name, (_STRUCT,))

    def struct_or_var_type(self, name: str) -> DIE | None:
        """struct(name), or for "var:pkg.name" the struct type of that variable."""
        if not name.startswith("var:"):
            return self.struct(name)
        var = self.find(name[4:], ("DW_TAG_variable",))
        if var is None or "DW_AT_type" not in var.attributes:
            return None
        die = _resolve(var.get_DIE_from_attribute("DW_AT_type"))
        return die if die.tag == _STRUCT else None

    def find(self, name: str, tags: tuple[str, ...]) -> DIE | None:
        """The first DIE with one of the tags and exactly this name."""
        needle = name.encode() + b"\0"
        pos = self.info.find(needle)
        while pos >= 0:
            for back in (1, 2, 3):
                die = self._die_at(pos - back)
                if die is not None and die.tag in tags and _name(die) == name:
                    return die
            pos = self.info.find(needle, pos + 1)
        return None

    def _die_at(self, offset: int) -> DIE | None:
        try:
            return self.dwarf.get_DIE_from_refaddr(offset)
        except Exception:  # pyelftools raises assorted errors on a misaligned offset
            return None


def _name(die: DIE) -> str:
    attr = die.attributes.get("DW_AT_name")
    if attr is None:
        return ""
    v = attr.value
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _resolve(die: DIE) -> DIE:
    while die.tag == "DW_TAG_typedef" and "DW_AT_type" in die.attributes:
        die = die.get_DIE_from_attribute("DW_AT_type")
    return die


def _members(die: DIE) -> dict[str, DIE]:
    return {_name(m): m for m in die.iter_children() if m.tag == "DW_TAG_member"}


def _offset(member: DIE) -> int:
    return int(member.attributes["DW_AT_data_member_location"].value)


def _size(die: DIE) -> int:
    attr = die.attributes.get("DW_AT_byte_size")
    return int(attr.value) if attr is not None else 0


def _is_empty(die: DIE) -> bool:
    """Zero-size struct or array (noCopy, align64, lockRankStruct, [0]func())."""
    return die.tag in (_STRUCT, "DW_TAG_array_type") and _size(die) == 0


def _flatten(type_die: DIE) -> int:
    """Offset of the value inside a wrapper struct (0 for non-structs)."""
    type_die = _resolve(type_die)
    total = 0
    while type_die.tag == _STRUCT:
        inner = [m for m in type_die.iter_children() if m.tag == "DW_TAG_member"
                 and not _is_empty(_resolve(m.get_DIE_from_attribute("DW_AT_type")))]
        if not inner:
            break
        total += _offset(inner[0])
        type_die = _resolve(inner[0].get_DIE_from_attribute("DW_AT_type"))
    return total


def field_offset(struct: DIE, path: str) -> int | None:
    total, die = 0, struct
    parts = path.split(".")
    for i, part in enumerate(parts):
        m = _members(die).get(part)
        if m is None:
            return None
        total += _offset(m)
        die = _resolve(m.get_DIE_from_attribute("DW_AT_type"))
        if i == len(parts) - 1:
            total += _flatten(die)
    return total


def dwarf_info(elf: ElfFile, with_ranges: bool = False) -> DWARFInfo | None:
    """A pyelftools DWARFInfo over just the sections type DIEs need. pyelftools' own
    get_dwarf_info() decompresses and relocates every debug section (line tables, frames,
    location lists): ~0.25 s on a 20 MB binary, for data we never read."""
    from elftools.dwarf.dwarfinfo import DebugSectionDescriptor, DwarfConfig, DWARFInfo

    def sec(name: str) -> DebugSectionDescriptor | None:
        data = elf.section_bytes(name)
        if data is None:
            return None
        return DebugSectionDescriptor(io.BytesIO(data), name, None, len(data), 0)

    info, abbrev = sec(".debug_info"), sec(".debug_abbrev")
    if info is None or abbrev is None:
        return None
    ranges = ({"debug_ranges_sec": sec(".debug_ranges"),
               "debug_rnglists_sec": sec(".debug_rnglists")} if with_ranges else {})
    unused: dict[str, None] = dict.fromkeys((
        "debug_aranges_sec", "debug_frame_sec", "eh_frame_sec", "debug_loc_sec",
        "debug_ranges_sec", "debug_line_sec", "debug_pubtypes_sec", "debug_pubnames_sec",
        "debug_loclists_sec", "debug_rnglists_sec", "debug_sup_sec", "gnu_debugaltlink_sec",
        "debug_types_sec"))
    for name in ranges:
        unused.pop(name)
    return DWARFInfo(
        config=DwarfConfig(little_endian=True, machine_arch="x64", default_address_size=8),
        debug_info_sec=info, debug_abbrev_sec=abbrev, debug_str_sec=sec(".debug_str"),
        debug_addr_sec=sec(".debug_addr"), debug_str_offsets_sec=sec(".debug_str_offsets"),
        debug_line_str_sec=sec(".debug_line_str"), **ranges, **unused)


def layouts_from_dwarf(path: str | ElfFile) -> dict[str, StructLayout]:
    """Layouts found in the DWARF of a binary ({} if it has no DWARF)."""
    elf = path if isinstance(path, ElfFile) else ElfFile(path)
    dwarf = dwarf_info(elf)
    if dwarf is None:
        return {}
    finder = TypeFinder(dwarf)
    out: dict[str, StructLayout] = {}
    for key, (names, fields) in SPEC.items():
        die = next((d for d in map(finder.struct_or_var_type, names) if d is not None), None)
        if die is None:
            continue
        offsets: dict[str, int] = {}
        for field_name, alternatives in fields.items():
            for alt in alternatives:
                off = field_offset(die, alt)
                if off is not None:
                    offsets[field_name] = off
                    break
        out[key] = StructLayout(key, _size(die), offsets, "dwarf")
    return out


def layouts_to_json(layouts: dict[str, StructLayout]) -> dict[str, Any]:
    return {k: {"size": v.size, "offsets": v.offsets} for k, v in layouts.items()}


def layouts_from_json(obj: dict[str, Any], source: str) -> dict[str, StructLayout]:
    return {k: StructLayout(k, int(v["size"]), {f: int(o) for f, o in v["offsets"].items()},
                            source) for k, v in obj.items()}


def cache_path(build_id: str) -> Path:
    return CACHE_DIR / cache_name(build_id)


def cache_name(build_id: str) -> str:
    return f"layouts-{_SPEC_KEY}-{build_id}.json"


def cached_layouts_from_dwarf(elf: ElfFile, build_id: str) -> dict[str, StructLayout]:
    """layouts_from_dwarf, cached in ~/.cache/gotui/layouts-<spec>-<build id>.json (only
    a cache directory and file of our own are used: backends/safefiles.py)."""
    cached = read_cache_json(CACHE_DIR, cache_name(build_id))
    if isinstance(cached, dict):
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
            return layouts_from_json(cached, "dwarf")
    layouts = layouts_from_dwarf(elf)
    if layouts:
        write_cache_json(CACHE_DIR, cache_name(build_id), layouts_to_json(layouts))
    return layouts
