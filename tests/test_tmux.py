"""The tmux harness the end-to-end tests stand on."""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

import pytest

from tests.tmux import TmuxError, TmuxSession

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed on this machine")


def test_size_term_and_exit_status() -> None:
    script = 'stty size; echo "TERM=$TERM"; exit 3'
    with TmuxSession(["bash", "-c", script], width=100, height=30, term="screen") as term:
        assert term.wait_exit(timeout=10) == 3
        screen = term.capture()
    assert "30 100" in screen and "TERM=screen" in screen


def test_keys_reach_the_program() -> None:
    script = 'read -r line; echo "got <$line>"; read -rsn1 key; echo "key <$key>"; sleep 60'
    with TmuxSession(["bash", "-c", script]) as term:
        term.send_text("hello world")
        term.send_keys("Enter")
        term.wait_for("got <hello world>")
        term.send_keys("q")
        term.wait_for(re.compile(r"key <q>"))
        assert not term.exited()


def test_capture_with_escapes() -> None:
    with TmuxSession(["bash", "-c", r"printf '\033[31mred\033[0m\n'; sleep 60"]) as term:
        term.wait_for("red")
        assert "\x1b[31m" in term.capture(escapes=True)
        assert "\x1b[" not in term.capture()


def test_pid_is_the_command() -> None:
    with TmuxSession(["sleep", "60"]) as term:
        assert Path(f"/proc/{term.pid}/comm").read_text().strip() == "sleep"
        os.kill(term.pid, signal.SIGTERM)
        assert term.wait_exit(timeout=10) == 128 + signal.SIGTERM


def test_wait_for_reports_the_screen() -> None:
    with TmuxSession(["bash", "-c", "echo something else; sleep 60"]) as term:
        term.wait_for("something else")
        with pytest.raises(TmuxError, match="something else"):
            term.wait_for("never shown", timeout=0.5)


def test_wait_for_stops_when_the_command_exits() -> None:
    with TmuxSession(["bash", "-c", "echo bye"]) as term, pytest.raises(
            TmuxError, match="exited before"):
        term.wait_for("never shown", timeout=60)
