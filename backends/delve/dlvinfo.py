"""What a dlv binary is, read from the file without running it: its release (the main
module's version in .go.buildinfo) and the Go versions it accepts (Delve's
pkg/goversion Min/MaxSupportedVersionOfGo{Major,Minor} variables, statically
initialised data found through .symtab)."""

from __future__ import annotations

from dataclasses import dataclass

from gotui.backends.gobinary import ElfFile
from gotui.backends.gobinary.buildinfo import read_buildinfo

GOVERSION_PKG = "github.com/go-delve/delve/pkg/goversion."
BOUNDS = ("MinSupportedVersionOfGoMajor", "MinSupportedVersionOfGoMinor",
          "MaxSupportedVersionOfGoMajor", "MaxSupportedVersionOfGoMinor")


@dataclass(frozen=True)
class DlvInfo:
    path: str
    version: str  # "1.27.2", "devel" when built from a checkout, "" if unknown
    go_min: tuple[int, int] | None  # (1, 25), None if the binary does not say (stripped)
    go_max: tuple[int, int] | None

    def supports(self, go_minor: int) -> bool | None:
        """Does this dlv accept a Go 1.<go_minor> target? None if unknown."""
        if self.go_min is None or self.go_max is None or not go_minor:
            return None
        return self.go_min <= (1, go_minor) <= self.go_max

    def go_range(self) -> str:
        if self.go_min is None or self.go_max is None:
            return ""
        return f"Go {self.go_min[0]}.{self.go_min[1]}-{self.go_max[0]}.{self.go_max[1]}"


def _version(elf: ElfFile) -> str:
    info = read_buildinfo(elf)
    for line in (info.modinfo if info else "").splitlines():
        parts = line.split("\t")
        if parts[0] == "mod" and len(parts) >= 3:
            return "devel" if parts[2] == "(devel)" else parts[2].removeprefix("v")
    return ""


def read_dlv(path: str) -> DlvInfo:
    """Facts about the dlv binary at path; GotuiError if it is not a readable ELF file."""
    elf = ElfFile(path)
    values: dict[str, int] = {}
    for sym in elf.symbols():
        name = sym.name.removeprefix(GOVERSION_PKG)
        if name in BOUNDS and name != sym.name:
            raw = elf.read(sym.value, 8)
            if raw is not None:
                values[name] = int.from_bytes(raw, "little")
    if len(values) == len(BOUNDS):
        lo = (values[BOUNDS[0]], values[BOUNDS[1]])
        hi = (values[BOUNDS[2]], values[BOUNDS[3]])
        return DlvInfo(path, _version(elf), lo, hi)
    return DlvInfo(path, _version(elf), None, None)

