"""Stacks that cross cgo: classify frames, name C frames, stitch Go + native stacks.

Shared by every stop-the-world backend. A goroutine's stack may live in two places:
its own Go stack (walked from g.sched, or what Delve returns) and the native stack of
an OS thread (the thread running it, or, for a goroutine that C called back into Go,
the M it is locked to, whose g0 stack holds the C frames). `stitch` joins the two.

Frame kinds come from backends.model.frame_kind (the single source); here we add the
"cgo boundary" note and `function+0xoff (library)` for C frames without debug info.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass

from gotui.backends.live.memory import read_maps as proc_maps
from gotui.backends.model import CGO_BOUNDARY_FUNCS, Frame, GotuiError, frame_kind

BOUNDARY_NOTE = "cgo boundary"
GOEXIT = "runtime.goexit"
# Go's entry back from C (on the goroutine stack) and C's call into Go (on g0's stack)
CALLBACK_GO_SIDE = ("runtime.cgocallback", "runtime.cgocallback.abi0")
CALLBACK_C_SIDE = "crosscall2"
STACK_SWITCH_FRAMES = ("runtime.systemstack_switch",)
ASMCGOCALL = ("runtime.asmcgocall", "runtime.asmcgocall.abi0")


@dataclass(frozen=True)
class RawFrame:
    """What a debugger knows about one frame before classification."""

    pc: int
    function: str = ""
    file: str = ""
    line: int = 0
    library: str = ""  # shared object holding pc ("" for the main executable)
    offset: int = 0  # pc - function start, when known


def is_boundary(function: str) -> bool:
    return function in CGO_BOUNDARY_FUNCS


def make_frame(raw: RawFrame) -> Frame:
    """One classified Frame; C frames without a source line get `name+0xoff (lib)`."""
    function = raw.function.removeprefix("C.")  # Delve's spelling of C functions
    kind = frame_kind(raw.function) if raw.function else "c"
    note = ""
    if is_boundary(function):
        note = BOUNDARY_NOTE
    elif kind == "c" and not raw.file:
        lib = os.path.basename(raw.library) if raw.library else "?"
        name = f"{function}+{raw.offset:#x}" if function else f"{raw.pc:#x}"
        note = f"{name} ({lib})"
    return Frame(function=raw.function or f"{raw.pc:#x}", file=raw.file, line=raw.line,
                 pc=raw.pc, kind=kind, note=note)


def _index(frames: Sequence[Frame], names: Sequence[str] | str) -> int | None:
    wanted = (names,) if isinstance(names, str) else tuple(names)
    for i, f in enumerate(frames):
        if f.function in wanted:
            return i
    return None


def stitch(go: list[Frame], native: list[Frame]) -> list[Frame]:
    """Join a goroutine's Go stack with the native backtrace of its thread.

    go:     frames walked from the goroutine's saved state (g.sched), innermost first.
    native: the backtrace of the OS thread that runs it (status running/syscall) or
            that it is locked to (parked inside a C -> Go callback); [] if none.
    Works for gdb's frames and for Delve's (after `clean`).
    """
    native = clean(native)
    if not native:
        return list(go)
    # Parked in a callback: Go frames down to cgocallback, then the C frames on the
    # locked M's g0 stack from crosscall2 (and the Go frames that called into C).
    i_cb = _index(go, CALLBACK_GO_SIDE)
    i_cc = _index(native, CALLBACK_C_SIDE)
    if i_cb is not None and i_cc is not None:
        return go[: i_cb + 1] + native[i_cc:]
    # In a cgo call: C frames down to asmcgocall, then the Go frames that entered
    # syscall (g.sched was saved in cgocall), which debuggers often fail to unwind to.
    i_asm = _index(native, ASMCGOCALL)
    if i_asm is not None and go:
        return native[: i_asm + 1] + [f for f in go if f.function not in STACK_SWITCH_FRAMES]
    # Running Go code: the native stack is the truth; splice onto the Go record where
    # they meet (same pc) in case the native unwind stopped early.
    go_pcs = {(f.pc, f.function): j for j, f in enumerate(go) if f.pc}
    for i, f in enumerate(native):
        j = go_pcs.get((f.pc, f.function))
        if j is not None and (i > 0 or j > 0):
            return native[:i] + go[j:]
    if native[-1].function == GOEXIT or not go:
        return list(native)
    return list(go)


def clean(frames: list[Frame]) -> list[Frame]:
    """Drop frames a debugger could not unwind (pc 0, no name): Delve emits `? -1 0x0`
    right after runtime.asmcgocall when it cannot get back to the goroutine stack."""
    return [f for f in frames if f.pc and f.function and f.function != "?"]


def has_cgo(frames: Sequence[Frame]) -> bool:
    return any(f.kind in ("c", "cgo") for f in frames)


# ------------------------------------------------------------ libraries from /proc maps

@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    offset: int
    path: str  # as the process names it (shown to users)
    source: str = ""  # where to read the file from, if not `path`


def read_maps(pid: int) -> list[Mapping]:
    """Executable file mappings of a live process, sorted by start address. Each is read
    through /proc/<pid>/map_files (root): the very file mapped, even if it was deleted
    or replaced on disk since (a library upgraded under a running service) or lives in
    another mount namespace (a container)."""
    try:
        maps = proc_maps(pid)
    except (GotuiError, OSError):
        return []
    out: list[Mapping] = []
    for m in maps:
        if "x" not in m.perms or not m.path.startswith("/"):
            continue
        mapped = f"/proc/{pid}/map_files/{m.start:x}-{m.end:x}"  # unpadded, unlike the maps
        out.append(Mapping(m.start, m.end, m.offset, m.path.removesuffix(" (deleted)"),
                           mapped if os.access(mapped, os.R_OK) else ""))
    out.sort(key=lambda m: m.start)
    return out


def core_maps(core: str) -> list[Mapping]:
    """File mappings recorded in a core file (its NT_FILE note), sorted by start."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    out: list[Mapping] = []
    try:
        with open(core, "rb") as fh:
            for seg in ELFFile(fh).iter_segments():
                if seg["p_type"] != "PT_NOTE":
                    continue
                for note in seg.iter_notes():
                    if note["n_type"] != "NT_FILE":
                        continue
                    desc = note["n_desc"]
                    page = int(desc["page_size"])
                    for ent, name in zip(desc["Elf_Nt_File_Entry"], desc["filename"],
                                         strict=False):
                        out.append(Mapping(int(ent["vm_start"]), int(ent["vm_end"]),
                                           int(ent["page_offset"]) * page,
                                           name.decode(errors="replace")))
    except (OSError, ELFError, KeyError, ValueError):
        return []
    out.sort(key=lambda m: m.start)
    return out


def core_exe_problem(exe: str, core: str) -> str:
    """Why `core` was not written by `exe` ("" if it was, or if that cannot be told):
    the core names the program it came from (NT_FILE); when that file is here, its
    build id must be exe's."""
    from gotui.backends.gobinary.buildinfo import build_id
    from gotui.backends.gobinary.elffile import ElfFile

    maps = core_maps(core)
    if not maps:
        return ""
    recorded = maps[0].path
    try:
        if not os.path.isfile(recorded) or os.path.samefile(recorded, exe):
            return ""
        if build_id(ElfFile(recorded)) == build_id(ElfFile(exe)):
            return ""
    except (OSError, GotuiError):
        return ""
    return f"{core} was written by {recorded}, not by {exe}"


def library_for_pc(maps: Sequence[Mapping], pc: int) -> str:
    i = bisect.bisect_right([m.start for m in maps], pc) - 1
    if i >= 0 and maps[i].start <= pc < maps[i].end:
        return maps[i].path
    return ""


def classify(frames: list[Frame]) -> list[Frame]:
    """Re-derive kind and boundary notes on frames built elsewhere (e.g. Delve's)."""
    for f in frames:
        f.kind = frame_kind(f.function)
        if is_boundary(f.function) and not f.note:
            f.note = BOUNDARY_NOTE
    return frames
