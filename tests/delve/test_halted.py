"""The halted view (backends/halted.py) against Delve's own snapshot, taken in the same
stop on real fixtures: the same facts, asking Delve only about goroutines on a thread.

Known, deliberate differences (each checked the other way here or elsewhere):
- a parked goroutine's `current` is at the call it parked in (the runtime's traceback,
  and Delve's own frame 0), where Delve's goroutine list says the return address's line;
- a goroutine in a system call is stacked from where it entered it (g.syscallpc, as the
  runtime's traceback: tests/test_blocking_fixtures.py compares with the runtime's own
  dump), Delve from its thread's registers inside the system call's assembly;
- stack_refs come from the live reader's scan of stack words, Delve's from arguments
  and locals;
- dead goroutines (a cgo callback's spare _Gdeadextra g) are not listed;
- a goroutine in a select is listed as a sender or receiver of its channels (Delve's
  view does not say which).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.factory import attach_session
from gotui.backends.halted import halted_snapshot
from gotui.backends.live.reader import LiveReader
from gotui.backends.model import Frame, Location, Snapshot

from tests import gofixtures
from tests.needs import requires_dlv

pytestmark = [pytest.mark.integration, requires_dlv]


def not_stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "tTZ"


def loc(x: Location | Frame) -> tuple[str, str, int]:
    return x.function, x.file, x.line


async def both(pid: int) -> tuple[Snapshot, Snapshot]:
    """Delve's snapshot and the halted view, in one stop."""
    reader = LiveReader(pid)
    b = DelveBackend.for_pid(pid)
    await b.start()
    try:
        delve = await b.snapshot(stacks=True)
        ours = await halted_snapshot(reader, b, stacks=True)
    finally:
        await b.detach()
        reader.close()
    return delve, ours


@pytest.mark.parametrize(("fixture", "args"), [
    ("basic", ()), ("blocking", ()), ("cgo_callback", ()), ("ebpf_args", ("-spin",)),
    ("dlv_chans", ())])
async def test_same_facts_as_delves_own_snapshot(fixture: str, args: tuple[str, ...]) -> None:
    exe = gofixtures.build(fixture)
    with gofixtures.run(exe, *args) as t:
        delve, ours = await both(t.pid)
        assert gofixtures.wait_untraced(t.pid) and not_stopped(t.pid)
    assert ours.source == "delve" and ours.target_paused_ns > 0
    mine = {g.id: g for g in ours.goroutines}
    assert set(mine) == {g.id for g in delve.goroutines if g.status != "dead"}
    for d in delve.goroutines:
        if d.status == "dead":
            continue
        g = mine[d.id]
        facts = ("status", "wait_reason", "labels", "parent_id", "thread_id", "blocked_on",
                 "blocked_on_lock")
        assert [getattr(g, f) for f in facts] == [getattr(d, f) for f in facts], d.id
        assert sorted(map(str, g.waiting_on)) == sorted(map(str, d.waiting_on)), d.id
        assert (loc(g.go_statement), loc(g.start)) == (loc(d.go_statement), loc(d.start))
        if d.status == "syscall":
            # in C: the C frames Delve reads from the thread, repaired below them
            named = [loc(f) for f in d.stack if f.function]
            assert all(n in map(loc, g.stack) for n in named if n[0].startswith("C.")), d.id
            assert all(f.function for f in g.stack), g.stack
            continue
        assert [loc(f) for f in g.stack] == [loc(f) for f in d.stack], d.id
        assert loc(g.current) == loc(d.stack[0]), d.id
        if d.status == "running":  # from the thread's registers
            assert loc(g.current) == loc(d.current) and g.user_current == d.user_current
    by_addr = {c.addr: c for c in ours.channels}
    assert by_addr.keys() == {c.addr for c in delve.channels}
    selecting = {g.id for g in ours.goroutines if g.wait_reason == "select"}
    for d_chan in delve.channels:
        c = by_addr[d_chan.addr]
        same = ("elem_type", "len", "cap", "closed", "elements")
        assert [getattr(c, f) for f in same] == [getattr(d_chan, f) for f in same], c.addr
        # Delve's view does not say on which side a select waits; the live reader
        # does (the queue it sits in)
        for side in ("senders", "receivers"):
            extra = set(getattr(c, side)) - set(getattr(d_chan, side))
            assert set(getattr(d_chan, side)) <= set(getattr(c, side)) and extra <= selecting
    assert Counter((x.addr, x.kind, tuple(x.waiters)) for x in ours.locks) == Counter(
        (x.addr, x.kind, tuple(x.waiters)) for x in delve.locks)
    if fixture == "ebpf_args":
        spinner = next(g for g in ours.goroutines if g.start.function == "main.main.func1")
        assert spinner.status == "running" and spinner.thread_id
        assert spinner.user_current.function in ("main.spin", "main.main.func1")
    if fixture == "basic":
        sender = next(g for g in ours.goroutines if g.start.function == "main.sender")
        assert sender.blocked_on is not None
        assert by_addr[sender.blocked_on.chan].elements == ['"fill-0"', '"fill-1"']


def count_calls(backend: DelveBackend) -> Counter[str]:
    """Counts the JSON-RPC calls gotui makes to Delve from now on."""
    calls: Counter[str] = Counter()
    real: Callable[..., Awaitable[Any]] = backend.rpc.call

    async def call(method: str, *args: Any, **kw: Any) -> Any:
        calls[method] += 1
        return await real(method, *args, **kw)

    backend.rpc.call = call  # type: ignore[method-assign]
    return calls


async def test_a_halt_asks_delve_only_about_goroutines_on_threads() -> None:
    """1,000 parked goroutines: Delve's own snapshot makes thousands of calls (an Eval
    per goroutine...), which keep the target stopped; the halted view a handful. A
    second look in the same stop reads nothing again; the next stop reads anew."""
    exe = gofixtures.build("basic")
    with gofixtures.run(exe, "-sleep", "1000") as t:
        session = attach_session(t.pid)
        await session.start()
        try:
            await session.halt()
            stop = session.stop
            assert isinstance(stop, DelveBackend)
            calls = count_calls(stop)
            snap = await session.snapshot()
            assert snap.source == "delve" and len(snap.goroutines) > 1000
            assert snap.target_paused_ns > 0
            threads = len((await stop.rpc.call("ListThreads", {}))["Threads"])
            assert calls["ListThreads"] == 2  # ours, and the one just above
            assert sum(calls.values()) <= 2 * threads + 8, calls
            assert "Eval" not in calls and "ListGoroutines" not in calls
            before = sum(calls.values())
            assert await session.snapshot() is snap
            assert sum(calls.values()) == before
            await session.cont()
            await session.halt()
            again = await session.snapshot()
            assert again is not snap and calls["ListThreads"] == 3
        finally:
            await session.close()
        assert gofixtures.wait_untraced(t.pid) and gofixtures.making_progress(t.pid)


async def test_snapshot_source_delve_counts_the_attach_in_the_pause() -> None:
    from gotui.backends.factory import take_snapshot

    exe = gofixtures.build("basic")
    with gofixtures.run(exe) as t:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        snap = await take_snapshot(t.pid, source="delve")
        took = loop.time() - t0
        assert gofixtures.wait_untraced(t.pid)
    # the target stopped at the attach and ran again at the detach: within the call
    assert 0 < snap.target_paused_ns <= took * 1e9
    assert snap.source == "delve" and any(g.status == "waiting" for g in snap.goroutines)
