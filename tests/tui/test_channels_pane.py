"""The Channels and Findings panes: their rows, and the app mounting them (fake target)."""

from __future__ import annotations

import pytest
from gotui.backends.factory import attach_session
from gotui.backends.model import BlockedOn, Channel, Goroutine, Location
from gotui.tui.widgets.channels import (
    FOLD_MIN,
    ChannelsTable,
    FoldRow,
    channel_cells,
    channel_rows,
    fold_cells,
    fold_rows,
)
from gotui.tui.widgets.findings import FindingsTable, finding_cells
from gotui.tui.widgets.pane_tabs import PaneTabs
from textual.widgets import DataTable

from tests import gofixtures
from tests.tui.conftest import make_app
from tests.tui.fakes import JOBS_CHAN, FakeLive, RecordingSession
from tests.tui.test_app import WIDE, fake_live, halted, loaded, until, visible_ids

NARROW = (80, 24)


def waiter(goid: int, chan: str, op: str, wait_ns: int = 0) -> Goroutine:
    w = BlockedOn(chan, op)  # type: ignore[arg-type]
    return Goroutine(goid, wait_reason="chan receive", wait_ns=wait_ns, blocked_on=w,
                     waiting_on=[w])


def test_rows_merge_channel_queues_with_goroutine_waits() -> None:
    sel = Goroutine(9, wait_reason="select", waiting_on=[BlockedOn("0xa", "select"),
                                                         BlockedOn("0xb", "select")])
    rows = channel_rows(
        [Channel("0xa", "int", 0, 0, receivers=[3]), Channel("0xc", "string", 2, 2),
         Channel("0xd", "bool", 0, 1, closed=True)],
        [waiter(3, "0xa", "recv", 61_000_000_000), waiter(4, "0xa", "recv"), sel,
         waiter(5, "0xb", "send")], touched_by=0)
    assert [r.chan.addr for r in rows] == ["0xa", "0xb"]  # idle channels are left out
    a, b = rows
    assert (a.receivers, a.senders, a.selecting, a.longest_ns) == ([3, 4], [], [9],
                                                                    61_000_000_000)
    assert channel_cells(a)[:8] == ("0xa", "int", "3", "0/0", "", "", "3,4", "9")
    assert (b.chan.elem_type, b.senders, b.selecting) == ("", [5], [9])  # known from g only
    touched = channel_rows([Channel("0xc", "string", 2, 2)], [], touched_by=0)
    assert touched == []
    mine = Goroutine(12, status="running", waiting_on=[BlockedOn("0xc", "recv")])
    assert [r.chan.addr for r in channel_rows([Channel("0xc", "string")], [mine], 12)] == [
        "0xc"]


def table_cells(table: DataTable[str]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


async def test_channels_pane_lists_waiters_and_enter_filters_the_goroutines(
        session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot, app)
        chans = app.query_one(ChannelsTable)
        await until(pilot, lambda: len(chans.rows_shown) == 1, "the channel row")
        await pilot.press("7")
        assert app.active_pane == "channels" and app.query_one(PaneTabs).active == "channels"
        assert chans.display and app.focused is chans
        assert not app.goroutine_pane.display  # narrow: one pane at a time
        workers = [g.id for g in app.index.data.live.values() if g.blocked_on is not None]
        row = table_cells(chans)[0]  # the channel first, then locks and other groups
        assert row[:4] == [JOBS_CHAN, "int", str(len(workers)), "1/4"]
        assert row[6].startswith("5,10,15,…")
        assert row[8] == "6m06s"  # goroutine 20 (or 6 * 61 s): the longest waiter
        await pilot.press("enter")
        await until(pilot, lambda: app.active_pane == "goroutines", "back to the goroutines")
        assert app.index.filter_text == JOBS_CHAN
        assert visible_ids(app) == workers


async def test_halted_channel_shows_its_elements(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        chans = app.query_one(ChannelsTable)
        assert chans.border_subtitle == ""  # running: no buffered values
        await halted(pilot, app)
        await until(pilot, lambda: chans.border_subtitle == "elements: [7]", "elements")


LEAK_SITE = Location("main.leakLoop", "/src/main.go", 60)


def park(live: FakeLive, goid: int, reason: str, chan: str = "") -> None:
    """Add a goroutine of main.leakLoop parked for good to the fake target."""
    wait = [BlockedOn(chan, "recv")] if chan else []
    live._cache[goid] = Goroutine(goid, wait_reason=reason, start=Location("main.fetch"),
                                  go_statement=LEAK_SITE, blocked_on=wait[0] if wait else None,
                                  waiting_on=wait)
    live.ids.append(goid)


async def test_findings_pane_ranks_and_enter_jumps_to_the_first_goroutine(
        session: RecordingSession) -> None:
    live = fake_live(session)
    park(live, 100, "chan receive (nil chan)")
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("8")
        assert app.query_one("#analysis").display and not app.query_one("#lower").display
        table = app.query_one(FindingsTable)
        await until(pilot, lambda: [f.kind for f in table.items] == ["nil-chan"], "nil-chan")
        for goid in (101, 102, 103):  # one more leaked goroutine per refresh
            park(live, goid, "chan receive", f"0x{goid}")
            await pilot.press("ctrl+r")
            await until(pilot, lambda n=goid: n in app.index.data.live, "the new goroutine")
        await until(pilot, lambda: [f.kind for f in table.items] == ["nil-chan", "leak"],
                    "the leak, ranked after the proof")
        assert table.items[1].goroutines == [100, 101, 102, 103]  # 1 → 2 → 3 → 4 parked
        assert "blocked forever" in str(table.get_row_at(0)[2])
        app.goroutine_pane.set_filter("status:running")  # hides the finding's goroutines
        await pilot.press("enter")
        await until(pilot, lambda: app.active_pane == "goroutines", "back to the goroutines")
        assert app.index.filter_text == ""
        current = app.goroutine_pane.list.current_goroutine
        assert current is not None and current.id == 100
        assert app.query_one("#lower").display and not app.query_one("#analysis").display


async def test_findings_table_is_rebuilt_only_when_its_rows_change(
        session: RecordingSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild throws away the table's rendered lines: a refresh that finds the same
    leaves the table alone; one that finds more rebuilds it, cursor kept."""
    live = fake_live(session)
    park(live, 100, "chan receive (nil chan)")
    park(live, 101, "chan receive", "0x101")
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("8")
        table = app.query_one(FindingsTable)
        await until(pilot, lambda: len(table.items) == 2, "two findings")
        await pilot.press("down")
        rebuilds: list[int] = []
        clear = table.clear
        monkeypatch.setattr(table, "clear", lambda *a, **k: (rebuilds.append(1), clear(*a, **k))[1])
        for _ in range(2):  # two refreshes that find the same
            view = app.main.refresh_view
            await pilot.press("ctrl+r")
            await until(pilot, lambda v=view: app.main.refresh_view is not v
                        and app.main.refresh_view.analysed, "a refresh")
        assert rebuilds == [] and table.cursor_row == 1
        park(live, 102, "chan receive (nil chan)")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any(102 in f.goroutines for f in table.items),
                    "the finding with the new goroutine")
        assert rebuilds == [1] and table.cursor_row == 1
        assert [table.get_row_at(i) for i in range(table.row_count)] == [
            list(finding_cells(f)) for f in table.items]


@pytest.mark.integration
async def test_real_deadlock_and_leak_in_the_panes() -> None:
    """chans_deadlock read live (no stop): the leak and the two stuck senders show as
    findings after a few refreshes; the channels pane lists the cycle's channels."""
    exe = gofixtures.build("chans_deadlock")
    with gofixtures.run(exe) as target:
        session = attach_session(target.pid)
        app = make_app(session, refresh_interval=0.25)  # type: ignore[arg-type]
        try:
            async with app.run_test(size=WIDE) as pilot:
                await until(pilot, lambda: len(app.index.data) > 0, "live goroutines", 20)
                await pilot.press("8")
                table = app.query_one(FindingsTable)
                await until(pilot, lambda: [f.kind for f in table.items] == [
                    "leak", "orphan-wait", "orphan-wait"], "the leak and the cycle", 20)
                assert "main.leakLoop" in table.items[0].title
                by_fn = {g.start.function: g for g in app.index.data.live.values()}
                cycle = {by_fn["main.left"].id, by_fn["main.right"].id}
                assert {f.goroutines[0] for f in table.items[1:]} == cycle
                chans = app.query_one(ChannelsTable)
                shown = {r.chan.addr: r for r in chans.rows_shown}
                for name in ("main.left", "main.right"):
                    g = by_fn[name]
                    assert g.blocked_on is not None
                    assert shown[g.blocked_on.chan].senders == [g.id]
        finally:
            await session.close()
        assert gofixtures.wait_untraced(target.pid, 10)


def test_one_waiter_channels_of_one_site_fold_into_one_row() -> None:
    site = Location("main.leakLoop", "/src/main.go", 60)
    leaked = [Goroutine(10 + i, wait_reason="chan receive", go_statement=site,
                        blocked_on=BlockedOn(f"0x{i}", "recv"), waiting_on=[BlockedOn(
                            f"0x{i}", "recv")]) for i in range(FOLD_MIN)]
    other = waiter(3, "0xa", "recv")
    chans = [Channel(f"0x{i}", "string") for i in range(FOLD_MIN)] + [Channel("0xa", "int")]
    rows = fold_rows(channel_rows(chans, [*leaked, other]), [*leaked, other])
    assert len(rows) == 2
    fold = next(r for r in rows if isinstance(r, FoldRow))
    assert fold.site == "main.leakLoop main.go:60" and len(fold.rows) == FOLD_MIN
    assert fold_cells(fold)[0] == f"{FOLD_MIN} channels"
    assert fold_cells(fold)[2] == str(FOLD_MIN) and fold.filter_text == fold.site
    fewer = fold_rows(channel_rows(chans[1:], leaked[1:]), leaked[1:])
    assert not any(isinstance(r, FoldRow) for r in fewer)  # under FOLD_MIN: one row each


async def test_enter_on_a_lock_row_lists_its_waiters(session: RecordingSession) -> None:
    live = fake_live(session)
    for goid in (200, 201):
        live._cache[goid] = Goroutine(goid, wait_reason="sync.Mutex.Lock",
                                      start=Location("main.locker"), blocked_on_lock="0xc0ffee0")
        live.ids.append(goid)
    app = make_app(session)
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot, app)
        chans = app.query_one(ChannelsTable)
        await until(pilot, lambda: any(r.group.key == "0xc0ffee0" for r in chans.groups_shown),
                    "the lock row")
        await pilot.press("7")
        row = next(i for i, r in enumerate(chans.table_rows)
                   if getattr(r, "key", "") == "group:0xc0ffee0")
        assert table_cells(chans)[row][1:3] == ["semaphore", "2: 200,201"]
        chans.move_cursor(row=row)
        await pilot.press("enter")
        await until(pilot, lambda: app.active_pane == "goroutines", "back to the goroutines")
        assert app.index.filter_text == "0xc0ffee0"
        assert visible_ids(app) == [200, 201]
