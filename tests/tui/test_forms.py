"""Keys that arrive in one burst (a paste, an SSH link catching up, a loaded host) land
in the fields they were typed for: a Tab moves the focus before the next key is
handed out, not after the field being left has worked through its queue."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from tests.tui.conftest import make_app
from tests.tui.fakes import RecordingSession
from tests.tui.test_app import loaded, until
from tui.screens.breakpoint_edit import BreakpointEditScreen

NAMES = {" ": "space", "<": "less_than_sign", ".": "full_stop", "%": "percent_sign"}


def burst(app: object, *fields: str) -> None:
    """Post every key at once, a Tab between fields, without waiting in between."""
    for i, text in enumerate(fields):
        if i:
            app.post_message(events.Key("tab", "\t"))  # type: ignore[attr-defined]
        for ch in text:
            app.post_message(events.Key(NAMES.get(ch, ch), ch))  # type: ignore[attr-defined]


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
