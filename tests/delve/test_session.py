"""gotui.backends.session.Session driving the real Delve backend (attach on demand)."""

from __future__ import annotations

import asyncio

import pytest
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.model import Breakpoint, TargetInfo
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
    session.subscribe(lambda kind, payload: states.append(payload) if kind == "state" else None)
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
