"""Keys that arrive in one burst (a paste, an SSH link catching up, a loaded host) go
where they were typed for: a key that opens a text field moves the focus before the
next key is handed out (priority bindings, tui/keymap.py), and so does a Tab."""

from __future__ import annotations

from gotui.tui.screens.breakpoint_edit import BreakpointEditScreen
from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input

from tests.tui.conftest import make_app
from tests.tui.fakes import RecordingSession
from tests.tui.test_app import loaded, until


def burst(app: object, *fields: str) -> None:
    """Post every key at once, a Tab between fields, without waiting in between."""
    for i, text in enumerate(fields):
        if i:
            app.post_message(events.Key("tab", "\t"))  # type: ignore[attr-defined]
        for ch in text:
            app.post_message(events.Key(_character_to_key(ch), ch))  # type: ignore[attr-defined]


async def test_breakpoint_form_typed_in_one_burst(session: RecordingSession) -> None:
    app = make_app(session, refresh_interval=30)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BreakpointEditScreen), "form")
        burst(app, "main.hot", "i < 0", "% 3")
        await until(pilot, lambda: app.screen.query_one("#bp-hitcond", Input).value == "% 3",
                    "the last field filled")
        values = {i.id: i.value for i in app.screen.query(Input)}
        assert values == {"bp-location": "main.hot", "bp-cond": "i < 0", "bp-hitcond": "% 3"}


async def test_keys_typed_after_slash_go_to_the_filter_even_halted(
        session: RecordingSession) -> None:
    """"/" then "net/http.get" in one burst: every key is text in the prompt ("/", "g"
    and "e" too); none runs a binding of the list ("n" would step a halted target)."""
    app = make_app(session, refresh_interval=30)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        await pilot.press("h")
        await until(pilot, lambda: not app.state.running, "halted")
        stop = session.stop
        assert stop is not None
        line = stop.line  # type: ignore[attr-defined]
        burst(app, "/net/http.get")
        prompt = app.query_one("#g-prompt", Input)
        await until(pilot, lambda: prompt.value == "net/http.get", "the filter typed")
        assert app.focused is prompt
        assert stop.line == line  # type: ignore[attr-defined]


async def test_jump_and_eval_typed_in_one_burst(session: RecordingSession) -> None:
    app = make_app(session, refresh_interval=30)
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot, app)
        burst(app, "g17")  # the digits are the id, not the pane keys 1 and 7
        prompt = app.query_one("#g-prompt", Input)
        await until(pilot, lambda: prompt.value == "17", "the id typed")
        await pilot.press("escape")
        await until(pilot, lambda: app.focused is not prompt, "prompt closed")
        burst(app, "ex + 1")
        field = app.eval_pane.input
        await until(pilot, lambda: field.value == "x + 1", "the expression typed")
