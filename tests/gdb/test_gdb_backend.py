"""GdbBackend on real Go fixtures: stitched cgo stacks, breakpoints, run control."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from gotui.backends.base import StopBackend
from gotui.backends.gdb import GdbBackend
from gotui.backends.model import Breakpoint, Goroutine, GotuiError

from tests import gofixtures

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]


def by_start(gs: list[Goroutine], function: str) -> Goroutine:
    return next(g for g in gs if g.start.function == function)


def names(g: Goroutine) -> list[str]:
    return [f.function for f in g.stack]


async def test_is_a_stop_backend(gdb_cgo: GdbBackend) -> None:
    assert isinstance(gdb_cgo, StopBackend)
    assert gdb_cgo.name == "gdb"
    assert gdb_cgo.info.go_version.startswith("go1.")
    assert not (await gdb_cgo.state()).running


async def test_snapshot_stitches_go_and_c_frames(gdb_cgo: GdbBackend,
                                                 cgo_target: gofixtures.Target) -> None:
    snap = await gdb_cgo.snapshot(stacks=True)
    assert snap.source == "gdb" and snap.pid == cgo_target.pid
    for variant in ("nofp", "fp"):
        g = by_start(snap.goroutines, "main.sleepNoFP" if variant == "nofp" else "main.sleepFP")
        stack = names(g)
        assert g.status == "syscall" and g.thread_id
        # C frames (libc + ours) on top, then the boundary, then the Go frames below
        assert stack.index(f"c_inner_{variant}") < stack.index(f"c_sleep_{variant}") \
            < stack.index("runtime.asmcgocall") < stack.index("runtime.cgocall") \
            < stack.index(f"main._Cfunc_c_sleep_{variant}") < stack.index(
                "main.sleepNoFP" if variant == "nofp" else "main.sleepFP")
        assert stack[-1] == "runtime.goexit"
        inner = g.stack[stack.index(f"c_inner_{variant}")]
        assert inner.kind == "c" and inner.file.endswith(f"{variant}.c") and inner.line > 0
        assert g.stack[stack.index("runtime.asmcgocall")].note == "cgo boundary"
        assert any("sleep" in f.function and f.kind == "c" for f in g.stack[:3])


async def test_callback_goroutine_shows_c_frames_between_go_frames(gdb_cgo: GdbBackend) -> None:
    snap = await gdb_cgo.snapshot(stacks=True)
    for variant, start in (("fp", "main.callbackFP"), ("nofp", "main.callbackNoFP")):
        g = by_start(snap.goroutines, start)
        stack = names(g)
        assert g.status == "waiting" and g.wait_reason == "chan receive"
        assert g.blocked_on is not None and g.blocked_on.op == "recv"
        # Go (blocked in the callback) / C (the C caller) / Go (the goroutine that called C)
        assert stack.index("main.goCallback") < stack.index("runtime.cgocallback") \
            < stack.index("crosscall2") < stack.index(f"c_call_back_{variant}") \
            < stack.index("runtime.asmcgocall") < stack.index(start)
        assert g.stack[stack.index(f"c_call_back_{variant}")].kind == "c"
        assert g.user_current.function == "main.goCallback"
    chan = g.blocked_on.chan
    ch = next(c for c in snap.channels if c.addr == chan)
    assert sorted(ch.receivers) == sorted(
        x.id for x in snap.goroutines if x.blocked_on and x.blocked_on.chan == chan)
    assert len(ch.receivers) == 2 and ch.cap == 0


async def test_stack_of_one_goroutine(gdb_cgo: GdbBackend) -> None:
    gs = await gdb_cgo.goroutines()
    g = by_start(gs, "main.sleepFP")
    assert g.stack == []
    stack = await gdb_cgo.stack(g.id)
    assert "c_inner_fp" in [f.function for f in stack]
    with pytest.raises(GotuiError):
        await gdb_cgo.stack(999_999)


async def test_conditional_breakpoint_stops_only_when_true(gdb_basic: GdbBackend) -> None:
    bp = await gdb_basic.create_breakpoint(Breakpoint(function="main.hot", cond="i % 50 == 7"))
    assert bp.id and bp.cond == "i % 50 == 7" and bp.line > 0
    seen = []
    for _ in range(2):
        st = await gdb_basic.cont()
        assert st.stop_reason == f"breakpoint {bp.id}" and st.breakpoint_id == bp.id
        assert st.current is not None and st.current.function == "main.hot"
        seen.append(int((await gdb_basic.eval("i", -1, 0)).value))
    assert all(i % 50 == 7 for i in seen) and seen[1] == seen[0] + 50
    args = {v.name: v.value for v in await gdb_basic.args(-1, 0)}
    assert int(args["i"]) == seen[1]
    [listed] = await gdb_basic.breakpoints()
    assert listed.total_hits >= 2  # gdb may count the resume over a stop as a hit
    await gdb_basic.clear_breakpoint(bp.id)
    assert await gdb_basic.breakpoints() == []


async def test_no_breakpoint_hit_is_reported_twice(gdb_basic: GdbBackend) -> None:
    """Go's async preemption could re-run the breakpoint's instruction after a continue
    and gdb reported the same call again, in 1-2 % of continues: 3 of 150 in a script
    run before the fix, 0 of 600 after. 40 continues here (a suite-time budget) catch
    the old behaviour in roughly one run of five; it is a race that nothing makes
    certain. Otherwise this is test_conditional_breakpoint_stops_only_when_true, 40
    times."""
    await gdb_basic.create_breakpoint(Breakpoint(function="main.hot", cond="i % 10 == 7"))
    seen = []
    for _ in range(40):
        await gdb_basic.cont()
        seen.append(int((await gdb_basic.eval("i", -1, 0)).value))
    assert [b - a for a, b in zip(seen, seen[1:], strict=False)] == [10] * (len(seen) - 1), seen


async def test_hit_count_condition_uses_ignore_count(gdb_basic: GdbBackend) -> None:
    bp = await gdb_basic.create_breakpoint(Breakpoint(function="main.hot", hit_cond="> 3"))
    st = await gdb_basic.cont()
    assert st.breakpoint_id == bp.id
    [listed] = await gdb_basic.breakpoints()
    assert listed.total_hits == 4  # gdb counts ignored hits too: it stopped on the 4th
    with pytest.raises(GotuiError, match="hit conditions"):
        await gdb_basic.create_breakpoint(Breakpoint(function="main.hot", hit_cond="% 3"))


async def test_continue_then_halt(gdb_basic: GdbBackend, basic_target: gofixtures.Target) -> None:
    task = asyncio.create_task(gdb_basic.cont())
    for _ in range(100):
        if (await gdb_basic.state()).running:
            break
        await asyncio.sleep(0.02)
    assert (await gdb_basic.state()).running
    assert gofixtures.making_progress(basic_target.pid)
    with pytest.raises(GotuiError, match="halt"):
        await gdb_basic.goroutines()
    st = await gdb_basic.halt()
    assert not st.running and st.stop_reason == "halt" and st.halted_since
    assert (await task).stop_reason == "halt"
    gs = await gdb_basic.goroutines()
    assert {g.start.function for g in gs} >= {"main.receiver", "main.sender", "main.ticker"}


async def test_step_out_and_next(gdb_basic: GdbBackend) -> None:
    bp = await gdb_basic.create_breakpoint(Breakpoint(function="main.hot"))
    await gdb_basic.cont()
    await gdb_basic.clear_breakpoint(bp.id)
    st = await gdb_basic.step_out()
    assert st.current is not None and st.current.function == "main.ticker"
    line = st.current.line
    st = await gdb_basic.next()
    assert st.current is not None and st.current.function == "main.ticker"
    assert st.current.line != line


async def test_variables_of_a_parked_goroutine_say_why_not(gdb_basic: GdbBackend) -> None:
    gs = await gdb_basic.goroutines()
    parked = next(g for g in gs if g.start.function == "main.receiver")
    with pytest.raises(GotuiError, match="parked"):
        await gdb_basic.locals(parked.id, 0)


async def test_refuses_a_traced_process(gdb_basic: GdbBackend,
                                        basic_target: gofixtures.Target) -> None:
    other = GdbBackend.for_pid(basic_target.pid)
    with pytest.raises(GotuiError, match="already traced"):
        await other.start()
    assert other.gdb_pid == 0
