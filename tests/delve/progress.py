"""A precise "is the target still working" check for the basic fixture.

gofixtures.making_progress watches CPU ticks, which the runtime's own threads
(sysmon) also produce. The basic fixture's ticker goroutine increments main.counter
every millisecond (in main.hot); reading it from /proc/<pid>/mem (no ptrace needed
as root) shows that the user code itself is running.
"""

from __future__ import annotations

import struct
import time
from functools import cache
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection


@cache
def symbol_address(exe: str, name: str) -> int:
    with open(exe, "rb") as fh:
        elf = ELFFile(fh)
        if elf.header["e_type"] != "ET_EXEC":
            raise RuntimeError(f"{exe} is PIE: add the load bias")
        symtab = elf.get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        [sym] = symtab.get_symbol_by_name(name) or [None]
        if sym is None:
            raise RuntimeError(f"{name} not in {exe}")
        return int(sym["st_value"])


def read_counter(pid: int, exe: str | Path) -> int:
    addr = symbol_address(str(exe), "main.counter")
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(addr)
        return struct.unpack("<q", mem.read(8))[0]


def counter_advancing(pid: int, exe: str | Path, within: float = 5.0) -> bool:
    """True once main.counter (incremented every ms by the ticker) moves."""
    start = read_counter(pid, exe)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if read_counter(pid, exe) != start:
            return True
    return False
