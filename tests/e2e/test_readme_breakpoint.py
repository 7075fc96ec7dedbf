"""The README's breakpoint example, typed as a new user would, in a real terminal on the
demo: `b`, location main.profileHandler, condition `userID == 42` is refused before the
target is stopped (userID is not in scope at the function's entry), the form offers to
move it, and the moved breakpoint fires on user 42; `b`, main.go:116, `userID == 42`
as written in the README works at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import gofixtures
from tests.e2e.terminal import traced_by_dlv
from tests.gofixtures import Target, tracer_pid
from tests.tmux import TmuxSession

pytestmark = [pytest.mark.e2e, pytest.mark.integration,
              pytest.mark.usefixtures("need_tmux", "need_dlv")]


@pytest.fixture
def demo(demo_exe: Path) -> Iterator[Target]:
    with gofixtures.run(demo_exe, "-addr", "127.0.0.1:0") as target:
        yield target


def type_slowly(tui: TmuxSession, text: str) -> None:
    tui.send_text(text)
    tui.wait_for(text, timeout=10)
    time.sleep(0.3)


def new_breakpoint(tui: TmuxSession, location: str, cond: str) -> None:
    tui.send_keys("b")
    tui.wait_for("New breakpoint")
    type_slowly(tui, location)
    tui.send_keys("Tab")
    type_slowly(tui, cond)
    tui.send_keys("Enter")


def test_function_entry_is_refused_and_moved(gotui: Path, demo: Target) -> None:
    with TmuxSession([str(gotui), "attach", str(demo.pid), "--no-ebpf"],
                     width=160, height=48) as tui:
        tui.wait_for("RUNNING")
        new_breakpoint(tui, "main.profileHandler", "userID == 42")
        screen = tui.wait_for("Move to main.go:116", timeout=20)
        assert "userID is declared at main.go:115" in screen
        assert "main.go:116 or later" in " ".join(screen.split())
        assert tracer_pid(demo.pid) == 0  # refused before anything attached
        tui.send_keys("Enter")  # the Move button has the focus
        tui.wait_gone("New breakpoint", timeout=30)
        tui.wait_for("stopped: breakpoint", timeout=30)
        assert traced_by_dlv(demo.pid, tui.pid)
        screen = tui.wait_for("main.profileHandler", timeout=10)
        assert "could not find symbol" not in screen


def test_readme_example_as_written(gotui: Path, demo: Target) -> None:
    with TmuxSession([str(gotui), "attach", str(demo.pid), "--no-ebpf"],
                     width=160, height=48) as tui:
        tui.wait_for("RUNNING")
        new_breakpoint(tui, "main.go:116", "userID == 42")
        tui.wait_gone("New breakpoint", timeout=30)
        screen = tui.wait_for("stopped: breakpoint", timeout=30)
        assert "could not find symbol" not in screen
        tui.send_keys("e")
        type_slowly(tui, "userID")
        tui.send_keys("Enter")
        tui.wait_for("= 42", timeout=15)
