"""Issue 11 item 3 (and the viewer-snapshot audit item): a viewer's read-only command
never changes the target's run state, and nothing resumes what the driver halted.

`breakpoints` from a viewer used to halt the target (Delve only lists them while
halted), read, and resume: 5 of 5 calls stopped a running target, and one that arrived
around the driver's halt undid it. Real dlv, real target, real websockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from gotui.backends import factory
from gotui.backends.model import Breakpoint, TargetState
from gotui.backends.notices import StateChanged
from gotui.backends.remote.server import ShareServer
from gotui.backends.session import Session

from tests import gofixtures
from tests.delve.progress import read_counter
from tests.remote.conftest import Raw, raw_connect

from .conftest import requires_dlv

pytestmark = [pytest.mark.integration, requires_dlv]


@dataclass
class Shared:
    session: Session
    server: ShareServer
    states: list[TargetState]
    driver: Raw
    viewer: Raw


@pytest.fixture
async def shared(target: gofixtures.Target) -> AsyncIterator[Shared]:
    session = factory.attach_session(target.pid)
    await session.start()
    await session.ensure_stop()  # Delve attached; the target runs again
    # a breakpoint that is never hit (its goroutines are parked for good)
    await session.create_breakpoint(Breakpoint(function="main.receiver"))
    states: list[TargetState] = []
    session.subscribe(lambda n: states.append(n.state) if isinstance(n, StateChanged) else None)
    server = ShareServer(session, host_drives=False, snapshot_interval=0.2)
    await server.start()
    url = server.info()["url"]
    driver = await raw_connect(url, server.driver_token)
    viewer = await raw_connect(url, server.viewer_token)
    await driver.of_type("hello")
    await viewer.of_type("hello")
    try:
        yield Shared(session, server, states, driver, viewer)
    finally:
        await driver.close()
        await viewer.close()
        await server.close()
        await session.close()
    assert gofixtures.wait_untraced(target.pid, timeout=10)


async def command(client: Raw, name: str, msg_id: str, **args: Any) -> dict[str, Any]:
    await client.send({"type": "command", "name": name, "args": args, "id": msg_id})
    return await client.next(lambda m: m.get("id") == msg_id)


def task_states(pid: int) -> set[str]:
    from pathlib import Path

    out = set()
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        out.add(stat.read_text().rsplit(")", 1)[1].split()[0])
    return out


async def test_viewer_breakpoints_never_stop_a_running_target(
        shared: Shared, target: gofixtures.Target) -> None:
    assert shared.session.state.running
    last = read_counter(target.pid, target.exe)
    for i in range(5):
        reply = await command(shared.viewer, "breakpoints", f"b{i}")
        assert reply["type"] == "result", reply
        assert [b["function"] for b in reply["value"]] == ["main.receiver"]
        await asyncio.sleep(0.05)
        now = read_counter(target.pid, target.exe)
        assert now > last, "the target made no progress across a viewer's call"
        last = now
    assert [s for s in shared.states if not s.running] == [], "a viewer's call halted it"
    assert (await shared.session.stop.state()).running  # Delve's continue never ended
    assert "t" not in task_states(target.pid)


async def test_viewer_snapshot_while_halted_costs_delve_nothing(
        shared: Shared, target: gofixtures.Target, monkeypatch: pytest.MonkeyPatch) -> None:
    reply = await command(shared.driver, "halt", "h")
    assert reply["type"] == "result" and not reply["value"]["running"]
    stop = shared.session.stop
    assert stop is not None
    await asyncio.sleep(1.0)  # the server's own pull of the halted view is done
    calls: list[str] = []
    real_call = stop.rpc.call  # type: ignore[attr-defined]

    async def counting(method: str, params: dict[str, Any] | None = None) -> Any:
        calls.append(method)
        return await real_call(method, params)

    monkeypatch.setattr(stop.rpc, "call", counting)  # type: ignore[attr-defined]
    for i in range(3):
        reply = await command(shared.viewer, "snapshot", f"s{i}")
        assert reply["type"] == "result", reply
        assert len(reply["value"]["goroutines"]) >= 10
    assert calls == [], f"a viewer's snapshot ran Delve calls: {calls[:5]}..."
    await command(shared.driver, "continue", "c")


async def test_a_viewer_call_never_undoes_the_drivers_halt(
        shared: Shared, target: gofixtures.Target) -> None:
    for round_ in range(10):
        # the viewer's call first, the driver's halt right behind it (or the other way)
        first, second = (shared.viewer, shared.driver) if round_ % 2 == 0 else (
            shared.driver, shared.viewer)
        names = {id(shared.viewer): "breakpoints", id(shared.driver): "halt"}
        await asyncio.gather(
            command(first, names[id(first)], f"a{round_}"),
            command(second, names[id(second)], f"b{round_}"))
        await asyncio.sleep(0.3)  # anything that would resume has had its chance
        assert not shared.session.state.running, f"round {round_}: the halt was undone"
        assert not (await shared.session.stop.state()).running
        c0 = read_counter(target.pid, target.exe)
        await asyncio.sleep(0.2)
        assert read_counter(target.pid, target.exe) == c0, f"round {round_}: it runs"
        reply = await command(shared.driver, "continue", f"c{round_}")
        assert reply["type"] == "result", reply
        assert shared.session.state.running
