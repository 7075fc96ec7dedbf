"""Letting go of a target through Delve without hurting it.

Used by DelveBackend.detach and by the guard process (guard.py) when gotui is gone.
"""

from __future__ import annotations

import asyncio
import contextlib

from gotui.backends.delve.process import sigtrap_pending
from gotui.backends.delve.rpc import DelveRPC
from gotui.backends.model import GotuiError


async def release(rpc: DelveRPC, pid: int, *, kill: bool = False, local: bool = True) -> None:
    """Halt if running, flush a queued halt SIGTRAP, Detach{Kill}."""
    if rpc.closed:
        return
    if rpc.running:
        with contextlib.suppress(GotuiError):
            await rpc.command("halt")
        await rpc.wait_stopped(15)
    if not kill and local and pid:
        with contextlib.suppress(GotuiError):
            await flush_pending_trap(rpc, pid)
    with contextlib.suppress(GotuiError, TimeoutError):
        await asyncio.wait_for(rpc.call("Detach", {"Kill": kill}), 15)


async def flush_pending_trap(rpc: DelveRPC, pid: int) -> None:
    """Delve halts with kill(pid, SIGTRAP). When that races with a breakpoint stop,
    the signal stays queued on the stopped target, and after a detach the Go runtime
    dies of it ("SIGTRAP: trace trap"; measured: 3 of 12 detaches from a target
    hitting a breakpoint every ms). Drop the user breakpoints, then let the target
    run until it takes the signal under Delve's control."""
    for attempt in range(3):
        if not sigtrap_pending(pid):
            return
        if attempt == 0:
            res = await rpc.call("ListBreakpoints", {"All": False})
            for bp in res.get("Breakpoints") or []:
                if bp["id"] > 0:
                    await rpc.call("ClearBreakpoint", {"Id": bp["id"]})
        run = asyncio.ensure_future(rpc.command("continue"))
        for _ in range(20):  # up to 1 s, until the signal has been taken
            done, _ = await asyncio.wait({run}, timeout=0.05)
            if done or not sigtrap_pending(pid):
                break
        if not run.done():
            # no breakpoints left: this halt's SIGTRAP reaches a running thread
            await rpc.command("halt")
        with contextlib.suppress(GotuiError, TimeoutError):
            await asyncio.wait_for(run, 10)


async def code_addrs(rpc: DelveRPC) -> list[int]:
    """Every address where Delve has a breakpoint instruction in the target."""
    res = await rpc.call("ListBreakpoints", {"All": True})
    return sorted({int(a) for b in res.get("Breakpoints") or [] for a in b.get("addrs") or []})
