"""`gotui attach` in a real 80x24 terminal, beyond the exit paths: the live view, halt and
continue, and a 16-colour terminal."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.terminal import attach, dlv_child, quit_dialog_enter, traced_by_dlv
from tests.gofixtures import Target, making_progress, tracer_pid, wait_untraced

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.usefixtures("need_tmux")]


def test_live_view_does_not_trace(gotui: Path, basic_target: Target) -> None:
    """Without --delve the TUI shows goroutines from the live reader: no ptrace at all."""
    with attach(gotui, basic_target.pid) as tui:
        tui.wait_for("main.receiver")
        screen = tui.wait_for("RUNNING")
        assert tracer_pid(basic_target.pid) == 0, screen
        time.sleep(0.5)
        assert tracer_pid(basic_target.pid) == 0
        tui.send_keys("C-c")
        assert tui.wait_exit(timeout=15) == 0
    assert making_progress(basic_target.pid)


def test_escape_and_arrows_in_a_real_terminal(gotui: Path, basic_target: Target) -> None:
    """gotui's own terminal driver (tui/terminal_driver.py): a bare Escape closes help,
    arrows still move the cursor (their sequences are not cut into Escape and letters),
    and $TEXTUAL_DRIVER, a module Textual would import by name, is never looked at."""
    env = {"TEXTUAL_DRIVER": "gotui_no_such_module:Driver"}
    with attach(gotui, basic_target.pid, env=env) as tui:
        tui.wait_for("main.receiver")
        for _ in range(3):
            tui.send_keys("?")
            tui.wait_for("gotui keys")
            tui.send_keys("Escape")
            tui.wait_gone("gotui keys")
        tui.send_keys("Home", "Down", "Down", "2")  # the stack pane names the cursor's
        screen = tui.wait_for("Stack of goroutine 3")
        assert "gotui keys" not in screen and "Traceback" not in screen
        tui.send_keys("C-c")
        assert tui.wait_exit(timeout=15) == 0


@pytest.mark.usefixtures("need_dlv")
def test_running_target_released_on_quit(gotui: Path, basic_target: Target) -> None:
    """Without halting: q + Enter detaches and exits 0."""
    with attach(gotui, basic_target.pid, "--delve") as tui:
        tui.wait_for("RUNNING")
        assert traced_by_dlv(basic_target.pid, tui.pid)
        quit_dialog_enter(tui)
        assert tui.wait_exit(timeout=15) == 0
    assert wait_untraced(basic_target.pid, timeout=5)
    assert making_progress(basic_target.pid)


@pytest.mark.usefixtures("need_dlv")
def test_halt_then_continue(gotui: Path, basic_target: Target) -> None:
    with attach(gotui, basic_target.pid, "--delve") as tui:
        tui.wait_for("RUNNING")
        tui.send_keys("h")
        tui.wait_for("HALTED")
        assert not making_progress(basic_target.pid, within=1.0)
        tui.send_keys("c")
        tui.wait_for("RUNNING")
        assert making_progress(basic_target.pid), "continue did not resume the target"
        assert traced_by_dlv(basic_target.pid, tui.pid), "still attached after continue"
        tui.send_keys("C-c")
        assert tui.wait_exit(timeout=15) == 0
    assert wait_untraced(basic_target.pid, timeout=5)


# SGR colour forms beyond the 16 basic colours: 256-colour and truecolor
RICH_COLOUR = re.compile(r"\x1b\[[0-9;]*[34]8;[25];")


@pytest.mark.parametrize("term", ["xterm", "screen"])
def test_sixteen_colour_terminal(gotui: Path, basic_target: Target, term: str) -> None:
    """On TERM without 256 colours the screen uses only the 16 basic colours."""
    with attach(gotui, basic_target.pid, term=term, env={"COLORTERM": ""}) as tui:
        tui.wait_for("main.receiver")
        tui.wait_for("RUNNING")
        colours = tui.capture(escapes=True)
        assert "\x1b[" in colours, "no colour at all"
        assert not RICH_COLOUR.search(colours), RICH_COLOUR.findall(colours)[:5]
        tui.send_keys("C-c")
        assert tui.wait_exit(timeout=15) == 0


@pytest.mark.usefixtures("need_dlv")
def test_header_stops_saying_halted_when_dlv_dies(gotui: Path, basic_target: Target) -> None:
    """If Delve dies while the target is halted, the target runs again (the kernel
    detaches it); the header must not keep claiming HALTED."""
    with attach(gotui, basic_target.pid, "--delve") as tui:
        tui.wait_for("RUNNING")
        tui.send_keys("h")
        tui.wait_for("HALTED")
        dlv_child(tui.pid).kill()
        assert wait_untraced(basic_target.pid, timeout=15)
        assert making_progress(basic_target.pid, within=5.0)
        tui.wait_gone("HALTED", timeout=15)
