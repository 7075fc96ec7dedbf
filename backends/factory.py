"""Builds Sessions and one-shot views from a pid, a core file or an address, with the
stop-the-world backend chosen by name ("delve" or "gdb"): the CLI and the TUI ask for
sessions here instead of constructing backends themselves.
"""

from __future__ import annotations

import asyncio
import os
import time

import psutil
from gotui.backends.base import LiveSource, StopBackend
from gotui.backends.model import GoProcess, GotuiError, Snapshot, TargetInfo, UsageError
from gotui.backends.procinfo import (
    TraceWindow,
    is_go_binary,
    process_facts,
    require_go,
    require_untraced,
)
from gotui.backends.session import Session

# ----------------------------------------------------------------- backends by name

def open_live(pid: int) -> LiveSource:
    from gotui.backends.live.reader import LiveReader

    return LiveReader(pid)


async def open_stop(pid: int, backend: str = "delve", *,
                    check_go_version: bool = True) -> StopBackend:
    """A stop-the-world backend for `pid`, not started yet (Session.start does it)."""
    if backend == "gdb":
        from gotui.backends.gdb import GdbBackend

        return GdbBackend.for_pid(pid)
    if backend != "delve":
        raise GotuiError(f"unknown stop-the-world backend {backend!r}")
    from gotui.backends.delve.backend import DelveBackend

    return DelveBackend.for_pid(pid, check_go_version=check_go_version)


async def connect_stop(address: str) -> StopBackend:
    from gotui.backends.delve.backend import DelveBackend

    return DelveBackend.for_address(address)


# ----------------------------------------------------------------- sessions

def attach_session(pid: int, *, backend: str = "delve",
                   check_go_version: bool = True) -> Session:
    """A Session on a local pid: the live reader now, `backend` on demand."""
    facts = process_facts(pid)
    require_go(facts)
    require_untraced(facts)
    live = open_live(pid)
    info = live.info

    async def make_stop() -> StopBackend:
        return await open_stop(pid, backend, check_go_version=check_go_version)

    return Session(info, live=live, stop_factory=make_stop)


def open_core(exe: str, core: str, backend: str = "delve", *,
              check_go_version: bool = True) -> StopBackend:
    """A stop backend on a core file, not started yet."""
    from gotui.backends.cfi import ET_CORE, elf_type
    from gotui.backends.cgostack import core_exe_problem

    for path in (exe, core):
        if not os.path.isfile(path):
            raise GotuiError(f"no such file: {path}")
    if not is_go_binary(exe):
        raise GotuiError(f"{exe} is not a Go program")
    if elf_type(core) != ET_CORE:
        raise GotuiError(f"{core} is not a core file (make one with `gcore <pid>`)")
    problem = core_exe_problem(exe, core)
    if problem:
        raise GotuiError(problem)
    if backend == "gdb":
        from gotui.backends.gdb import GdbBackend

        return GdbBackend.for_core(exe, core)
    if backend != "delve":
        raise UsageError(f"unknown backend {backend!r} for core files (delve or gdb)")
    from gotui.backends.delve.backend import DelveBackend

    return DelveBackend.for_core(exe, core, check_go_version=check_go_version)


def core_session(exe: str, core: str, backend: str = "delve", *,
                 check_go_version: bool = True) -> Session:
    """A post-mortem Session on a core file (the 'target' is halted forever)."""
    stop = open_core(exe, core, backend, check_go_version=check_go_version)
    return Session(stop.info, stop=stop, resume_on_attach=False)


async def core_snapshot(exe: str, core: str, backend: str = "delve", *,
                        stacks: bool = True, check_go_version: bool = True) -> Snapshot:
    """One snapshot of a core file; the debugger process is gone on return."""
    stop = open_core(exe, core, backend, check_go_version=check_go_version)
    try:
        await stop.start()
        snap = await stop.snapshot(stacks=stacks)
    finally:
        await stop.detach()
    snap.target_paused_ns = 0  # nothing was paused: the process is not there
    return snap


def connect_session(address: str, *, insecure: bool = False) -> Session:
    """A Session on an existing headless Delve (its API has no authentication: only on
    this machine unless insecure)."""
    from gotui.backends.delve.backend import is_local_address

    if not is_local_address(address) and not insecure:
        raise UsageError(f"refusing to connect to Delve at {address}: its API has no "
                         "authentication and no encryption. Tunnel it over SSH to "
                         "127.0.0.1, or pass --insecure if you really mean it")

    async def make_stop() -> StopBackend:
        return await connect_stop(address)

    return Session(TargetInfo(exe=address, backend="delve"), stop_factory=make_stop,
                   resume_on_attach=False)


# frames read per stack for a snapshot with stacks: the runtime's dump prints the first
# and the last 50 of any depth, so the whole stack is needed
STACK_DEPTH = 1024


async def take_snapshot(pid: int, *, source: str = "live", stacks: bool = False,
                        check_go_version: bool = True) -> Snapshot:
    facts = process_facts(pid)
    require_go(facts)
    if source == "live":
        live = open_live(pid)
        try:
            snap = live.snapshot()
            if stacks:
                from gotui.backends.live.cgo_thread import with_c_frames

                by_id = live.stacks([g.id for g in snap.goroutines],  # type: ignore[attr-defined]
                                    depth=STACK_DEPTH)
                for g in snap.goroutines:
                    g.stack = by_id.get(g.id, [])
                    if g.stack and g.current.pc and g.stack[0].pc != g.current.pc:
                        g.stack = []  # it moved since its header was read: not its stack
                    if g.status == "syscall" and g.thread_id:  # in a cgo call: C frames
                        g.stack = with_c_frames(pid, g.thread_id, snap.exe, g.stack)
            return snap
        finally:
            live.close()
    require_untraced(facts)
    from gotui.backends.halted import halted_snapshot
    from gotui.backends.live.reader import LiveReader

    live: LiveReader | None = None
    try:
        live = LiveReader(pid)
        # Read it once while it runs: the read while halted then decodes and walks
        # again only the goroutines whose records changed (exact all the same).
        await asyncio.to_thread(live.snapshot)
    except GotuiError:  # a binary the live reader cannot read: the stop backend's own
        if live is not None:  # (slower) snapshot
            live.close()
        live = None
    try:
        t0 = time.monotonic_ns()
        stop = await open_stop(pid, source, check_go_version=check_go_version)
        window = TraceWindow(pid)  # the attach stops the target, the detach resumes it
        try:
            await stop.start()
            snap = (await halted_snapshot(live, stop, stacks=stacks) if live is not None
                    else await stop.snapshot(stacks=stacks))
        finally:
            await stop.detach(kill=False)
            traced = await asyncio.to_thread(window.end)
    finally:
        if live is not None:
            live.close()
    # attach..detach as seen from the target; the whole call if that was not seen
    snap.target_paused_ns = traced if traced is not None else time.monotonic_ns() - t0
    return snap


# ----------------------------------------------------------------- ps

def list_go_processes() -> list[GoProcess]:
    out: list[GoProcess] = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        pid = proc.info["pid"]
        if pid == me:
            continue
        try:
            facts = process_facts(pid)
        except GotuiError:
            continue
        if not is_go_binary(f"/proc/{pid}/exe"):
            continue
        entry = GoProcess(pid=pid, exe=facts.exe, traced_by=facts.tracer_pid)
        try:
            live = open_live(pid)
            entry.go_version = live.info.go_version
            try:
                entry.goroutines = live.goroutine_count()
            finally:
                live.close()
        except Exception:  # noqa: BLE001 - ps lists what it can; one bad process is no error
            pass
        out.append(entry)
    return out
