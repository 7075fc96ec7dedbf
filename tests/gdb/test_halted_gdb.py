"""`snapshot --source gdb` is the halted view too (backends/halted.py): the live reader
while gdb holds the target stopped, gdb only for the goroutines an OS thread runs."""

from __future__ import annotations

import pytest
from gotui.backends.factory import take_snapshot
from gotui.backends.gdb import GdbBackend

from tests import gofixtures
from tests.needs import requires_gdb

pytestmark = [pytest.mark.integration, requires_gdb]


async def test_running_and_c_goroutines_from_gdbs_threads() -> None:
    exe = gofixtures.build("ebpf_args")
    with gofixtures.run(exe, "-spin") as t:
        snap = await take_snapshot(t.pid, source="gdb", stacks=True)
        assert gofixtures.wait_untraced(t.pid) and gofixtures.making_progress(t.pid)
    assert snap.source == "gdb" and snap.target_paused_ns > 0
    spinner = next(g for g in snap.goroutines if g.start.function == "main.main.func1")
    assert spinner.status == "running" and spinner.thread_id
    assert spinner.current.function in ("main.spin", "main.main.func1")
    assert spinner.stack and spinner.stack[-1].function == "runtime.goexit"
    parked = [g for g in snap.goroutines if g.status == "waiting"]
    assert parked and all(g.stack and g.current.function for g in parked)


async def test_c_frames_of_goroutines_in_c(cgo_target: gofixtures.Target) -> None:
    snap = await take_snapshot(cgo_target.pid, source="gdb", stacks=True)
    assert gofixtures.wait_untraced(cgo_target.pid)
    g = next(g for g in snap.goroutines if g.start.function == "main.sleepNoFP")
    names = [f.function for f in g.stack]
    assert g.thread_id and "c_sleep_nofp" in names
    i = names.index("runtime.asmcgocall")
    assert names[i + 1:] == ["runtime.cgocall", "main._Cfunc_c_sleep_nofp", "main.sleepNoFP",
                             "runtime.goexit"]
    assert g.user_current.function == "main.sleepNoFP"


async def test_thread_goroutines_are_only_those_an_m_runs(cgo_target: gofixtures.Target
                                                          ) -> None:
    b = GdbBackend.for_pid(cgo_target.pid)
    await b.start()
    try:
        on_threads = await b.thread_goroutines()
        everyone = await b.goroutines()
    finally:
        await b.detach()
    assert on_threads and len(on_threads) < len(everyone)
    assert all(g.thread_id for g in on_threads)
    assert {g.id for g in on_threads} <= {g.id for g in everyone if g.thread_id}
