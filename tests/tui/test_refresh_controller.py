"""The refresh controller: the first paint before the other panes, the adaptive
interval and the user's own, a refresh asked for while one is in flight."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from gotui.backends import yielding
from gotui.backends.model import Snapshot
from gotui.tui.app import GotuiApp
from gotui.tui.controllers.refresh import ADAPTIVE_SHARE, INPUT_QUIET, put_off, with_the_rest
from textual.pilot import Pilot

from tests.tui.conftest import make_app
from tests.tui.fakes import RecordingSession, make_session
from tests.tui.test_app import WIDE, fake_live, loaded, until


async def test_the_list_paints_before_the_other_panes_are_mounted(tmp_path: Path) -> None:
    session = make_session(tmp_path)
    live = fake_live(session)
    gate = asyncio.Event()
    plain = live.snapshot

    async def gated() -> Snapshot:
        await gate.wait()
        return plain()

    async def snapshot(stacks: bool = False) -> Snapshot:
        return await gated()

    session.snapshot = snapshot  # type: ignore[method-assign]
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause(0.3)
        assert app.main.goroutine_pane.display  # the first screen: the list, waiting
        assert not app.main.panes_ready.is_set()
        assert not app.main.query("#pane-stack") and not app.main.query("#pane-channels")
        gate.set()
        await until(pilot, lambda: len(app.index.data) > 0, "the list")
        await until(pilot, app.main.panes_ready.is_set, "every pane after the first paint")
        assert app.main.query("#pane-stack") and app.main.query("#pane-findings")


def busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


async def test_a_costly_refresh_stretches_the_interval_and_says_so(
        session: RecordingSession) -> None:
    live = fake_live(session)
    plain = live.snapshot

    def costly() -> Snapshot:
        busy(0.06)  # more than ADAPTIVE_SHARE of a 0.25 s interval
        return plain()

    live.snapshot = costly  # type: ignore[method-assign]
    app = make_app(session, refresh_interval=0.25)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        refresher = app.refresher
        await until(pilot, lambda: refresher.interval > 0.25, "a stretched interval",
                    timeout=20)
        assert refresher.cost / refresher.interval <= ADAPTIVE_SHARE
        assert "(adaptive)" in app.header.refresh_label
        await pilot.press("plus")  # the user's choice wins: no more stretching
        chosen = refresher.interval
        assert not refresher.adaptive and "(adaptive)" not in app.header.refresh_label
        count = live.snapshots
        await until(pilot, lambda: live.snapshots > count + 3, "refreshes at their pace",
                    timeout=20)
        assert refresher.interval == chosen


async def started(pilot: Pilot[None], app: GotuiApp) -> None:
    """Loaded, and the refreshes of the start are done (the next timer one is 30 s
    away with refresh_interval=30)."""
    await loaded(pilot, app)
    await until(pilot, lambda: not app.refresher.in_flight, "the first refreshes")
    await pilot.pause(0.5)
    await until(pilot, lambda: not app.refresher.in_flight, "the first refreshes")


async def test_a_refresh_asked_for_during_another_one_follows_it(
        session: RecordingSession) -> None:
    app = make_app(session, refresh_interval=30)
    async with app.run_test(size=WIDE) as pilot:
        await started(pilot, app)
        live = fake_live(session)
        gate = asyncio.Event()
        session_snapshot = session.snapshot

        async def slow(stacks: bool = False) -> Snapshot:
            await gate.wait()
            return await session_snapshot(stacks)

        session.snapshot = slow  # type: ignore[method-assign]
        count = live.snapshots
        app.refresher.refresh()
        await until(pilot, lambda: app.refresher.in_flight, "one in flight")
        live.ids = [*live.ids, 41]  # what the second one must show
        app.refresher.refresh()  # (a halt, ctrl+r) while the first is on its way
        gate.set()
        # (the first may already see 41: the ids changed before its gate opened)
        await until(pilot, lambda: live.snapshots == count + 2 and not app.refresher.in_flight,
                    "the one asked for later")
        assert 41 in app.index.data.live


async def test_a_key_makes_refresh_threads_step_aside_until_it_is_painted(
        session: RecordingSession, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    monkeypatch.setattr(yielding, "input_arrived", lambda: said.append("arrived"))
    monkeypatch.setattr(yielding, "input_done", lambda: said.append("done"))
    app = make_app(session, refresh_interval=30)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        said.clear()
        await pilot.press("j")
        await until(pilot, lambda: "done" in said, "the key painted")
        assert said[0] == "arrived"


async def test_a_finished_refresh_is_shown_after_the_input_being_handled(
        session: RecordingSession, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(session, refresh_interval=30)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        live = fake_live(session)
        monkeypatch.setattr(yielding, "MAX_STEP", 600.0)
        yielding.input_arrived(hold=600.0)  # a key being handled, not painted yet
        try:
            count = live.snapshots
            live.ids = [*live.ids, 41]
            app.refresher.refresh()
            await until(pilot, lambda: live.snapshots == count + 1, "the snapshot taken")
            await pilot.pause(0.3)
            assert 41 not in app.index.data.live  # waits for the input
        finally:
            yielding.input_done()
        await until(pilot, lambda: 41 in app.index.data.live, "shown once the input is done")


def test_a_due_refresh_waits_for_quiet_input_but_at_most_one_interval() -> None:
    assert put_off(since_input=INPUT_QUIET, late=0.0, interval=5.0) == 0.0
    assert put_off(since_input=float("inf"), late=0.0, interval=5.0) == 0.0
    assert put_off(since_input=0.25, late=0.0, interval=5.0) == INPUT_QUIET - 0.25
    assert put_off(since_input=0.0, late=4.5, interval=5.0) == 0.5  # never later than that
    assert put_off(since_input=0.0, late=5.0, interval=5.0) == 0.0


async def test_a_timer_refresh_waits_while_keys_arrive_and_runs_once_they_stop(
        session: RecordingSession, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(session, refresh_interval=30)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await until(pilot, lambda: not app.refresher.in_flight, "the first refreshes")
        refresher = app.refresher
        yielding.input_arrived()  # a key, just now
        refresher._tick()  # the 30 s timer fires
        assert not refresher.in_flight  # put off
        assert refresher._due_at is not None
        monkeypatch.setattr(yielding, "_last_input", time.monotonic() - INPUT_QUIET)
        refresher._tick()  # the put-off tick, once input is quiet
        assert refresher.in_flight and refresher._due_at is None
        await until(pilot, lambda: not refresher.in_flight, "the refresh")
        # late by a whole interval, it runs whatever the keys do
        yielding.input_arrived()
        refresher._tick()
        monkeypatch.setattr(refresher, "_due_at", time.monotonic() - 30)
        refresher._tick()
        assert refresher.in_flight
        yielding.input_done()


async def test_the_same_snapshot_again_is_not_worked_on_again(
        session: RecordingSession) -> None:
    """A joiner's session hands out the host's last snapshot until the next one comes:
    a refresh that gets the one shown does no work."""
    app = make_app(session, refresh_interval=30)
    async with app.run_test(size=WIDE) as pilot:
        await started(pilot, app)
        shown = app.refresher.shown
        assert shown is not None
        builds = []
        build = app.refresher.model.build

        def counted(*args: object) -> object:
            builds.append(args[0])
            return build(*args)  # type: ignore[arg-type]

        async def same(stacks: bool = False) -> Snapshot:
            return shown

        app.refresher.model.build = counted  # type: ignore[method-assign]
        session.snapshot = same  # type: ignore[method-assign]
        app.refresher.refresh()
        await until(pilot, lambda: not app.refresher.in_flight, "the refresh")
        assert builds == [] and app.refresher.shown is shown
        fake_live(session).ids = [*fake_live(session).ids, 41]
        del session.snapshot  # the fake's own again: a new snapshot
        app.refresher.refresh()
        await until(pilot, lambda: 41 in app.index.data.live, "the new snapshot")
        assert len(builds) == 1


def test_what_the_app_spends_between_refreshes_shrinks_their_share() -> None:
    share = ADAPTIVE_SHARE
    assert with_the_rest(0.08, 0.08, 1.0) == 0.08  # nothing else: the refresh's own
    # 3 % of a core meanwhile: the refresh gets 7 %, so it needs 0.08 / 0.07 s
    assert abs(with_the_rest(0.08, 0.11, 1.0) / share - 0.08 / (share - 0.03)) < 1e-9
    assert with_the_rest(0.08, 5.0, 1.0) == 0.08 * 2  # never less than half the share
    assert with_the_rest(0.08, 0.0, 0.0) == 0.08
