"""What the TUI offers must apply: footer keys by session kind (core, live only, viewer,
halted / running), the help screen's panes and share tokens, tab names at 80 columns,
panes that say why they are empty, lock waiters without an address."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gotui.backends.analysis import blocking_groups
from gotui.backends.model import Goroutine, Location, TargetState
from gotui.backends.notices import Publisher
from gotui.backends.remote.client import join
from gotui.tui.app import GotuiApp
from gotui.tui.ebpf_view import CORE_NOTE
from gotui.tui.screens.help import HelpScreen
from gotui.tui.screens.quit import QuitScreen
from gotui.tui.widgets.channels import ChannelsTable, blocking_rows, unplaced_lock_rows
from gotui.tui.widgets.findings import NOTHING_FOUND, FindingsTable
from gotui.tui.widgets.footer import GotuiFooter
from gotui.tui.widgets.pane_tabs import PaneTabs
from gotui.tui.widgets.probe_status import rate
from gotui.tui.widgets.tracepoint_log import TracepointPane
from textual.widgets import Static

from tests.remote.conftest import make_host
from tests.tui.conftest import make_app
from tests.tui.fakes import FakeStop, RecordingSession, make_session
from tests.tui.test_app import WIDE, halted, loaded, until

EXEC_KEYS = {"h", "c", "n", "s", "o", "b"}


def footer(app: GotuiApp) -> dict[str, bool]:
    """Footer key -> enabled (a dimmed key is disabled)."""
    return {entry.display: entry.enabled for entry in app.query_one(GotuiFooter).entries()}


class CoreStop(FakeStop):
    """A core file through the stop backend: halted for good, nothing runs."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.running = False

    async def state(self) -> TargetState:
        return self._state("core")


class StubServer:
    """What ShareControls reads of a ShareServer at the host."""

    def __init__(self, driver: str) -> None:
        self.driver = driver
        self.driver_token = "DRIVER-T"
        self.notices = Publisher()  # the host's TUI listens: presence, log lines

    def info(self) -> dict[str, str]:
        return {"url": "ws://127.0.0.1:4242", "driver_token": self.driver_token,
                "viewer_token": "VIEWER-T"}

    def presence(self) -> dict[str, Any]:
        return {"driver": self.driver, "clients": [{"id": "c1", "name": "ana"}],
                "requests": []}


async def test_footer_dims_halt_when_halted_and_steps_when_running(
        session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await until(pilot, lambda: footer(app).get("n") is False, "Next dimmed while running")
        assert footer(app)["h"] and footer(app)["b"]
        await halted(pilot, app)
        await until(pilot, lambda: footer(app).get("h") is False, "Halt dimmed while halted")
        assert footer(app)["c"] and footer(app)["n"] and footer(app)["s"]


async def test_live_only_session_offers_no_execution_keys(tmp_path: Path) -> None:
    session = make_session(tmp_path, with_stop=False)
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.pause()
        keys = footer(app)
        assert "q" in keys and "?" in keys
        assert not EXEC_KEYS & set(keys), keys
        await pilot.press("h")  # the key still says why it does nothing
        await until(pilot, lambda: any("no stop-the-world" in str(n.message)
                                       for n in app._notifications), "a reason")


async def test_core_file_offers_no_execution_keys(tmp_path: Path) -> None:
    session = make_session(tmp_path, with_stop=False)
    assert session.live is not None
    session.stop = CoreStop(session.live)  # type: ignore[assignment]
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.state.stop_reason == "core", "the core state")
        await pilot.pause()
        header = str(app.header.render())
        assert "CORE" in header and "a core file is one moment" in header
        assert "stopped: core" not in header  # said once, in the CORE badge
        assert not (EXEC_KEYS | {"p"}) & set(footer(app)), footer(app)
        await pilot.press("0")  # no eBPF on a core: the pane says so
        pane = app.query_one(TracepointPane)
        await until(pilot, lambda: str(pane.border_subtitle).startswith("off: "), "why off")
        await pilot.press("9")  # one moment: no rates to speak of
        life = app.query_one("#pane-lifecycle")
        await until(pilot, lambda: life.border_subtitle == CORE_NOTE, "the core note")


async def test_host_that_handed_over_the_wheel_sees_viewer_keys(
        session: RecordingSession) -> None:
    app = make_app(session)
    app.share.server = StubServer(driver="c1")  # type: ignore[assignment]
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.pause()
        keys = footer(app)
        assert not EXEC_KEYS & set(keys), keys
        assert keys.get("^g") is True  # take the wheel back
        assert any("ws://127.0.0.1:4242 (? shows the tokens)" in str(n.message)
                   for n in app._notifications)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = str(app.screen.query_one("#help-share", Static).render())
        # never a token on a command line (ps, shell history): a file or $GOTUI_TOKEN
        assert "gotui join ws://127.0.0.1:4242 --token-file FILE" in shown
        assert "--token " not in shown and "GOTUI_TOKEN" in shown
        assert "viewer token: VIEWER-T\ndriver token: DRIVER-T" in shown
        panes = str(app.screen.query_one("#help-panes", Static).render())
        assert "7 blocking" in panes and "0 tracepoints" in panes
        # help is one screen for the session: reopened, it shows the tokens of now
        await pilot.press("question_mark")
        app.share.server.driver_token = "ROTATED-T"  # type: ignore[union-attr]
        await pilot.press("question_mark")
        shown = str(app.screen.query_one("#help-share", Static).render())
        assert "driver token: ROTATED-T" in shown and "DRIVER-T" not in shown


async def test_help_without_sharing_shows_no_tokens(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert not app.screen.query("#help-share")


async def test_tabs_name_the_blocking_pane_at_80_columns(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        tabs = app.query_one(PaneTabs)
        assert " 7:Blk" in str(tabs.render())
        await pilot.press("7")
        await until(pilot, lambda: " 7 Blocking " in str(tabs.render()), "the active tab")
        assert str(tabs.render()).rstrip().endswith("0:Trc")  # all ten fit


async def test_empty_findings_say_nothing_was_found(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("8")
        table = app.query_one(FindingsTable)
        table.show([])
        assert table.border_subtitle == NOTHING_FOUND


def waiter(goid: int, reason: str, lock: str = "") -> Goroutine:
    return Goroutine(id=goid, status="waiting", wait_reason=reason, wait_ns=goid * 10**9,
                     blocked_on_lock=lock, start=Location("main.worker"))


def test_lock_waiters_without_an_address_keep_a_row() -> None:
    gs = [waiter(14, "sync.Mutex.Lock"), waiter(15, "sync.Mutex.Lock"),
          waiter(16, "sync.RWMutex.RLock"), waiter(17, "sync.Mutex.Lock", lock="0xc0001")]
    rows = unplaced_lock_rows(gs, blocking_groups(gs, []))  # 17's lock has a row already
    assert [(r.group.kind, r.group.goroutines, r.filter_text) for r in rows] == [
        ("mutex", [14, 15], "sync.mutex.lock"), ("rwmutex", [16], "sync.rwmutex.rlock")]


async def test_blocking_pane_lists_mutex_waiters_the_live_reader_could_not_place(
        session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("7")
        table = app.query_one(ChannelsTable)
        table.show(blocking_rows([], [waiter(14, "sync.Mutex.Lock"),
                                      waiter(15, "sync.Mutex.Lock")], 0, []))
        assert [row[:3] for row in (table.get_row_at(i) for i in range(table.row_count))] \
            == [["?", "sync.Mutex", "2: 14,15"]]



async def joiner_footer(session: Any) -> dict[str, bool]:
    """The footer of a TUI on a RemoteSession once the host's goroutines and presence are in."""
    app = GotuiApp(session, refresh_interval=0.2)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: len(app.index.data) == 3, "the host's goroutines")
        await until(pilot, lambda: bool(app.share.presence.get("driver")), "presence")
        await pilot.pause()
        return footer(app)


async def test_joiner_footer_viewer_gets_follow_and_drive_keys_driver_gets_halt() -> None:
    h = await make_host(count=3)
    await h.session.cont()
    viewer = await join(h.url, h.server.viewer_token)
    driver = await join(h.url, h.server.driver_token)
    watcher = await join(h.url, h.server.driver_token)  # joined second: not driving
    try:
        keys = await joiner_footer(viewer)
        assert not EXEC_KEYS & set(keys), keys
        # a viewer-token client can follow but never drive: no "Ask to drive"
        assert keys.get("F") is True and "D" not in keys
        keys = await joiner_footer(watcher)
        assert not EXEC_KEYS & set(keys), keys
        assert keys.get("F") is True and keys.get("D") is True
        keys = await joiner_footer(driver)
        assert keys.get("h") is True and keys.get("n") is False  # running: no Next
        assert "F" not in keys and "D" not in keys
    finally:
        await viewer.close()
        await watcher.close()
        await driver.close()
        await h.server.close()
        await h.session.close()


async def test_joiner_quits_without_offering_to_kill_the_hosts_target() -> None:
    h = await make_host(count=3)
    viewer = await join(h.url, h.server.viewer_token)
    try:
        app = GotuiApp(viewer, refresh_interval=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: len(app.index.data) == 3, "the host's goroutines")
            await pilot.press("q")
            await until(pilot, lambda: app.closing, "leaving")
            assert not isinstance(app.screen, QuitScreen)
        assert h.session.info.pid and not h.session._closed
    finally:
        await viewer.close()
        await h.server.close()
        await h.session.close()


def test_a_slow_probe_rate_is_not_shown_as_zero() -> None:
    assert [rate(r) for r in (0.0, 0.5, 9.94, 37.2, 2400.0)] == ["0", "0.5", "9.9", "37", "2.4k"]
