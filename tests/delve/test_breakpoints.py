"""Breakpoints, conditions, hit conditions, stepping: real dlv, basic fixture."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.model import Breakpoint, GotuiError, TargetState

from .progress import until_running

pytestmark = pytest.mark.integration

MAIN_GO = Path(__file__).resolve().parent.parent / "fixtures" / "basic" / "main.go"


def line_of(text: str) -> int:
    for n, line in enumerate(MAIN_GO.read_text().splitlines(), 1):
        if line.strip() == text:
            return n
    raise AssertionError(f"{text!r} not in {MAIN_GO}")


async def cont(b: DelveBackend) -> TargetState:
    st = await asyncio.wait_for(b.cont(), 20)
    assert not st.running and not st.exited
    return st


async def current_i(b: DelveBackend, st: TargetState) -> int:
    return int((await b.eval("i", st.current_goroutine, 0)).value)


async def test_conditional_breakpoint_stops_only_on_matching_hits(b_hot: tuple) -> None:
    b, _ = b_hot
    bp = await b.create_breakpoint(Breakpoint(function="main.hot", cond="i % 100 == 7"))
    # Delve stores the condition re-printed from its AST
    assert bp.id > 0 and bp.cond.replace(" ", "") == "i%100==7" and bp.function == "main.hot"
    seen = []
    for _ in range(2):
        st = await cont(b)
        assert st.breakpoint_id == bp.id and st.stop_reason == "breakpoint"
        assert st.current is not None and st.current.function == "main.hot"
        seen.append(await current_i(b, st))
    assert all(i % 100 == 7 for i in seen) and seen[1] - seen[0] == 100
    args = {v.name: v for v in await b.args(st.current_goroutine, 0)}
    assert int(args["i"].value) == seen[1]
    assert args["r"].kind == "ptr" and 'Path: "/api/v1/profile"' in render(args["r"])
    [listed] = await b.breakpoints()
    assert listed.total_hits == 2 and listed.hits_per_goroutine == {st.current_goroutine: 2}


def render(v) -> str:  # noqa: ANN001 - model.Variable
    from gotui.backends.delve.convert import render_value
    return render_value(v)


async def test_hit_condition_modulo(b_hot: tuple) -> None:
    b, _ = b_hot
    bp = await b.create_breakpoint(Breakpoint(function="main.hot", hit_cond="% 3"))
    assert bp.hit_cond == "% 3"
    first = await current_i(b, await cont(b))
    second = await current_i(b, await cont(b))
    assert second - first == 3
    [listed] = await b.breakpoints()
    assert listed.total_hits == 6  # stops on hits 3 and 6 only


async def test_hit_condition_greater_than(b_hot: tuple) -> None:
    b, _ = b_hot
    await b.create_breakpoint(Breakpoint(function="main.hot", hit_cond="> 5"))
    await cont(b)
    [listed] = await b.breakpoints()
    assert listed.total_hits == 6  # hits 1..5 pass, hit 6 stops
    first = await current_i(b, await b.state())
    second = await current_i(b, await cont(b))
    assert second == first + 1  # once past 5, every hit stops


async def test_amend_keeps_the_rest_of_the_breakpoint(b_hot: tuple) -> None:
    b, target = b_hot
    bp = await b.create_breakpoint(Breakpoint(function="main.hot", name="hotbp"))
    bp.cond = "i % 10 == 3"
    amended = await b.amend_breakpoint(bp)
    assert (amended.name, amended.cond.replace(" ", ""), amended.addrs) == (
        "hotbp", "i%10==3", bp.addrs)
    assert await current_i(b, await cont(b)) % 10 == 3
    amended.enabled = False
    disabled = await b.amend_breakpoint(amended)
    assert not disabled.enabled and disabled.cond.replace(" ", "") == "i%10==3"
    hits = disabled.total_hits
    run = asyncio.create_task(b.cont())
    await until_running(b, target.pid, target.exe)  # main.hot ran: the breakpoint was passed
    st = await b.halt()
    await asyncio.wait_for(run, 10)
    assert st.breakpoint_id == 0
    assert (await b.breakpoints())[0].total_hits == hits
    await b.clear_breakpoint(bp.id)
    assert await b.breakpoints() == []


async def test_create_disabled_breakpoint(b_hot: tuple) -> None:
    b, _ = b_hot
    bp = await b.create_breakpoint(Breakpoint(function="main.hot", cond="i > 0",
                                              enabled=False))
    assert not bp.enabled and bp.cond.replace(" ", "") == "i>0"


@pytest.mark.parametrize("bp, words", [
    (Breakpoint(function="main.nosuchfunc"), ["main.nosuchfunc"]),
    (Breakpoint(file="main.go", line=100000), ["main.go:100000"]),
    (Breakpoint(function="main.hot", cond="i %% 100"), ["main.hot"]),
    (Breakpoint(function="main.hot", hit_cond="sometimes"), ["main.hot"]),
])
async def test_bad_breakpoints_are_one_line_errors(b_hot: tuple, bp: Breakpoint,
                                                   words: list[str]) -> None:
    b, _ = b_hot
    with pytest.raises(GotuiError) as err:
        await b.create_breakpoint(bp)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("cannot set breakpoint at")
    assert all(w in msg for w in words)
    assert await b.breakpoints() == []


async def test_next_step_stepout_move_the_location(b_hot: tuple) -> None:
    b, _ = b_hot
    call_line = line_of("hot(i, r)")
    bp = await b.create_breakpoint(Breakpoint(file=str(MAIN_GO), line=call_line))
    st = await cont(b)
    assert st.current is not None and st.current.line == call_line
    await b.clear_breakpoint(bp.id)
    st = await b.step()
    assert st.current is not None and st.current.function == "main.hot"
    assert st.current.line in (line_of("func hot(i int, r *request) int {"),
                               line_of("atomic.AddInt64(&counter, 1)"))
    lines = [st.current.line]
    while lines[-1] != line_of("return i * 2") and len(lines) < 4:
        st = await b.next()
        assert st.current is not None and st.current.function == "main.hot"
        lines.append(st.current.line)
    assert lines[-1] == line_of("return i * 2") and lines == sorted(set(lines))
    st = await b.step_out()
    assert st.current is not None and st.current.function == "main.ticker"
    assert st.current.line in (call_line, call_line + 1)
    st = await b.next()
    assert st.current is not None and st.current.function == "main.ticker"


async def test_switch_goroutine(b_hot: tuple) -> None:
    b, _ = b_hot
    gs = await b.goroutines()
    receiver = next(g for g in gs if g.start.function == "main.receiver")
    st = await b.switch_goroutine(receiver.id)
    assert st.current_goroutine == receiver.id
    assert st.current is not None and st.current.function == "main.receiver"


@pytest.fixture
async def b_hot(backend: DelveBackend, target) -> tuple:  # noqa: ANN001
    return backend, target


async def test_a_condition_that_fails_to_evaluate_disables_its_breakpoint(b_hot: tuple) -> None:
    """Delve halts on every hit of a breakpoint whose condition cannot be evaluated
    ("could not find symbol value for ..."): cont() disables it, says so once, and the
    target keeps running instead of halting on each hit."""
    b, target = b_hot
    bp = await b.create_breakpoint(Breakpoint(function="main.hot", cond="nosuch == 1"))
    notices: list[str] = []
    b.on_notice = notices.append
    running = asyncio.get_running_loop().create_task(b.cont())
    for _ in range(100):
        if notices:
            break
        await asyncio.sleep(0.1)
    assert len(notices) == 1 and f"breakpoint {bp.id}" in notices[0]
    assert "nosuch" in notices[0] and "disabled" in notices[0]
    await asyncio.sleep(0.5)
    assert not running.done()  # still running: it did not halt again
    st = await b.halt()
    await asyncio.wait_for(running, 20)
    assert not st.running
    [listed] = await b.breakpoints()
    assert listed.id == bp.id and not listed.enabled and len(notices) == 1
