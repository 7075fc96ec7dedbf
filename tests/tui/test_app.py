"""GotuiApp behaviour with Pilot, over a real Session backed by the fake target."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import gotui.backends.session
import pytest
from gotui.backends.model import Breakpoint, Event, TargetState
from gotui.backends.notices import ErrorRaised, EventArrived, StateChanged
from gotui.tui.app import GotuiApp
from gotui.tui.keymap import all_ids
from gotui.tui.screens.breakpoint_edit import BreakpointEditScreen
from gotui.tui.screens.help import HelpScreen
from gotui.tui.screens.quit import QuitScreen
from gotui.tui.widgets.footer import GotuiFooter
from gotui.tui.widgets.goroutine_list import GoroutineList
from textual.color import Color
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static

from tests.tui.conftest import make_app
from tests.tui.fakes import FakeLive, FakeStop, RecordingSession, make_session

WIDE = (160, 48)


async def until(pilot: Pilot[None], cond: Callable[[], bool], what: str,
                timeout: float = 5.0, seen: Callable[[], str] | None = None) -> None:
    """Wait for `cond`; on a timeout, the error says `what`, and what was `seen`."""
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}" + (f"; saw {seen()}" if seen else ""))


def visible_ids(app: GotuiApp) -> list[int]:
    """The goroutines the list shows (not group headers), top to bottom."""
    index = app.index
    return [r for r in index.rows_between(0, index.row_count) if r >= 0]


def notes(app: GotuiApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def fake_stop(session: RecordingSession) -> FakeStop:
    assert isinstance(session.stop, FakeStop)
    return session.stop


def fake_live(session: RecordingSession) -> FakeLive:
    assert isinstance(session.live, FakeLive)
    return session.live


async def loaded(pilot: Pilot[None], app: GotuiApp) -> None:
    """The first snapshot is listed and every pane mounted (after the first paint)."""
    await until(pilot, lambda: len(app.index.data) > 0 and app.main.panes_ready.is_set(),
                "first snapshot")


async def halted(pilot: Pilot[None], app: GotuiApp) -> None:
    await pilot.press("h")
    await until(pilot, lambda: not app.state.running, "halt")
    await until(pilot, lambda: app.source_view.current == fake_stop(app.session).line,  # type: ignore[arg-type]
                "source at the stop line")


async def test_filter_narrows_and_escape_clears(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"main.worker")
        assert visible_ids(app) == [5, 10, 15, 20, 25, 30, 35, 40]
        assert "main.worker" in str(app.goroutine_pane.border_subtitle)
        await pilot.press("enter")
        assert isinstance(app.focused, GoroutineList)
        assert app.goroutine_pane.list.current_goroutine.id == 5  # type: ignore[union-attr]
        await pilot.press("slash")
        app.goroutine_pane.prompt.value = "status:syscall"  # typing is covered above
        await pilot.press("enter")
        assert visible_ids(app) == [2, 7, 12, 17, 22, 27, 32, 37]
        await pilot.press("escape")
        assert len(visible_ids(app)) == 40


async def test_group_cycle_and_collapse(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("G")
        assert app.index.group_mode == "location"
        assert len(app.index.groups) == 5 and sum(n for _, n in app.index.groups) == 40
        await pilot.press("G")
        assert app.index.group_mode == "go"
        # goroutine 1 is the main goroutine, started by the runtime: a group of its own
        assert [n for _, n in app.index.groups] == [13, 13, 13, 1]
        assert app.index.groups[-1][0] == "(main goroutine)"
        await pilot.press("home", "enter")  # fold the first group
        assert app.index.row_count == 4 + 40 - 13
        await pilot.press("z")  # fold all
        assert app.index.row_count == 4
        await pilot.press("S")
        assert app.index.sort_key == "wait"


async def test_jump_to_goroutine_loads_its_stack(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("g", "3", "7", "enter")
        assert app.goroutine_pane.list.current_goroutine.id == 37  # type: ignore[union-attr]
        await until(pilot, lambda: app.stack_view.goid == 37, "stack of 37")
        assert app.stack_view.frames[2].function == "main.poller"
        await pilot.press("g", "5", "enter")  # main.worker, blocked receiving on jobs
        await until(pilot, lambda: app.stack_view.goid == 5, "stack of 5")
        assert app.stack_view.border_subtitle == "recv chan 0xc000020060 int 1/4"
        await pilot.press("slash", *"0xc000020060", "enter")
        assert visible_ids(app) == [5, 10, 15, 20, 25, 30, 35, 40]
        await pilot.press("escape", "g", *"999", "enter")
        await until(pilot, lambda: any("999" in n for n in notes(app)), "not-found notice")


async def test_refresh_marks_new_and_gone(session: RecordingSession) -> None:
    app = make_app(session, refresh_interval=30)  # only ctrl+r refreshes here
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        live = fake_live(session)
        live.ids = [i for i in live.ids if i != 3] + [41]
        await pilot.press("ctrl+r")
        await until(pilot, lambda: 41 in app.index.data.live, "refresh with goroutine 41")
        data = app.index.data
        assert (data.mark(41), data.mark(3), data.mark(4)) == ("+", "-", " ")
        summary = str(app.query_one("#g-summary", Static).render())
        assert "+1 -1" in summary
        assert app.header.goroutines == 40


async def test_pause_stops_refreshing(session: RecordingSession) -> None:
    app = make_app(session, refresh_interval=0.25)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        live = fake_live(session)
        await pilot.press("p")
        assert "paused" in app.header.refresh_label
        await until(pilot, lambda: not app.refresher.in_flight, "in-flight refresh done")
        count = live.snapshots
        await pilot.pause(0.8)
        assert live.snapshots == count
        await pilot.press("p")
        await until(pilot, lambda: live.snapshots > count + 1, "refresh resumed")
        await pilot.press("minus")
        assert app.refresher.interval == 0.5 and "every 0.5s" in app.header.refresh_label


async def test_halt_and_continue_flip_the_header(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        assert "RUNNING" in str(app.header.render())
        await halted(pilot, app)
        header = str(app.header.render())
        assert "HALTED since 22:13:20, for 42s" in header
        assert "halted" in app.header.refresh_label
        # halted: locals of the selected frame are readable
        await until(pilot, lambda: "id" in str(app.variables_view.root.children[0]
                                                   .children[0].label), "args")
        await pilot.press("c")
        await until(pilot, lambda: app.state.running, "continue")
        assert "RUNNING" in str(app.header.render())
        assert "halt to read locals" in str(app.variables_view.root.children[0].label)
        await pilot.press("f17")  # Shift+F5
        await until(pilot, lambda: not app.state.running, "halt by Shift+F5")


async def test_step_next_and_step_out_move_the_source_line(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await halted(pilot, app)
        assert app.source_view.current == 21
        await pilot.press("n")
        await until(pilot, lambda: app.source_view.current == 22, "next -> 22")
        await pilot.press("f11")
        await until(pilot, lambda: app.source_view.current == 23, "step -> 23")
        await pilot.press("f23")  # Shift+F11
        await until(pilot, lambda: app.source_view.current == 32, "step out -> 32")
        assert "stopped: step out" in str(app.header.render())


async def test_switch_goroutine_with_enter(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("1", "enter")
        await until(pilot, lambda: any("halt the target" in n for n in notes(app)), "hint")
        await halted(pilot, app)
        await pilot.press("1", "g", "6", "enter", "enter")
        await until(pilot, lambda: fake_stop(session).goid == 6, "switched to 6")
        await until(pilot, lambda: app.state.current_goroutine == 6, "state shows 6")
        await pilot.press("home")
        # a stop in another goroutine moves the list's cursor to it
        await app.session.switch_goroutine(9)
        await until(pilot, lambda: app.goroutine_pane.list.current_goroutine.id == 9,  # type: ignore[union-attr]
                    "cursor follows the stop")
        await until(pilot, lambda: app.stack_view.goid == 9, "stack of 9")


async def test_eval_result_error_and_running_hint(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        log = app.eval_pane.log_view
        await pilot.press("e", *"id", "enter")
        await until(pilot, lambda: len(log.lines) == 1, "eval while running")
        assert "halt the target to evaluate (press h)" in log.lines[0].text
        await pilot.press("escape", "1")
        await halted(pilot, app)
        await pilot.press("colon", *"id", "enter")
        await until(pilot, lambda: len(log.lines) == 2, "eval result")
        assert "= 7" in log.lines[1].text
        await pilot.press(*"nope", "enter")
        await until(pilot, lambda: len(log.lines) == 3, "eval error")
        assert "could not find symbol value for nope" in log.lines[2].text
        assert fake_stop(session).calls[-1] == "eval nope g1 f2"
        assert not app.state.running  # the session goes on


async def fill_breakpoint_form(pilot: Pilot[None], location: str, cond: str = "",
                               hit_cond: str = "") -> BreakpointEditScreen:
    screen = pilot.app.screen
    assert isinstance(screen, BreakpointEditScreen)
    screen.query_one("#bp-location", Input).value = location
    screen.query_one("#bp-cond", Input).value = cond
    screen.query_one("#bp-hitcond", Input).value = hit_cond
    return screen


async def submit_form(pilot: Pilot[None], screen: BreakpointEditScreen) -> None:
    # keyboard, not a click: the error line above the buttons moves them when it fills
    screen.query_one("#bp-location", Input).focus()
    await pilot.press("enter")


async def test_breakpoint_form_is_one_screen_loaded_afresh_each_time(
        session: RecordingSession) -> None:
    """The form is built once and reopened: what the last use left (typed text, an
    error, the Move offer, the focus) never shows in the next."""
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("b")
        form = await fill_breakpoint_form(pilot, "nosuch.func", "x > 1", "> 2")
        form.query_one("#bp-perg", Checkbox).value = True
        await submit_form(pilot, form)
        await until(pilot, lambda: "could not find function" in str(
            form.query_one("#bp-error", Static).render()), "error in the form")
        form.offer_move("/src/main.go:23")
        form.query_one("#bp-move").focus()
        await pilot.press("escape")
        assert app.screen is not form and not fake_stop(session).bps
        await pilot.press("b")
        assert app.screen is form

        def shown() -> tuple[object, ...]:
            return (str(form.query_one("#bp-title", Static).render()),
                    *(form.query_one(i, Input).value
                      for i in ("#bp-location", "#bp-cond", "#bp-hitcond")),
                    form.query_one("#bp-perg", Checkbox).value,
                    str(form.query_one("#bp-error", Static).render()),
                    form.query_one("#bp-move").display, app.focused and app.focused.id)

        assert shown() == ("New breakpoint", "", "", "", False, "", False, "bp-location")
        await fill_breakpoint_form(pilot, "main.go:22", "j > 1")
        await submit_form(pilot, form)
        await until(pilot, lambda: app.screen is not form, "form closed")
        await until(pilot, lambda: app.breakpoints_table.row_count == 1, "table row")
        await pilot.press("5", "E")
        assert app.screen is form
        assert shown() == ("Edit breakpoint 1", "main.go:22", "j > 1", "", False, "", False,
                           "bp-location")


async def test_breakpoint_add_edit_toggle_delete(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        stop = fake_stop(session)
        table = app.breakpoints_table
        # add, with an error from the backend first: the form stays open with it
        await pilot.press("b")
        screen = await fill_breakpoint_form(pilot, "nosuch.func")
        await submit_form(pilot, screen)
        await until(pilot, lambda: "could not find function" in str(
            screen.query_one("#bp-error", Static).render()), "error in the form")
        assert app.screen is screen
        assert any("could not find function" in n for n in notes(app))
        await fill_breakpoint_form(pilot, "main.go:22", "j > 1", "> 5")
        screen.query_one("#bp-perg", Checkbox).value = True
        await submit_form(pilot, screen)
        await until(pilot, lambda: app.screen is not screen, "form closed")
        assert [(b.file, b.line, b.cond, b.hit_cond, b.hit_cond_per_g)
                for b in stop.bps.values()] == [("main.go", 22, "j > 1", "> 5", True)]
        await until(pilot, lambda: table.row_count == 1, "table row")
        assert table.get_row_at(0)[2:6] == ["main.go:22", "j > 1", "> 5", "yes"]
        assert session.state.running  # adding halted and resumed the target
        # edit: a bad condition is refused, the form stays; then a good one
        await pilot.press("5", "E")
        screen = await fill_breakpoint_form(pilot, "main.go:22", "syntax error(", "> 5")
        await pilot.press("enter")
        await until(pilot, lambda: "error evaluating" in str(
            screen.query_one("#bp-error", Static).render()), "amend error")
        await fill_breakpoint_form(pilot, "main.go:22", "j > 2", "% 3")
        await pilot.press("enter")
        await until(pilot, lambda: stop.bps[1].cond == "j > 2", "amended")
        assert stop.bps[1].hit_cond == "% 3"
        await until(pilot, lambda: table.get_row_at(0)[3] == "j > 2", "table updated")
        # enable / disable
        await pilot.press("space")
        await until(pilot, lambda: not stop.bps[1].enabled, "disabled")
        await until(pilot, lambda: table.get_row_at(0)[1] == "·", "shown disabled")
        await pilot.press("space")
        await until(pilot, lambda: stop.bps[1].enabled, "enabled again")
        # delete
        await pilot.press("d")
        await until(pilot, lambda: not stop.bps, "deleted")
        await until(pilot, lambda: table.row_count == 0, "table empty")
        # a delete the backend refuses is a notification, and the app goes on
        app.run_session_call("delete breakpoint", lambda: app.breakpoints.delete(99))
        await until(pilot, lambda: any("no breakpoint with id 99" in n for n in notes(app)),
                    "delete error shown")
        await pilot.press("1", "g", "3", "enter")
        assert app.goroutine_pane.list.current_goroutine.id == 3  # type: ignore[union-attr]


async def test_f9_toggles_a_breakpoint_at_the_source_cursor(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await halted(pilot, app)
        await pilot.press("4", "down", "down")
        assert app.source_view.cursor == 23
        await pilot.press("f9")
        stop = fake_stop(session)
        await until(pilot, lambda: len(stop.bps) == 1, "breakpoint added")
        bp = next(iter(stop.bps.values()))
        assert (bp.file, bp.line) == (app.source_view.path, 23)
        await until(pilot, lambda: app.source_view.breakpoints == {23: True}, "gutter marker")
        await pilot.press("f9")
        await until(pilot, lambda: not stop.bps, "breakpoint removed")
        await until(pilot, lambda: app.source_view.breakpoints == {}, "marker removed")


async def test_help_lists_every_binding(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = help_lines(app)
        assert shown[0].split() == ["keys", "action", "where", "id"]
        assert {line.split()[-1] for line in shown[1:]} == all_ids()
        assert ["o,f,f23", "Step out", "anywhere", "step_out"] in [
            re.split(r"\s{2,}", line) for line in shown]
        assert ["F", "Follow driver", "shared session", "share.follow"] in [
            re.split(r"\s{2,}", line) for line in shown]
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


def help_lines(app: GotuiApp) -> list[str]:
    static = app.screen.query_one("#help-table", Static)
    return str(static.render()).splitlines()


async def test_help_is_one_screen_that_reopens_as_it_was(session: RecordingSession) -> None:
    """Help is built once and reopened (cheap): it scrolls, closes with ?, q and Esc,
    and opens again with the same rows and the focus on its list."""
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        first = app.screen
        assert isinstance(first, HelpScreen)
        scroll = first.query_one("#help-scroll")
        assert app.focused is scroll
        await pilot.press("pagedown")
        await until(pilot, lambda: scroll.scroll_y > 0, "help scrolls")
        restyles: list[int] = []
        restyle = first.update_node_styles
        first.update_node_styles = lambda *a, **k: (restyles.append(1), restyle(*a, **k))[1]
        for close in ("question_mark", "q", "escape"):
            await pilot.press(close)
            assert not isinstance(app.screen, HelpScreen), close
            await pilot.press("question_mark")
            assert app.screen is first and app.focused is scroll
        assert {line.split()[-1] for line in help_lines(app)[1:]} == all_ids()
        assert restyles == []  # reopened as it was: its rendered lines kept
        await pilot.press("escape")  # a theme change while it is closed: restyled
        app.theme = "ansi-dark" if app.theme != "ansi-dark" else "textual-dark"
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert restyles and app.screen is first
        box = first.query_one("#help-scroll").parent
        assert box is not None
        assert box.styles.border_top[1] == Color.parse(app.theme_variables["primary"])


async def test_keymap_file_rebinds_by_id(session: RecordingSession, tmp_path: Path) -> None:
    path = tmp_path / "keymap.toml"
    path.write_text('halt = "f8"\n"goroutines.filter" = "ctrl+f"\n')
    app = make_app(session, keymap_path=str(path))
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("h", "question_mark")  # keys are handled in order
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help after h")
        await app.workers.wait_for_complete()  # whatever h started has finished
        assert app.state.running and "halt" not in session.stop.calls  # h is not halt
        await pilot.press("escape")
        await pilot.press("f8")
        await until(pilot, lambda: not app.state.running, "halt on f8")
        await pilot.press("1", "ctrl+f")
        app.goroutine_pane.prompt.value = "main.poller"
        await pilot.press("enter")
        assert visible_ids(app) == [2, 7, 12, 17, 22, 27, 32, 37]
        await pilot.press("question_mark")
        rows = [re.split(r"\s{2,}", line) for line in help_lines(app)]
        assert ["f8", "Halt", "anywhere", "halt"] in rows


async def test_hints_name_the_users_keys(session: RecordingSession, tmp_path: Path) -> None:
    """Backends say what is needed (NeedsAction); the TUI names the user's own key."""
    path = tmp_path / "keymap.toml"
    path.write_text('halt = "f8"\n')
    app = make_app(session, keymap_path=str(path))
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        log = app.eval_pane.log_view
        await pilot.press("e", *"id", "enter")
        await until(pilot, lambda: len(log.lines) == 1, "eval while running")
        assert "halt the target to evaluate (press f8)" in log.lines[0].text
        assert app.stack_view.halt_hint == "press f8"


async def test_bad_keymap_keeps_defaults(session: RecordingSession, tmp_path: Path) -> None:
    path = tmp_path / "keymap.json"
    path.write_text('{"no.such.binding": "x"}')
    app = make_app(session, keymap_path=str(path))
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        assert any("unknown binding id 'no.such.binding'" in n for n in notes(app))
        await pilot.press("h")
        await until(pilot, lambda: not app.state.running, "default h halts")


async def test_command_palette_runs_actions(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("ctrl+p", *"Halt")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: not app.state.running, "halt from the palette")


async def test_quit_dialog_choices(tmp_path: Path) -> None:
    for keys, expected in ((["enter"], (True, False)),
                           (["down", "enter"], (False, False)),
                           (["down", "down", "enter"], (True, True))):
        session = make_session(tmp_path)
        app = make_app(session)
        async with app.run_test(size=WIDE) as pilot:
            await loaded(pilot, app)
            await pilot.press("q")
            assert isinstance(app.screen, QuitScreen)
            await pilot.press(*keys)
            await until(pilot, lambda: bool(session.close_calls), "close")  # noqa: B023
        assert session.close_calls == [expected]
        assert fake_stop(session).detached == [expected[1]]


async def test_quit_cancel_and_ctrl_c(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("q", "escape")
        assert not isinstance(app.screen, QuitScreen) and session.close_calls == []
        await pilot.press("q")
        await pilot.click("#quit-cancel")
        assert session.close_calls == []
        await pilot.press("ctrl+c")
        await until(pilot, lambda: bool(session.close_calls), "close")
    assert session.close_calls == [(True, False)]
    assert fake_live(session).closed


async def test_live_only_session_explains_what_needs_a_stop(tmp_path: Path) -> None:
    session = make_session(tmp_path, with_stop=False)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("h")
        await until(pilot, lambda: any("no stop-the-world backend" in n for n in notes(app)),
                    "no stop backend notice")
        assert app.state.running
        assert "[live]" in str(app.header.render())


async def test_narrow_layout_shows_one_pane_at_a_time(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        assert app.screen.has_class("-narrow")
        assert app.goroutine_pane.display and not app.source_view.display
        await pilot.press("4")
        assert app.source_view.display and not app.goroutine_pane.display
        await pilot.press("e")
        assert app.eval_pane.display and isinstance(app.focused, Input)
        await pilot.resize_terminal(160, 48)
        await pilot.pause(0.1)
        assert not app.screen.has_class("-narrow")
        assert app.goroutine_pane.display and app.source_view.display


def accented_panes(app: GotuiApp) -> list[str]:
    accent = Color.parse(app.current_theme.accent)

    def is_accent(c: Color) -> bool:  # (the theme's colours come back rounded)
        return c.a == accent.a and all(abs(x - y) <= 2 for x, y in zip(c.rgb, accent.rgb,
                                                                      strict=True))

    return [str(w.id) for w in app.screen.query(".pane")
            if w.display and is_accent(w.styles.border_top[1])]


async def test_the_focused_pane_alone_has_the_accent_border(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        assert accented_panes(app) == ["pane-goroutines"]
        await pilot.press("slash")  # focus moves inside the pane: it keeps the border
        assert isinstance(app.focused, Input)
        assert accented_panes(app) == ["pane-goroutines"]
        assert not app.query_one("#g-summary").display
        await pilot.press("escape", "4")
        await pilot.pause()
        assert accented_panes(app) == ["pane-source"]
        assert app.query_one("#g-summary").display and not app.goroutine_pane.prompt_open
        await pilot.press("1")
        await pilot.pause()
        assert accented_panes(app) == ["pane-goroutines"]
        await pilot.press("7")
        assert accented_panes(app) == ["pane-channels"]
        app.theme = "ansi-dark" if app.theme != "ansi-dark" else "textual-dark"
        await pilot.pause()
        assert accented_panes(app) == ["pane-channels"]  # in the new theme's accent


async def test_stack_hides_runtime_frames_and_selects_frames(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await halted(pilot, app)
        stack = app.stack_view
        assert stack.option_count == 5 and stack.selected_depth == 2  # first user frame
        await pilot.press("2", "r")
        assert stack.option_count == 2 and stack.selected_depth == 2
        assert "runtime hidden" in str(stack.border_title)
        await pilot.press("down")
        await until(pilot, lambda: app.source_view.current == 31, "source of frame 3")
        assert app.selection.frame == 3
        await pilot.press("e", *"j", "enter")
        await until(pilot, lambda: fake_stop(session).calls[-1] == "eval j g1 f3", "eval in f3")
        await pilot.press("escape", "2", "r")
        assert stack.option_count == 5 and stack.selected_depth == 3


async def test_one_execution_command_at_a_time(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await halted(pilot, app)
        stop = fake_stop(session)
        stop.step_gate = asyncio.Event()
        await pilot.press("n")
        await until(pilot, lambda: app.header.busy == "next", "next in flight")
        await pilot.press("n")
        await until(pilot, lambda: any("busy: next" in n for n in notes(app)), "busy notice")
        stop.step_gate.set()
        await until(pilot, lambda: app.source_view.current == 22, "one step done")
        await pilot.pause(0.2)
        assert stop.line == 22 and app.header.busy == ""


async def test_a_slow_breakpoint_listing_does_not_undo_an_edit(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await halted(pilot, app)
        stop = fake_stop(session)
        await app.breakpoints.create(Breakpoint(file="main.go", line=22))
        stop.list_gate = asyncio.Event()
        app.breakpoints.load()  # lists the breakpoint while it is still enabled
        await pilot.press("5", "space")
        await until(pilot, lambda: not stop.bps[1].enabled, "disabled")
        await until(pilot, lambda: app.breakpoints_table.get_row_at(0)[1] == "·", "shown")
        stop.list_gate.set()
        await until(pilot, lambda: not any(w.group == "breakpoints" for w in app.workers),
                    "listing finished")
        assert app.breakpoints_table.get_row_at(0)[1] == "·"
        assert not app.breakpoints.items[0].enabled


async def test_session_messages_reach_the_ui(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        session.publish(EventArrived(Event(type="log", message="attaching Delve...")))
        session.publish(ErrorRaised("continue failed: connection reset"))
        await until(pilot, lambda: {"attaching Delve...", "continue failed: connection reset"}
                    <= set(notes(app)), "event and error notified")
        session.publish(StateChanged(TargetState(running=False, exited=True, exit_status=3)))
        await until(pilot, lambda: "EXITED (status 3)" in str(app.header.render()), "exited")


async def test_cursor_on_a_group_header_survives_refreshes(session: RecordingSession) -> None:
    app = make_app(session, refresh_interval=0.1)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await pilot.press("g", "3", "7", "enter", "G")  # goroutine 37 selected, then grouped
        goroutines = app.goroutine_pane.list
        assert goroutines.current_goroutine.id == 37  # type: ignore[union-attr]
        await pilot.press("home")
        first_key = app.index.groups[0][0]
        assert app.index.group_at(goroutines.cursor) == app.index.groups[0]
        live = fake_live(session)
        count = live.snapshots
        await until(pilot, lambda: live.snapshots > count + 2, "a few live refreshes")
        await pilot.pause(0.1)
        group = app.index.group_at(goroutines.cursor)
        assert group is not None and group[0] == first_key
        await pilot.press("down")
        assert goroutines.current_goroutine is not None
        goid = goroutines.current_goroutine.id
        count = live.snapshots
        await until(pilot, lambda: live.snapshots > count + 2, "more live refreshes")
        await pilot.pause(0.1)
        assert goroutines.current_goroutine.id == goid  # type: ignore[union-attr]


async def test_header_stops_saying_halted_when_the_debugger_dies(
        session: RecordingSession, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gotui.backends.session, "LOST_POLL_SECONDS", 0.05)
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await halted(pilot, app)
        stop = fake_stop(session)
        stop.lost = True
        await until(pilot, lambda: app.state.running, "running again")
        await until(pilot, lambda: any("went away" in n for n in notes(app)), "a notice")
        assert "HALTED" not in str(app.header.render())
        assert session.stop is None and stop.detached == [False]
        assert app.session.info.backend == "live"


def footer_keys_in_view(app: GotuiApp) -> list[str]:
    return [entry.display for entry in app.query_one(GotuiFooter).keys()]


async def test_footer_keys_are_clickable_and_dimmed_keys_do_nothing(
        session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        footer = app.query_one(GotuiFooter)
        await until(pilot, lambda: bool(footer.keys()), "the footer painted")

        def x_of(display: str) -> int:
            x = 0
            for entry in footer.keys():  # narrow: "key description" and one space
                if entry.display == display:
                    return x
                x += len(entry.display) + len(entry.description) + 2
            raise AssertionError(f"{display!r} not in the footer")

        assert not next(e for e in footer.keys() if e.display == "c").enabled  # running
        await pilot.click(GotuiFooter, offset=(x_of("c"), 0))
        await pilot.pause()
        assert app.state.running and not isinstance(app.screen, HelpScreen)
        await pilot.click(GotuiFooter, offset=(x_of("?"), 0))
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help after a click on ?")


async def test_narrow_footer_keeps_the_important_keys(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.pause()
        assert footer_keys_in_view(app)[:5] == ["q", "?", "/", "h", "c"]
        await pilot.resize_terminal(160, 48)
        await until(pilot, lambda: "^p" in footer_keys_in_view(app), "the wide footer")
        assert {"q", "?", "/", "h", "c", "b", "p"} <= set(footer_keys_in_view(app))
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: "^p" not in footer_keys_in_view(app), "the narrow footer")
        assert footer_keys_in_view(app)[:5] == ["q", "?", "/", "h", "c"]


async def test_debugger_dying_while_running_is_forgotten(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await halted(pilot, app)
        await pilot.press("c")
        await until(pilot, lambda: app.state.running, "continue")
        stop = fake_stop(session)
        stop.die()
        await until(pilot, lambda: session.stop is None, "the dead backend dropped")
        await until(pilot, lambda: any("went away" in n for n in notes(app)), "a notice")
        assert app.state.running and "RUNNING" in str(app.header.render())
        assert not any("continue failed" in n for n in notes(app))


async def test_moving_a_breakpoint_keeps_its_name_conditions_and_tracepoint_flag(
        session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        stop = fake_stop(session)
        await app.breakpoints.create(Breakpoint(file="main.go", line=22, name="hot",
                                               cond="j > 1", hit_cond="% 3",
                                               hit_cond_per_g=True, tracepoint=True))
        await until(pilot, lambda: app.breakpoints_table.row_count == 1, "table row")
        await pilot.press("5", "E")
        screen = await fill_breakpoint_form(pilot, "main.go:23", "j > 2", "% 3")
        await submit_form(pilot, screen)
        await until(pilot, lambda: app.screen is not screen, "form closed")
        assert [(b.name, b.file, b.line, b.cond, b.hit_cond, b.hit_cond_per_g, b.tracepoint,
                 b.enabled) for b in stop.bps.values()] == [
            ("hot", "main.go", 23, "j > 2", "% 3", True, True, True)]
        await until(pilot, lambda: app.breakpoints_table.get_row_at(0)[2] == "main.go:23 (trace)",
                    "the moved breakpoint shown")
        assert [b.name for b in app.breakpoints.items] == ["hot"]


async def test_u_toggles_own_and_runtime_location(session: RecordingSession) -> None:
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        assert app.index.location_mode == "own"
        await pilot.press("u")
        assert app.index.location_mode == "runtime"
        from gotui.tui.widgets.goroutine_pane import ColumnTitles
        assert "runtime location" in str(app.query_one(ColumnTitles).render())
        await pilot.press("u")
        assert app.index.location_mode == "own"
