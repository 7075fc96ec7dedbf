"""Bad input from a real terminal: one line on stderr, exit 1 (target/runtime) or 2 (usage),
no traceback, and the terminal is handed back clean (no alternate screen left on)."""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.gofixtures import Target, tracer_pid, tracer_process
from tests.tmux import TmuxSession

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("need_tmux")]


@dataclass
class Result:
    code: int
    stderr: str
    screen: str
    alternate_screen: bool  # left on by the program: the user's shell output is hidden
    cursor_visible: bool


def run_in_terminal(*argv: str) -> Result:
    """Run argv with a tty as stdin/stdout (stderr to a file) and return how it ended."""
    with tempfile.NamedTemporaryFile("r", suffix=".stderr") as err:
        script = f"{shlex.join(argv)} 2>{shlex.quote(err.name)}; echo \"EXIT=$?\"; sleep 60"
        with TmuxSession(["bash", "-c", script]) as term:
            screen = term.wait_for(re.compile(r"EXIT=\d+"), timeout=60)
            alternate = term.display("#{alternate_on}") == "1"
            cursor = term.display("#{cursor_flag}") == "1"
        match = re.search(r"EXIT=(\d+)", screen)
        assert match is not None
        return Result(int(match.group(1)), err.read(), screen, alternate, cursor)


def assert_one_line_error(res: Result, code: int) -> str:
    assert res.code == code, res
    assert "Traceback" not in res.stderr + res.screen, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res
    assert lines[0].startswith("gotui: "), res
    assert not res.alternate_screen and res.cursor_visible, "terminal not restored"
    return lines[0]


def unused_pid() -> int:
    pid = 999999
    while psutil.pid_exists(pid):
        pid += 1
    return pid


def test_attach_missing_pid_exit_1(gotui: Path) -> None:
    pid = unused_pid()
    line = assert_one_line_error(run_in_terminal(str(gotui), "attach", str(pid)), 1)
    assert str(pid) in line


def test_attach_non_go_process_exit_1(gotui: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "100"])
    try:
        line = assert_one_line_error(run_in_terminal(str(gotui), "attach", str(sleeper.pid)), 1)
        assert "Go" in line
        assert tracer_pid(sleeper.pid) == 0
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.integration
def test_attach_already_traced_exit_1(gotui: Path, traced_target: Target) -> None:
    tracer = tracer_pid(traced_target.pid)  # a dlv thread; the line names its process
    dlv_pid = tracer_process(traced_target.pid)
    line = assert_one_line_error(run_in_terminal(str(gotui), "attach", str(traced_target.pid)),
                                 1)
    assert "traced" in line and f"pid {dlv_pid} (dlv)" in line
    assert tracer_pid(traced_target.pid) == tracer, "gotui must leave the other tracer alone"


def test_connect_unreachable_exit_1(gotui: Path) -> None:
    line = assert_one_line_error(run_in_terminal(str(gotui), "connect", "127.0.0.1:1"), 1)
    assert "127.0.0.1:1" in line


@pytest.mark.parametrize("argv", [["frobnicate"], ["attach"], ["attach", "notapid"]])
def test_usage_errors_exit_2(gotui: Path, argv: list[str]) -> None:
    assert_one_line_error(run_in_terminal(str(gotui), *argv), 2)

