"""Channel states read through Delve: selects, wrapped ring buffers, struct elements."""

from __future__ import annotations

import pytest
from gotui.backends.delve.backend import DelveBackend

from tests import gofixtures

from .conftest import requires_dlv

pytestmark = [pytest.mark.integration, requires_dlv]


@pytest.mark.parametrize("toolchain", ["go1.26", "go1.27"])
async def test_select_and_wrapped_buffers(toolchain: str) -> None:
    gofixtures.need_toolchain(toolchain)
    exe = gofixtures.build("dlv_chans", toolchain=toolchain)
    with gofixtures.run(exe) as t:
        b = DelveBackend.for_pid(t.pid)
        await b.start()
        try:
            snap = await b.snapshot(stacks=False)
            addr = {name: (await b.eval(f"main.{name}")).value
                    for name in ("ring", "a", "b", "full")}
        finally:
            await b.detach()
    by_start = {g.start.function: g for g in snap.goroutines}
    chans = {c.addr: c for c in snap.channels}

    sel = by_start["main.selector"]
    assert sel.wait_reason == "select"
    assert sorted(w.chan for w in sel.waiting_on) == sorted([addr["a"], addr["b"]])
    assert all(w.op == "select" for w in sel.waiting_on) and sel.blocked_on is not None

    ring = chans[addr["ring"]]
    assert (ring.elem_type, ring.len, ring.cap) == ("main.item", 3, 3)
    assert ring.elements == ['{ID: 2, Name: "two"}', '{ID: 3, Name: "three"}',
                             '{ID: 4, Name: "four"}']  # receive order, from recvx
    assert ring.senders == [by_start["main.ringSender"].id]

    full = chans[addr["full"]]
    assert (full.elem_type, full.len, full.cap, full.elements) == ("int", 1, 1, ["1"])
    assert full.senders == [by_start["main.fullSender"].id]
    assert chans[addr["a"]].cap == 0 and chans[addr["a"]].elements == []
