"""Snapshots of the basic fixture through Delve, on Go 1.26 and the other toolchains."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from gotui.backends import waitreasons
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.model import snapshot_from_json, to_json

from tests import gofixtures

from .conftest import requires_dlv

pytestmark = pytest.mark.integration

EXPECTED_STARTS = {"main.receiver": 3, "main.sender": 2, "main.sleeper": 2, "main.locker": 1,
                   "main.ticker": 1}


def user_goroutines(snap_json: dict) -> list[dict]:
    return [g for g in snap_json["goroutines"] if g["start"]["function"] in EXPECTED_STARTS]


async def test_snapshot_json_lists_fixture_goroutines(backend: DelveBackend,
                                                      target: gofixtures.Target) -> None:
    snap = await backend.snapshot(stacks=True)
    data = json.loads(json.dumps(to_json(snap)))
    assert data["source"] == "delve" and data["pid"] == target.pid
    assert data["go_version"].startswith("go1.26") and data["target_paused_ns"] > 0
    users = user_goroutines(data)
    assert Counter(g["start"]["function"] for g in users) == EXPECTED_STARTS
    reasons = {(g["start"]["function"], g["wait_reason"]) for g in users}
    assert reasons == {("main.receiver", "chan receive"), ("main.sender", "chan send"),
                       ("main.sleeper", "sleep"), ("main.locker", "sync.Mutex.Lock"),
                       ("main.ticker", "sleep")}
    main_g = next(g for g in data["goroutines"] if g["start"]["function"] == "runtime.main")
    for g in users:
        assert g["status"] == "waiting"
        assert g["go_statement"]["function"].startswith("main.main")
        assert g["go_statement"]["file"].endswith("basic/main.go")
        assert g["parent_id"] == main_g["id"]  # pprof.Do runs its func on main's g
        kinds = [f["kind"] for f in g["stack"]]
        assert kinds[0] == "runtime" and "go" in kinds
        assert any(f["function"] == g["start"]["function"] for f in g["stack"])
    ticker = next(g for g in users if g["start"]["function"] == "main.ticker")
    assert ticker["labels"] == {"role": "ticker"}
    # the JSON round-trips through the model
    assert snapshot_from_json(data).goroutines[0].id == data["goroutines"][0]["id"]


async def test_channels_with_buffer_contents(backend: DelveBackend) -> None:
    snap = await backend.snapshot(stacks=False)
    by_start: dict[str, list] = {}
    for g in snap.goroutines:
        by_start.setdefault(g.start.function, []).append(g)
    recv_chan = {g.blocked_on.chan for g in by_start["main.receiver"] if g.blocked_on}
    send_chan = {g.blocked_on.chan for g in by_start["main.sender"] if g.blocked_on}
    assert len(recv_chan) == 1 and len(send_chan) == 1
    assert all(g.blocked_on and g.blocked_on.op == "recv" for g in by_start["main.receiver"])
    chans = {c.addr: c for c in snap.channels}
    rc, sc = chans[recv_chan.pop()], chans[send_chan.pop()]
    assert (rc.elem_type, rc.len, rc.cap, rc.closed) == ("int", 0, 0, False)
    assert sorted(rc.receivers) == sorted(g.id for g in by_start["main.receiver"])
    assert (sc.elem_type, sc.len, sc.cap) == ("string", 2, 2)
    assert sc.elements == ['"fill-0"', '"fill-1"']
    assert sorted(sc.senders) == sorted(g.id for g in by_start["main.sender"])
    # the address is the hchan Delve sees for the package variable
    sendch = await backend.eval("main.sendCh")
    assert sendch.kind == "chan" and sendch.value == sc.addr
    assert all(g.blocked_on is None for g in by_start["main.sleeper"] + by_start["main.locker"])


async def test_wait_reasons_come_from_the_target(backend: DelveBackend) -> None:
    reasons = backend._reasons
    assert reasons[:3] == ["", "GC assist marking", "IO wait"]
    assert list(waitreasons.table(26)) == reasons  # the fallback table matches the target


@requires_dlv
@pytest.mark.parametrize("toolchain", ["go1.19", "go1.27"])
async def test_other_go_versions(toolchain: str) -> None:
    gofixtures.need_toolchain(toolchain)
    exe = gofixtures.build("basic", toolchain=toolchain)
    with gofixtures.run(exe) as t:
        # Delve 1.27 supports Go 1.25..1.27: 1.19 needs the user's opt-in
        b = DelveBackend.for_pid(t.pid, check_go_version=toolchain != "go1.19")
        await b.start()
        try:
            minor = waitreasons.go_minor(b.info.go_version)
            assert minor == int(toolchain.split(".")[1])
            assert list(waitreasons.table(minor)) == b._reasons
            snap = await asyncio.wait_for(b.snapshot(stacks=False), 60)
        finally:
            await b.detach()
        assert gofixtures.wait_untraced(t.pid)
    users = user_goroutines(to_json(snap))
    assert Counter(g["start"]["function"] for g in users) == EXPECTED_STARTS
    mutex_reason = "semacquire" if toolchain == "go1.19" else "sync.Mutex.Lock"
    assert {g["wait_reason"] for g in users if g["start"]["function"] == "main.locker"} == {
        mutex_reason}
    assert {g["wait_reason"] for g in users if g["start"]["function"] == "main.receiver"} == {
        "chan receive"}
    assert len(snap.channels) == 2


def test_wait_reason_table_lookup() -> None:
    assert waitreasons.wait_reason(26, 19) == "chan receive"
    assert waitreasons.wait_reason(25, 14) == "chan receive"  # renumbered in 1.26
    assert waitreasons.wait_reason(19, 14) == "chan receive"
    assert waitreasons.wait_reason(40, 14) == "sleep"  # newer than known: newest table
    assert waitreasons.wait_reason(26, 999) == "waitReason(999)"
    assert waitreasons.go_minor("go1.27.3") == 27 and waitreasons.go_minor("devel") == 0

