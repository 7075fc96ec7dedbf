"""A precise "is the target still working" check for the basic fixture.

gofixtures.making_progress watches CPU ticks, which the runtime's own threads
(sysmon) also produce. The basic fixture's ticker goroutine increments main.counter
every millisecond (in main.hot); reading it from /proc/<pid>/mem (no ptrace needed
as root) shows that the user code itself is running.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from gotui.backends.base import StopBackend


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


async def until_running(backend: StopBackend, pid: int, exe: str | Path,
                        timeout: float = 10.0) -> None:
    """After a continue: wait until the debugger says the target runs and the target's own
    code moves (main.counter), instead of sleeping and hoping it did."""
    deadline = time.monotonic() + timeout
    while not (await backend.state()).running:
        if time.monotonic() > deadline:
            raise AssertionError("the debugger never said the target runs")
        await asyncio.sleep(0.02)
    if not await asyncio.to_thread(counter_advancing, pid, exe, timeout):
        raise AssertionError("the target's main.counter does not move")


def signal_pending(pid: int, sig: int) -> bool:
    """Whether `sig` is pending (thread or process shared) for pid, or it already stopped."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    pending = int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)
    return bool(pending & (1 << (sig - 1))) or fields["State"].startswith(("t", "T"))


async def until(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)
