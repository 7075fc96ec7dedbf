"""The target's GODEBUG settings that change what its runtime prints.

The truth is the runtime's own variable (`runtime.debug.<setting>`), read from the
process: it covers the runtime's default, the binary's DefaultGODEBUG (its main module's
go line and //go:debug directives), $GODEBUG and later changes through os.Setenv. A
stripped binary has no `runtime.debug` symbol; the fallback computes what the runtime
computed at startup (runtime.parsedebugvars: its default, then DefaultGODEBUG, then
$GODEBUG from the process's initial environment, each left to right, the last one
winning). It misses only a program that changes GODEBUG while it runs.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from gotui.backends.gobinary.binary_types import StructLayout

# setting -> ((first Go minor with this default, value), ...), newest last
RUNTIME_DEFAULTS: dict[str, tuple[tuple[int, str], ...]] = {
    "tracebacklabels": ((26, "0"), (27, "1")),  # runtime1.go dbgvars, go1.26 / go1.27
}


class _Facts(Protocol):
    go_minor: int
    layouts: dict[str, StructLayout]

    def symbol(self, name: str) -> int | None: ...
    def default_godebug(self) -> str: ...


def var_addr(facts: _Facts, setting: str, bias: int) -> int | None:
    """Runtime address of `runtime.debug.<setting>` (an int32), None if unknown."""
    lay = facts.layouts.get("runtime.debug")
    off = lay.offsets.get(setting) if lay is not None else None
    sym = facts.symbol("runtime.debug")
    return sym + bias + off if sym is not None and off is not None else None


def startup_value(facts: _Facts, setting: str, environ_godebug: str | None) -> str:
    """What the runtime set `setting` to at startup ("" if this Go has no such setting)."""
    value = ""
    for minor, default in RUNTIME_DEFAULTS.get(setting, ()):
        if facts.go_minor >= minor:
            value = default
    if not value:
        return ""
    for source in (facts.default_godebug(), environ_godebug or ""):
        for field in source.split(","):
            key, eq, val = field.partition("=")
            if eq and key == setting:
                value = val
    return value


def environ_godebug(pid: int) -> str | None:
    """$GODEBUG from a process's initial environment (None if unset or unreadable)."""
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/environ", "rb") as f:
            for entry in f.read().split(b"\0"):
                if entry.startswith(b"GODEBUG="):
                    return entry[len(b"GODEBUG="):].decode(errors="replace")
    return None
