"""Go version, module info and build ids of a Go ELF binary.

`.go.buildinfo` starts with a 32-byte header: the magic, pointer size, flags. Since Go
1.18 (flag bit 1) the version and module info strings follow inline, each prefixed by a
uvarint length (see debug/buildinfo). Older binaries store two pointers to Go string
headers instead; that format is decoded best-effort.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from gotui.backends.gobinary.elffile import ElfFile
from gotui.backends.gobinary.pclntab import uvarint

MAGIC = b"\xff Go buildinf:"
FLAG_INLINE = 0x2
_VERSION_RE = re.compile(r"^go1\.(\d+)")


@dataclass(frozen=True)
class BuildInfo:
    go_version: str  # "go1.26.8", "" if unknown
    go_minor: int  # 26, 0 if unknown
    modinfo: str  # text of `go version -m` (path, mod, dep, build lines)

    def setting(self, key: str) -> str | None:
        """A `build` line's value (e.g. "DefaultGODEBUG"), None if absent."""
        for line in self.modinfo.splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[0] == "build" and parts[1].startswith(key + "="):
                return "\t".join(parts[1:])[len(key) + 1:]
        return None

    @property
    def main_module(self) -> str:
        """Path of the main module (the `mod` line), "" if unknown."""
        for line in self.modinfo.splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[0] == "mod":
                return parts[1]
        return ""


def minor_of(version: str) -> int:
    m = _VERSION_RE.match(version)
    return int(m.group(1)) if m else 0


def read_buildinfo(elf: ElfFile) -> BuildInfo | None:
    """None if the file has no Go build info (not a Go binary)."""
    sec = elf.section(".go.buildinfo")
    if sec is not None and elf.section_data(sec)[:14] == MAGIC:
        start = sec.offset
    else:
        # Section headers missing or renamed: the blob is 16-byte aligned in the file.
        start = elf.data.find(MAGIC)
        while start >= 0 and start % 16:
            start = elf.data.find(MAGIC, start + 1)
        if start < 0:
            return None
    data = elf.data
    ptr_size, flags = data[start + 14], data[start + 15]
    if flags & FLAG_INLINE:
        pos = start + 32
        n, pos = uvarint(data, pos)
        version = data[pos:pos + n].decode("utf-8", "replace")
        n, pos = uvarint(data, pos + n)
        mod = data[pos:pos + n]
    else:
        version_b = _pointer_string(elf, int.from_bytes(data[start + 16:start + 16 + ptr_size], "little"))
        mod = _pointer_string(elf, int.from_bytes(
            data[start + 16 + ptr_size:start + 16 + 2 * ptr_size], "little"))
        version = version_b.decode("utf-8", "replace")
    # modinfo is framed by 16-byte sentinels (runtime/debug.modinfo).
    if len(mod) >= 33 and mod[-17:-16] == b"\n":
        mod = mod[16:-16]
    return BuildInfo(version, minor_of(version), mod.decode("utf-8", "replace"))


def go_version_of_file(path: str) -> str:
    """Go version of the binary at path ("go1.26.8"), "" if unknown or not Go."""
    from gotui.backends.model import GotuiError

    try:
        info = read_buildinfo(ElfFile(path))
    except (GotuiError, IndexError, ValueError):
        return ""
    return info.go_version if info else ""


def _pointer_string(elf: ElfFile, header_addr: int) -> bytes:
    ptr = elf.read_ptr(header_addr)
    length = elf.read(header_addr + 8, 8)
    if not ptr or length is None:
        return b""
    return elf.read(ptr, int.from_bytes(length, "little")) or b""


def go_build_id(elf: ElfFile) -> str:
    """The Go build id (what `go tool buildid` prints), "" if absent."""
    return elf.notes().get((b"Go", 4), b"").decode("utf-8", "replace")


def build_id(elf: ElfFile) -> str:
    """A stable id for caching facts about this exact binary: the GNU build id, else the
    Go build id, else a hash of the file."""
    notes = elf.notes()
    gnu = notes.get((b"GNU", 3))
    if gnu:
        return "gnu-" + gnu.hex()
    go = notes.get((b"Go", 4))
    if go:
        return "go-" + hashlib.sha1(go).hexdigest()
    return "sha1-" + hashlib.sha1(elf.data).hexdigest()
