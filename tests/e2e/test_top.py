"""`gotui top <pid> --batch` through the installed `gotui`, on the basic fixture: one JSON
line per live refresh, never stopping the target, and every way it ends."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import gofixtures
from tests.gofixtures import Target, tracer_pid

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

KEYS = {"t", "goroutines", "by_status", "by_wait_reason", "refresh_ms"}


def top(gotui: Path, pid: int, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(gotui), "top", str(pid), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def check_line(line: str) -> dict[str, Any]:
    d = json.loads(line)
    assert set(d) == KEYS, d
    assert sum(d["by_status"].values()) == d["goroutines"]
    assert sum(d["by_wait_reason"].values()) <= d["by_status"].get("waiting", 0)
    assert d["refresh_ms"] >= 0
    return d


def test_count_lines_of_a_running_target(gotui: Path, basic_target: Target) -> None:
    traced: list[int] = []
    proc = top(gotui, basic_target.pid, "--batch", "--interval", "0.2", "--count", "3")
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        traced.append(tracer_pid(basic_target.pid))
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert len(lines) == 3 and traced == [0, 0, 0]
    parsed = [check_line(ln) for ln in lines]
    assert [d["t"] for d in parsed] == sorted(d["t"] for d in parsed)
    assert parsed[-1]["t"] - parsed[0]["t"] >= 0.35e9  # start to start, 0.2 s apart
    last = parsed[-1]
    # the basic fixture: 3 receivers, 2 senders, 2 sleepers (+ the ticker's sleeps)
    assert last["by_wait_reason"]["chan receive"] == 3
    assert last["by_wait_reason"]["chan send"] == 2
    assert last["by_wait_reason"]["sleep"] >= 2
    assert gofixtures.making_progress(basic_target.pid)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_ends_it_cleanly(gotui: Path, basic_target: Target,
                                  sig: signal.Signals) -> None:
    proc = top(gotui, basic_target.pid, "--batch", "--interval", "0.1")
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.send_signal(sig)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err == ""
    for line in [first, *rest.splitlines()]:
        check_line(line)


def test_a_closed_pipe_ends_it_without_a_traceback(gotui: Path, basic_target: Target) -> None:
    proc = top(gotui, basic_target.pid, "--batch", "--interval", "0.05")
    assert proc.stdout is not None and proc.stderr is not None
    check_line(proc.stdout.readline())
    proc.stdout.close()  # like `| head -1`
    assert proc.wait(timeout=30) == 0
    assert proc.stderr.read() == ""


def test_target_gone_mid_run_is_one_line_and_exit_1(gotui: Path) -> None:
    exe = gofixtures.build("basic")
    with gofixtures.run(exe) as target:
        proc = top(gotui, target.pid, "--batch", "--interval", "0.1", "--count", "1000")
        assert proc.stdout is not None
        check_line(proc.stdout.readline())
        target.proc.kill()
        target.proc.wait(timeout=10)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err == f"gotui: process {target.pid} exited\n"
    for line in out.splitlines():
        check_line(line)


def test_without_batch_says_so_and_exits_2(gotui: Path, basic_target: Target) -> None:
    res = subprocess.run([str(gotui), "top", str(basic_target.pid)], capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "--batch" in res.stderr
