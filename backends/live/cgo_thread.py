"""C frames of a goroutine inside a cgo call, read without stopping the process.

A thread blocked in a system call exposes its stack pointer and pc in
/proc/<pid>/task/<tid>/syscall (root or ptrace access; no ptrace stop). From there the
C frames are unwound with CFI (.eh_frame of the executable and of the libraries in
/proc/<pid>/maps) over /proc/<pid>/mem, down to runtime.asmcgocall. The thread keeps
running: if it leaves the system call meanwhile, the walk may be stale, so these frames
are marked as a best-effort read. C code that is not blocked in a system call (a busy
loop) cannot be read this way: then the note says that the C frames need a stop.
"""

from __future__ import annotations

import os
from pathlib import Path

from gotui.backends import cfi, cgostack
from gotui.backends.model import NEEDS_STOP_NOTE, Frame

NOTE_READ = "C frame read without stopping (thread {tid} in a syscall; CFI walk, best-effort)"
NOTE_NEED_STOP = "goroutine in C on thread {tid}: " + NEEDS_STOP_NOTE


def syscall_regs(pid: int, tid: int) -> tuple[int, int] | None:
    """(sp, pc) of a thread blocked in a system call, None if it is running."""
    try:
        parts = Path(f"/proc/{pid}/task/{tid}/syscall").read_text().split()
    except OSError:
        return None
    if len(parts) < 3 or parts[0] == "running":
        return None
    return int(parts[-2], 16), int(parts[-1], 16)


def c_frames(pid: int, tid: int, exe: str, depth: int = 32) -> list[Frame]:
    """The C frames (innermost first, down to runtime.asmcgocall) of thread `tid`."""
    regs = syscall_regs(pid, tid)
    maps = cgostack.read_maps(pid)
    if regs is None or not maps:
        return []
    sp, pc = regs
    locate = cfi.locator(maps)
    at_asmcgocall = cfi.in_functions(locate, cgostack.ASMCGOCALL)

    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    except OSError:
        return []
    try:
        def read(addr: int) -> int | None:
            try:
                data = os.pread(fd, 8, addr)
            except OSError:
                return None
            return int.from_bytes(data, "little") if len(data) == 8 else None

        native = cfi.unwind(read, locate, pc, sp, 0, at_asmcgocall, depth)
    finally:
        os.close(fd)
    if not native or not at_asmcgocall(native[-1].pc):
        return []  # did not reach the cgo boundary: not a trustworthy walk
    out = []
    for i, nf in enumerate(native):
        frame = cfi.elf_frame(locate, maps, nf.pc, is_return=i > 0)
        if frame.kind == "c":
            frame.note += "; " + NOTE_READ.format(tid=tid)
        out.append(frame)
    return out


def with_c_frames(pid: int, tid: int, exe: str, go: list[Frame]) -> list[Frame]:
    """A live stack of a goroutine in a cgo call (it starts at runtime.cgocall or
    asmcgocall) with the C frames of its thread on top, or a note saying they need a
    stop. Any other stack comes back unchanged."""
    if not tid or not go or go[0].kind != "cgo" or go[0].function in \
            cgostack.CALLBACK_GO_SIDE:
        return go
    native = c_frames(pid, tid, exe)
    if native:
        return cgostack.stitch(go, native)
    first = Frame(**{**go[0].__dict__})
    first.note = NOTE_NEED_STOP.format(tid=tid)
    return [first, *go[1:]]
