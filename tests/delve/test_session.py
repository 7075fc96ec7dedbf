"""gotui.backends.session.Session driving the real Delve backend (attach on demand)."""

from __future__ import annotations

import asyncio

import pytest
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.model import Breakpoint, TargetInfo
from gotui.backends.notices import StateChanged
from gotui.backends.session import Session

from tests import gofixtures

from .conftest import requires_dlv
from .progress import counter_advancing

pytestmark = [pytest.mark.integration, requires_dlv]


async def test_session_on_demand_delve(target: gofixtures.Target) -> None:
    async def factory() -> DelveBackend:
        return DelveBackend.for_pid(target.pid)

    session = Session(TargetInfo(pid=target.pid), stop_factory=factory)
    states: list = []
    session.subscribe(lambda n: states.append(n.state) if isinstance(n, StateChanged) else None)
    try:
        # creating a breakpoint attaches Delve, which then resumes the target
        bp = await session.create_breakpoint(Breakpoint(function="main.hot",
                                                        cond="i % 50 == 1"))
        assert session.backend_name == "delve" and bp.id > 0
        for _ in range(100):
            if not session.state.running:
                break
            await asyncio.sleep(0.1)
        assert not session.state.running and session.state.breakpoint_id == bp.id
        i = int((await session.eval("i", session.state.current_goroutine)).value)
        assert i % 50 == 1
        snap = await session.snapshot(stacks=False)
        assert snap.source == "delve" and len(snap.goroutines) >= 14
        # clear it while halted, resume, then halt again
        await session.clear_breakpoint(bp.id)
        await session.cont()
        await asyncio.sleep(0.3)
        assert session.state.running
        st = await session.halt()
        assert not st.running and st.halted_since is not None
        assert any(s.running for s in states) and any(not s.running for s in states)
    finally:
        await session.close()
    assert gofixtures.wait_untraced(target.pid, timeout=10)
    assert counter_advancing(target.pid, target.exe)


async def test_moving_a_breakpoint_keeps_everything_but_its_place(
        target: gofixtures.Target) -> None:
    """Delve cannot move a breakpoint and refuses a second one with the same name: the
    session makes the new one, drops the old one, and names the new one last."""
    async def factory() -> DelveBackend:
        return DelveBackend.for_pid(target.pid)

    session = Session(TargetInfo(pid=target.pid), stop_factory=factory)
    try:
        bp = await session.create_breakpoint(Breakpoint(
            function="main.hot", name="hotbp", cond="i % 7 == 3", hit_cond="> 2",
            hit_cond_per_g=True, tracepoint=True, enabled=False))
        main_go = str(gofixtures.FIXTURES / "basic" / "main.go")
        line = next(n for n, text in enumerate(open(main_go).read().splitlines(), 1)
                    if text.strip() == "atomic.AddInt64(&counter, 1)")
        moved = await session.move_breakpoint(
            Breakpoint(id=bp.id, name=bp.name, file=main_go, line=line, cond=bp.cond,
                       hit_cond=bp.hit_cond, hit_cond_per_g=True, tracepoint=True,
                       enabled=False))
        listed = await session.breakpoints()
        assert [b.id for b in listed] == [moved.id] and moved.id != bp.id
        got = listed[0]
        assert (got.name, got.file, got.line, got.cond.replace(" ", ""), got.hit_cond,
                got.hit_cond_per_g, got.tracepoint, got.enabled) == (
            "hotbp", main_go, line, "i%7==3", "> 2", True, True, False)
        assert session.state.running  # halted for the move, resumed after
    finally:
        await session.close()
    assert gofixtures.wait_untraced(target.pid, timeout=10)
