"""CLI contract: usage errors exit 2, target errors exit 1, always one line, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.gofixtures import ROOT

GOTUI = [sys.executable, "-m", "gotui.tui.cli"]


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


def test_share_headless_prints_tokens_and_join_needs_the_right_one() -> None:
    """`gotui share --headless` prints one JSON line; a wrong token is refused in one
    line; SIGTERM ends the share and leaves the target untraced and running."""
    import json
    import signal

    from tests.gofixtures import build, run, tracer_pid

    exe = build("basic")
    with run(exe) as target:
        share = subprocess.Popen(
            [*GOTUI, "share", str(target.pid), "--listen", "127.0.0.1:0", "--headless"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert share.stdout is not None
            info = json.loads(share.stdout.readline())
            assert info["url"].startswith("ws://127.0.0.1:")
            assert info["driver_token"] != info["viewer_token"]
            bad = subprocess.run([*GOTUI, "join", info["url"], "--token-file", "-"], cwd=ROOT,
                                 capture_output=True, text=True, timeout=60, input="wrong\n")
            assert_one_line_error(bad, 1)
        finally:
            share.send_signal(signal.SIGTERM)
            share.wait(timeout=30)
        assert share.returncode == 0
        assert tracer_pid(target.pid) == 0
        assert target.proc.poll() is None


def test_trace_rejects_cond_without_func() -> None:
    assert_one_line_error(gotui("trace", "1", "--cond", "i == 1"), 2)


def test_join_without_token_is_a_usage_error() -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "GOTUI_TOKEN"}
    res = subprocess.run([*GOTUI, "join", "ws://127.0.0.1:1"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert_one_line_error(res, 2)
