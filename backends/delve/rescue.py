"""Undo Delve's breakpoints when dlv dies without cleaning up (SIGKILL, crash).

Delve inserts a breakpoint by writing int3 (0xCC) over the first byte of an
instruction. If dlv is killed, the kernel detaches ptrace but the int3 bytes stay in
the target's code, and the next time one is executed the untraced target dies of
SIGTRAP. We put the original bytes back from the executable on disk, writing through
/proc/<pid>/mem (root, or the same user with ptrace access; no attach needed).

This is a race: the kernel resumes the target when dlv dies, so a breakpoint hit
every millisecond fires before we can act. It saves the common case of breakpoints
that are hit rarely.

What no process but the tracer can prevent (why SIGKILL of dlv during a hot
breakpoint kills the target): a thread that traps on an int3 sits in a
signal-delivery-stop with SIGTRAP as its stop code while Delve works on it (with a
condition, ~0.5 ms of every hit). Only the tracer can clear that code (PTRACE_CONT or
PTRACE_DETACH with signal 0). When dlv dies, the kernel detaches and restarts its
tracees during dlv's own exit, and "if the tracee is restarted from
signal-delivery-stop, the pending signal is injected" (ptrace(2)): the SIGTRAP is
delivered before the guard even learns of the death (SIGCHLD, EOF), and Go's handler
treats a kernel SIGTRAP as fatal ("SIGTRAP: trace trap"). Nobody else can become the
tracer first (PTRACE_ATTACH fails while dlv holds the thread), and SIGKILL cannot be
intercepted. Patching the target instead (runtime.sigtable's SIGTRAP flags through
/proc/<pid>/mem, so the handler would return) is not a fix either: a thread that trapped
before Delve rewound its PC resumes one byte into an instruction, and it rewrites the
runtime of a process we promised not to hurt. Safe routes: a breakpoint not hit
every ms, or an eBPF conditional tracepoint (evaluated in the kernel, no ptrace).
"""

from __future__ import annotations

import contextlib

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from gotui.backends.live import memory
from gotui.backends.procinfo import exe_path_for_reading

INT3 = 0xCC


def load_bias(pid: int, exe: str) -> int:
    """Runtime address minus link-time address of the main executable (0 if not PIE)."""
    with open(exe, "rb") as fh:
        elf = ELFFile(fh)
        if elf.header["e_type"] != "ET_DYN":
            return 0
        first_vaddr = min(seg["p_vaddr"] - seg["p_offset"] for seg in elf.iter_segments()
                          if seg["p_type"] == "PT_LOAD")
    return memory.load_bias(pid, exe, first_vaddr=first_vaddr)


def original_bytes(exe: str, addrs: list[int]) -> dict[int, int]:
    """The byte at each link-time address in the executable file."""
    out: dict[int, int] = {}
    with open(exe, "rb") as fh:
        elf = ELFFile(fh)
        segs = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        for addr in addrs:
            for seg in segs:
                if seg["p_vaddr"] <= addr < seg["p_vaddr"] + seg["p_filesz"]:
                    fh.seek(seg["p_offset"] + addr - seg["p_vaddr"])
                    out[addr] = fh.read(1)[0]
                    break
    return out


def restore_code(pid: int, addrs: list[int]) -> int:
    """Write back the original byte wherever an int3 of ours is still in place, read
    from the running image (even if its file was replaced on disk). `addrs` are
    runtime addresses as Delve reports them. Returns how many."""
    restored = 0
    if not addrs:
        return 0
    exe = exe_path_for_reading(pid)
    try:
        bias = load_bias(pid, exe)
        originals = original_bytes(exe, [a - bias for a in addrs])
    except (OSError, ELFError, ValueError):
        return 0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
        for addr in addrs:
            orig = originals.get(addr - bias)
            if orig is None or orig == INT3:
                continue
            mem.seek(addr)
            if mem.read(1) == bytes([INT3]):
                mem.seek(addr)
                mem.write(bytes([orig]))
                restored += 1
    return restored
