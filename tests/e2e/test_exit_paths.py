"""`gotui attach <pid> --delve` in a real 80x24 terminal: halt the target, then leave by
every way out and check the target is released (TracerPid 0) and running again."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.terminal import attach, dlv_child, quit_dialog_enter, traced_by_dlv
from tests.gofixtures import Target, making_progress, tracer_pid, wait_untraced
from tests.tmux import TmuxSession

pytestmark = [pytest.mark.e2e, pytest.mark.integration,
              pytest.mark.usefixtures("need_tmux", "need_dlv")]


@pytest.fixture
def halted_tui(gotui: Path, basic_target: Target) -> Iterator[TmuxSession]:
    """gotui attached with Delve to the basic fixture, target halted with `h`."""
    with attach(gotui, basic_target.pid, "--delve") as tui:
        tui.wait_for("RUNNING")
        tui.wait_for("main.receiver")
        assert traced_by_dlv(basic_target.pid, tui.pid), "--delve attaches Delve up front"
        tui.send_keys("h")
        tui.wait_for("HALTED")
        assert not making_progress(basic_target.pid, within=1.0), "halted target still runs"
        yield tui


def ctrl_c(tui: TmuxSession) -> None:
    tui.send_keys("C-c")


def send_signal(sig: signal.Signals) -> Callable[[TmuxSession], None]:
    def leave(tui: TmuxSession) -> None:
        os.kill(tui.pid, sig)

    return leave


def kill_dlv(tui: TmuxSession) -> None:
    dlv_child(tui.pid).kill()


def close_terminal(tui: TmuxSession) -> None:
    """What an SSH drop does: the terminal goes away (SIGHUP, then EIO on output)."""
    tui.close()


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


EXITS: dict[str, Callable[[TmuxSession], None]] = {
    "q-enter": quit_dialog_enter,
    "ctrl-c": ctrl_c,
    "SIGINT": send_signal(signal.SIGINT),
    "SIGTERM": send_signal(signal.SIGTERM),
    "SIGHUP": send_signal(signal.SIGHUP),
    "SIGKILL-gotui": send_signal(signal.SIGKILL),
    "SIGKILL-dlv": kill_dlv,
    "terminal-closed": close_terminal,
}


@pytest.mark.parametrize("way_out", list(EXITS))
def test_exit_path_releases_target(way_out: str, halted_tui: TmuxSession,
                                   basic_target: Target) -> None:
    pid = basic_target.pid
    gotui_proc = psutil.Process(halted_tui.pid)
    dlv = dlv_child(gotui_proc.pid)
    EXITS[way_out](halted_tui)

    assert wait_untraced(pid, timeout=15), f"still traced by {tracer_pid(pid)} after {way_out}"
    assert making_progress(pid, within=5.0), \
        f"target not running after {way_out}: state {process_state(pid)!r}"
    # neither dlv nor (except when only dlv was killed) gotui may linger
    dlv.wait(timeout=15)
    if way_out == "SIGKILL-dlv":
        assert "Traceback" not in halted_tui.capture()
    else:
        gotui_proc.wait(timeout=15)

