"""Shared sessions on a real Go program (tests/fixtures/basic) with real backends."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.live.reader import LiveReader
from gotui.backends.model import Breakpoint, GotuiError, TargetInfo, snapshot_from_json, to_json
from gotui.backends.remote.client import RemoteSession, join
from gotui.backends.remote.server import ShareServer
from gotui.backends.session import Session

from tests import gofixtures
from tests.needs import need_dlv
from tests.remote.conftest import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def basic() -> Iterator[gofixtures.Target]:
    exe = gofixtures.build("basic")
    with gofixtures.run(exe, "-recv", "3", "-sleep", "2") as target:
        yield target


@contextlib.asynccontextmanager
async def live_share(pid: int) -> AsyncIterator[tuple[LiveReader, RemoteSession]]:
    """The live reader on `pid`, shared (snapshots every 0.2 s), and a viewer of it."""
    live = LiveReader(pid)
    session = Session(live.info, live=live)
    await session.start()
    server = ShareServer(session, host_drives=True, snapshot_interval=0.2)
    await server.start()
    viewer = await join(server.info()["url"], server.viewer_token)
    try:
        yield live, viewer
    finally:
        await viewer.close()
        await server.close()
        await session.close()


async def test_viewer_sees_the_live_goroutines_of_a_real_target(
        basic: gofixtures.Target) -> None:
    async with live_share(basic.pid) as (live, viewer):
        snap = await viewer.snapshot()
        assert snap.pid == basic.pid
        host_snap = live.snapshot()
        assert snapshot_from_json(to_json(host_snap)) == host_snap
        starts = [g.start.function for g in snap.goroutines]
        assert starts.count("main.receiver") == 3 and starts.count("main.sleeper") == 2
        receivers = [g for g in snap.goroutines if g.start.function == "main.receiver"]
        assert all(g.blocked_on is not None and g.blocked_on.op == "recv" for g in receivers)
        stack = await viewer.stack(receivers[0].id)
        assert any(f.function == "main.receiver" for f in stack)
    assert gofixtures.tracer_pid(basic.pid) == 0
    assert gofixtures.making_progress(basic.pid)


async def test_driver_breaks_and_continues_a_real_target_through_delve(
        basic: gofixtures.Target) -> None:
    need_dlv()

    async def make_stop() -> Any:
        return DelveBackend.for_pid(basic.pid)

    session = Session(TargetInfo(pid=basic.pid, exe=str(basic.exe)), stop_factory=make_stop)
    await session.start()
    server = ShareServer(session, host_drives=False, snapshot_interval=0.2)
    await server.start()
    url = server.info()["url"]
    driver = await join(url, server.driver_token)
    viewer = await join(url, server.viewer_token)
    try:
        bp = await driver.create_breakpoint(Breakpoint(function="main.hot"))
        await wait_for(lambda: not viewer.state.running and viewer.state.breakpoint_id == bp.id,
                       "the viewer saw the target stop at the breakpoint")
        with pytest.raises(GotuiError, match="read-only"):
            await viewer.cont()
        assert not session.state.running
        args = {v.name for v in await driver.args(viewer.state.current_goroutine, 0)}
        assert {"i", "r"} <= args
        snap = await viewer.snapshot()  # halted: Delve's view, pushed once
        assert any(g.start.function == "main.receiver" for g in snap.goroutines)
        await driver.clear_breakpoint(bp.id)
        await driver.cont()
        assert session.state.running
        await wait_for(lambda: viewer.state.running, "the viewer saw it running again")
    finally:
        await viewer.close()
        await driver.close()
        await server.close()
        await session.close()
    assert gofixtures.wait_untraced(basic.pid)
    assert gofixtures.making_progress(basic.pid)


async def test_a_viewer_keeps_the_objects_of_goroutines_that_only_waited_longer() -> None:
    """The host does not resend a goroutine whose wait only grew; the joiner keeps its
    object, and its wait grows with the deltas (backends/waitclock.py): no copy of every
    waiting goroutine per snapshot."""
    exe = gofixtures.build("live_stall", optimize=True)
    with gofixtures.run(exe, "-sleep", "30000", "-gc") as target:  # (fewer: not stamped)
        async with live_share(target.pid) as (live, viewer):
            await viewer.snapshot()

            def stamped() -> int:  # the sleepers' waits, once the GC has stamped them
                snap = viewer.last_snapshot
                return sum(g.wait_ns > 0 for g in snap.goroutines) if snap else 0

            await wait_for(lambda: stamped() >= 300, "the sleepers' waits")
            first = viewer.last_snapshot
            assert first is not None
            waits = {g.id: g.wait_ns for g in first.goroutines if g.wait_ns > 0}
            seq = viewer.snapshot_seq
            await wait_for(lambda: viewer.snapshot_seq >= seq + 3, "three more snapshots")
            second = viewer.last_snapshot
            assert second is not None
            later = {g.id: g for g in second.goroutines}
            kept = [g.id for g in first.goroutines if g.id in waits and later.get(g.id) is g]
            assert len(kept) >= 300
            host = {g.id: g.wait_ns for g in live.snapshot().goroutines}
            for gid in kept:
                assert waits[gid] < later[gid].wait_ns <= host[gid]
                assert host[gid] - later[gid].wait_ns < 2_000_000_000
