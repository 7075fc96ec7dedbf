"""The terminal driver's two decisions: how long a bare Escape waits for the rest of a
sequence, and how long the input thread waits in select() (until that deadline)."""

from __future__ import annotations

import pytest
from gotui.tui.terminal_driver import (
    ESCAPE_DELAY_MS,
    IDLE_WAIT,
    GotuiDriver,
    escape_delay,
    input_wait,
)
from textual import constants
from textual._xterm_parser import XTermParser
from textual.events import Key

from tests.tui.conftest import make_app
from tests.tui.fakes import RecordingSession


@pytest.mark.parametrize(("env", "seconds"), [
    ({}, ESCAPE_DELAY_MS / 1000), ({"ESCDELAY": "100"}, 0.1), ({"ESCDELAY": "5"}, 0.005),
    ({"ESCDELAY": "0"}, ESCAPE_DELAY_MS / 1000), ({"ESCDELAY": "-3"}, ESCAPE_DELAY_MS / 1000),
    ({"ESCDELAY": "soon"}, ESCAPE_DELAY_MS / 1000)])
def test_escape_delay_is_10_ms_unless_escdelay_says(env: dict[str, str], seconds: float) -> None:
    assert escape_delay(env) == seconds


def test_input_waits_until_a_bare_escape_is_due(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "ESCAPE_DELAY", 0.025)
    now = [1000.0]
    monkeypatch.setattr("textual._parser.get_time", lambda: now[0])
    parser = XTermParser()
    assert input_wait(parser, now[0]) == IDLE_WAIT  # nothing pending
    assert list(parser.feed("\x1b")) == []  # Escape, or the start of a sequence?
    assert input_wait(parser, now[0]) == pytest.approx(0.025)
    assert input_wait(parser, now[0] + 0.02) == pytest.approx(0.005)
    assert input_wait(parser, now[0] + 1.0) == 0.0  # due: no wait at all
    now[0] += 0.025
    assert [k.key for k in parser.tick() if isinstance(k, Key)] == ["escape"]
    assert input_wait(parser, now[0]) == IDLE_WAIT
    keys = [k.key for k in parser.feed("\x1b[B") if isinstance(k, Key)]  # in one read
    assert keys == ["down"] and input_wait(parser, now[0]) == IDLE_WAIT


def test_the_app_runs_on_its_own_driver_whatever_textual_driver_says(
        session: RecordingSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual imports the module $TEXTUAL_DRIVER names; gotui runs as root."""
    monkeypatch.setattr(constants, "DRIVER", "gotui_no_such_module:Driver")
    assert make_app(session).driver_class is GotuiDriver
