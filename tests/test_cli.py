"""CLI contract: usage errors exit 2, target errors exit 1, always one line, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.gofixtures import ROOT

GOTUI = [sys.executable, "-m", "tui.cli"]


def gotui(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GOTUI, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def assert_one_line_error(res: subprocess.CompletedProcess[str], code: int) -> None:
    assert res.returncode == code, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("gotui: ")


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["attach"],
    ["attach", "notapid"],
    ["snapshot", "1", "--format", "xml"],
    [],
])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert_one_line_error(gotui(*args), 2)


def test_unknown_pid_exit_1() -> None:
    res = gotui("snapshot", "999999")
    assert_one_line_error(res, 1)
    assert "no process with pid 999999" in res.stderr


def test_non_go_pid_exit_1() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        res = gotui("attach", str(sleeper.pid))
        assert_one_line_error(res, 1)
        assert "not a Go program" in res.stderr
    finally:
        sleeper.kill()
        sleeper.wait()


def test_help_lists_subcommands() -> None:
    res = gotui("--help")
    assert res.returncode == 0
    for name in ("ps", "attach", "connect", "snapshot", "demo"):
        assert name in res.stdout
