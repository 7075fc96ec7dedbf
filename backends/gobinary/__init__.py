"""Facts read from a Go binary (ELF) without running it: build info and Go version,
sections and symbols, the function table (pclntab, inlining included), moduledata and
runtime type names, struct layouts (DWARF, or a table per Go version for stripped
binaries) and runtime pcs -> file:line.

The live reader (backends/live), Delve's helpers and the eBPF backend use this package
through the names below and the public names of its modules.
"""

from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.binary_types import FuncInfo, Layouts, PCInfo, StructLayout
from gotui.backends.gobinary.buildinfo import BuildInfo, build_id, go_version_of_file
from gotui.backends.gobinary.elffile import ElfFile
from gotui.backends.gobinary.symbols import Facts, Symbols

__all__ = ["BinaryFacts", "BuildInfo", "ElfFile", "Facts", "FuncInfo", "Layouts", "PCInfo",
           "StructLayout", "Symbols", "build_id", "go_version_of_file"]
