"""100k goroutines: the list filters, groups, jumps and scrolls. Timings are printed
(run with -s), never asserted; the numbers go to the README via the lead.

Two kinds of numbers: "key" is Pilot press-to-idle (includes Pilot's own waiting,
~100 ms even at 1k goroutines), "work" is the UI work a keypress does on the event
loop (index update + rendering every visible line)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tests.tui.conftest import make_app
from tests.tui.fakes import FakeLive, make_session
from tests.tui.test_app import until, visible_ids

N = int(os.environ.get("GOTUI_SCALE_N", "100000"))


async def test_100k_goroutines_filter_group_jump_scroll(tmp_path: Path) -> None:
    session = make_session(tmp_path, n=N)
    assert isinstance(session.live, FakeLive)
    session.live.goroutines()  # build the synthetic goroutines before the clock starts
    app = make_app(session, refresh_interval=30)
    timings: dict[str, float] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        t0 = time.perf_counter()
        await until(pilot, lambda: len(app.index.data) == N, "100k snapshot", timeout=60)
        timings["first paint"] = time.perf_counter() - t0

        async def timed(name: str, *keys: str) -> None:
            t = time.perf_counter()
            await pilot.press(*keys)
            timings[name] = (time.perf_counter() - t) / len(keys)

        await timed("key: pagedown (per key)", *["pagedown"] * 10)
        assert app.goroutine_pane.list.cursor > 100
        await timed("key: end", "end")
        assert app.goroutine_pane.list.current_goroutine.id == N  # type: ignore[union-attr]
        await pilot.press("slash")
        await timed("key: filter keystroke (per key)", *"main.worker")
        await pilot.press("enter")
        assert app.index.matched == N // 5
        assert visible_ids(app)[:3] == [5, 10, 15]
        await timed("key: group by location", "G")
        assert [n for _, n in app.index.groups] == [N // 5]
        await pilot.press("G")  # by go statement
        await timed("key: group by go statement", "G")
        await timed("key: sort by wait", "S")
        await pilot.press("escape")
        assert app.index.matched == N
        target = N * 7 // 9
        await timed("key: jump to an id", "g", *str(target), "enter")
        assert app.goroutine_pane.list.current_goroutine.id == target  # type: ignore[union-attr]
        await timed("key: clear groups", "G", "G")
        t = time.perf_counter()
        session.live.ids = session.live.ids[1000:] + list(range(N + 1, N + 501))
        app.refresher.refresh()
        await until(pilot, lambda: N + 500 in app.index.data.live, "refresh", timeout=60)
        timings["refresh with 1000 gone / 500 new"] = time.perf_counter() - t
        assert app.index.data.new_count == 500 and app.index.data.gone_count == 1000
        pane = app.goroutine_pane
        glist = pane.list

        def work(name: str, fn: Callable[[], object]) -> None:
            t = time.perf_counter()
            fn()
            for y in range(glist.size.height):
                glist.render_line(y)
            timings[f"work: {name}"] = time.perf_counter() - t

        for n in range(1, len("main.worker") + 1):
            work(f"filter {'main.worker'[:n]!r}", partial(pane.set_filter, "main.worker"[:n]))
        work("filter 'status:waiting'", partial(pane.set_filter, "status:waiting"))
        work("clear filter", partial(pane.set_filter, ""))
        for _ in range(4):
            work(f"group -> {app.index.group_mode} +1", pane.action_cycle_group)
        work("collapse all", glist.action_collapse_all)
        work("group -> none", pane.action_cycle_group)
        for _ in range(3):
            work(f"sort -> {app.index.sort_key} +1", pane.action_cycle_sort)
        work("page down", partial(glist.action_page, 1))
        work("jump", partial(glist.jump_to, N // 3))
    for name, seconds in timings.items():
        print(f"  {N} goroutines: {name:40s} {seconds * 1000:8.1f} ms")
