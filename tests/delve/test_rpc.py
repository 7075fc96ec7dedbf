"""The JSON-RPC client against a real headless dlv."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import pytest
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.delve.process import tracer_of
from gotui.backends.delve.rpc import DelveRPC
from gotui.backends.model import GotuiError

from tests import gofixtures

from .progress import counter_advancing

pytestmark = pytest.mark.integration


async def test_list_goroutines_pages_until_nextg_is_minus_one(backend: DelveBackend) -> None:
    calls: list[dict] = []
    real_call = backend.rpc.call

    async def spy(method: str, params: dict | None = None) -> dict:
        res = await real_call(method, params)
        if method == "ListGoroutines":
            calls.append({"Start": params["Start"], "Nextg": res["Nextg"],
                          "n": len(res["Goroutines"] or [])})
        return res

    backend.rpc.call = spy  # type: ignore[method-assign]
    paged = await backend.rpc.list_goroutines(page=4)
    whole = await backend.rpc.list_goroutines(page=10_000)
    ids = [g["id"] for g in paged]
    assert ids == [g["id"] for g in whole]
    assert len(ids) == len(set(ids)) >= 14
    small = calls[:-1]
    assert len(small) >= -(-len(ids) // 4)
    assert all(c["n"] <= 4 for c in small)
    assert small[-1]["Nextg"] == -1 and all(c["Nextg"] > c["Start"] for c in small[:-1])
    # each page starts where the previous one said
    assert [c["Start"] for c in small[1:]] == [c["Nextg"] for c in small[:-1]]


async def test_grouping_and_filter_fields_reach_delve(backend: DelveBackend) -> None:
    res = await backend.rpc.call("ListGoroutines", {
        "Start": 0, "Count": 0, "Filters": [{"Kind": 4, "Negated": False, "Arg": "main.receiver"}],
        "GroupBy": 4, "GroupByKey": "", "MaxGroupMembers": 1, "MaxGroups": 10})
    # start-location filter + grouping by start location: one group of three receivers
    assert [(g["Name"].split()[-1], g["Total"]) for g in res["Groups"]] == [("main.receiver", 3)]
    assert len(res["Goroutines"]) == 1


async def test_concurrent_calls_are_matched_by_id(backend: DelveBackend) -> None:
    exprs = ["1+1", "2*3", "main.counter >= 0", "len(main.sendCh)", "cap(main.sendCh)"]
    results = await asyncio.gather(*(backend.eval(e) for e in exprs))
    assert [v.value for v in results] == ["2", "6", "true", "2", "2"]


async def test_only_state_and_halt_while_running(backend: DelveBackend) -> None:
    cont = asyncio.create_task(backend.cont())
    await asyncio.sleep(0.2)
    assert backend.rpc.running
    with pytest.raises(GotuiError, match="running"):
        await backend.rpc.call("ListGoroutines", {"Start": 0, "Count": 10})
    with pytest.raises(GotuiError, match="running"):
        await backend.rpc.state(non_blocking=False)
    st = await backend.rpc.state(non_blocking=True)
    assert st["Running"] is True
    halted = await backend.halt()
    assert not halted.running and not halted.exited
    st2 = await asyncio.wait_for(cont, 10)
    assert not st2.running
    # a synchronous call works again once stopped
    assert len(await backend.goroutines()) >= 14


async def test_connection_loss_fails_pending_calls(target: gofixtures.Target) -> None:
    b = DelveBackend.for_pid(target.pid)
    await b.start()
    try:
        cont = asyncio.create_task(b.rpc.command("continue"))
        await asyncio.sleep(0.2)
        os.kill(tracer_of(target.pid), signal.SIGKILL)  # dlv itself
        with pytest.raises(GotuiError, match="Delve"):
            await asyncio.wait_for(cont, 10)
        with pytest.raises(GotuiError):
            await asyncio.wait_for(b.rpc.call("GetVersion"), 5)
    finally:
        await b.detach()
    assert gofixtures.wait_untraced(target.pid)
    assert counter_advancing(target.pid, target.exe)


async def test_unreachable_address_is_one_line_error() -> None:
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GotuiError) as err:
        await DelveRPC.connect(f"127.0.0.1:{port}")
    assert "\n" not in str(err.value) and f"127.0.0.1:{port}" in str(err.value)
    with pytest.raises(GotuiError, match="host:port"):
        await DelveRPC.connect("nonsense")
