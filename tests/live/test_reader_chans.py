"""LiveReader on channels: select (several cases, both directions), nil channel, pointer
element types; the `live_chans` fixture, running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gotui.backends.analysis import findings
from gotui.backends.live.channels import chan_op
from gotui.backends.live.reader import LiveReader
from gotui.backends.model import Snapshot

from tests import gofixtures

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["go1.26", "go1.19", "go1.27"])
def snap(request: pytest.FixtureRequest) -> Iterator[Snapshot]:
    gofixtures.need_toolchain(request.param)
    exe = gofixtures.build("live_chans", toolchain=request.param)
    with gofixtures.run(exe) as t:
        reader = LiveReader(t.pid)
        yield reader.snapshot()
        reader.close()
        assert gofixtures.tracer_pid(t.pid) == 0


def test_select_waits_on_every_case(snap: Snapshot) -> None:
    sel = [g for g in snap.goroutines if g.start.function == "main.selector"]
    assert len(sel) == 2
    chans = {c.addr: c for c in snap.channels}
    for g in sel:
        assert g.wait_reason == "select"
        assert len(g.waiting_on) == 2 and {w.op for w in g.waiting_on} == {"select"}
        assert g.blocked_on == g.waiting_on[0]
        kinds = sorted((chans[w.chan].elem_type, chans[w.chan].len, chans[w.chan].cap)
                       for w in g.waiting_on)
        assert kinds == [("int", 1, 1), ("main.item", 0, 0)]
    ids = sorted(g.id for g in sel)
    a = next(c for c in snap.channels if c.elem_type == "main.item")
    full = next(c for c in snap.channels if c.elem_type == "int")
    assert a.receivers == ids and a.senders == []  # `case v := <-a`
    assert full.senders == ids and full.receivers == []  # `case full <- 1`


def test_nil_channel_and_pointer_elements(snap: Snapshot) -> None:
    (nilg,) = [g for g in snap.goroutines if g.start.function == "main.nilrecv"]
    assert nilg.wait_reason == "chan receive (nil chan)"
    assert nilg.blocked_on is None and nilg.waiting_on == []
    (w,) = [g for g in snap.goroutines if g.start.function == "main.waiter"]
    assert w.blocked_on is not None and w.blocked_on.op == "recv"
    c = next(c for c in snap.channels if c.addr == w.blocked_on.chan)
    assert (c.elem_type, c.len, c.cap, c.closed, c.receivers) == ("*main.item", 0, 4, False,
                                                                   [w.id])
    assert len(snap.channels) == 3


@pytest.mark.parametrize(("reason", "op"), [
    ("chan receive", "recv"), ("chan send", "send"), ("select", "select"),
    ("chan receive (nil chan)", None), ("select (no cases)", None), ("sleep", None),
    ("synctest chan receive", "recv"), ("sync.Mutex.Lock", None),
])
def test_chan_op(reason: str, op: str | None) -> None:
    assert chan_op(reason) == op


def test_no_false_findings(snap: Snapshot) -> None:
    """Two selects on the same channels on the same side are not a wait cycle."""
    kinds = [f.kind for f in findings(snap)]
    assert kinds == ["nil-chan"]
    assert snap.locks == []
