"""Lock holders in the Blocking pane (rows under each lock; Enter goes to the holder)
and `w`, the wait-for chain of the selected goroutine (fake target)."""

from __future__ import annotations

import dataclasses

from gotui.backends.model import Holding, Location, Lock, Snapshot
from gotui.backends.waitfor import WaitGraph
from gotui.tui.screens.why import WhyScreen
from gotui.tui.widgets.channels import ChannelsTable, HolderRow, holding_text
from textual.widgets import OptionList

from tests.tui.conftest import make_app
from tests.tui.fakes import RecordingSession
from tests.tui.test_app import WIDE, fake_live, loaded, until

MU = "0xc000123450"
WAITERS = (3, 4)
HOLDER = 7


def with_a_held_lock(session: RecordingSession) -> None:
    live = fake_live(session)
    live.goroutines()  # fill its cache, then park two goroutines on MU held by 7
    for goid in WAITERS:
        live._cache[goid] = dataclasses.replace(
            live._cache[goid], status="waiting", wait_reason="sync.Mutex.Lock",
            blocked_on=None, waiting_on=[], blocked_on_lock=MU)
    plain = live.snapshot

    def snapshot() -> Snapshot:
        snap = plain()
        snap.locks = [Lock(MU, "mutex", waiters=list(WAITERS), holders=[HOLDER],
                           holders_basis="inferred",
                           holding=[Holding(HOLDER, "inferred", 3_000_000_000,
                                            Location("main.transfer", "/src/main.go", 88),
                                            "lock", "its frame points at the lock")])]
        return snap

    live.snapshot = snapshot  # type: ignore[method-assign]


async def test_blocking_pane_lists_the_holder_and_enter_goes_to_it(
        session: RecordingSession) -> None:
    with_a_held_lock(session)
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("7")
        table = app.query_one(ChannelsTable)
        await until(pilot, lambda: any(isinstance(r, HolderRow) for r in table.table_rows),
                    "the holder row")
        at = next(i for i, r in enumerate(table.table_rows) if isinstance(r, HolderRow))
        lock_row = [str(c) for c in table.get_row_at(at - 1)]
        holder_row = [str(c) for c in table.get_row_at(at)]
        assert lock_row[0] == MU and lock_row[2].startswith("2: 3,4")
        assert holder_row[2] == "g7 ≥ 3s main.transfer main.go:88 (inferred)"
        assert holding_text(table.table_rows[at].holding) == holder_row[2]  # type: ignore[union-attr]
        table.move_cursor(row=at)
        await pilot.pause(0.1)
        assert "inferred: its frame points at the lock" in str(table.border_subtitle)
        await pilot.press("enter")
        await until(pilot, lambda: app.active_pane == "goroutines", "back to the goroutines")
        current = app.goroutine_pane.list.current_goroutine
        assert current is not None and current.id == HOLDER


async def test_w_shows_why_a_goroutine_is_stuck_and_goes_along_the_chain(
        session: RecordingSession) -> None:
    with_a_held_lock(session)
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        app.goroutine_pane.list.jump_to(WAITERS[0])
        await until(pilot, lambda: app.selection.goid == WAITERS[0], "the waiter selected")
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, WhyScreen), "the chain")
        screen = app.screen
        assert isinstance(screen, WhyScreen)
        assert [s.goroutine for s in screen.steps][:2] == [WAITERS[0], HOLDER]
        view = app.main.refresh_view  # the chain from the view's waiting goroutines
        assert view is not None and view.analysed and HOLDER not in view.waiting
        assert screen.steps == WaitGraph(view.snapshot).chain(WAITERS[0])
        text = str(screen.query_one("#why-text").render())
        assert text.startswith("g3 waits for mutex 0xc000123450 held by g7 (main.transfer "
                               "main.go:88, holding ≥ 3s, inferred), which")
        steps = screen.query_one(OptionList)
        steps.highlighted = 1
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, WhyScreen), "closed")
        await until(pilot, lambda: app.selection.goid == HOLDER, "the holder selected")
