"""The way in: README's first commands, CI's entry point, and tools/setup.sh's promises."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.gofixtures import ROOT

SETUP = ROOT / "tools" / "setup.sh"


def readme_commands() -> list[str]:
    """Command lines of README.md's fenced shell blocks, in order."""
    text = (ROOT / "README.md").read_text()
    commands: list[str] = []
    for block in re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, flags=re.S):
        commands += [ln.removeprefix("$ ").strip() for ln in block.splitlines() if ln.strip()]
    return commands


def test_readme_starts_with_make_demo_then_make_test() -> None:
    assert readme_commands()[:2] == ["make demo", "make test"]


def test_ci_entry_point_runs_make_test() -> None:
    run = ROOT / ".ci" / "run"
    assert os.access(run, os.X_OK), ".ci/run must be executable"
    lines = [ln.strip() for ln in run.read_text().splitlines()]
    assert lines[0].startswith("#!") and "bash" in lines[0]
    assert "set -euo pipefail" in lines
    assert "make test" in lines


@pytest.mark.parametrize("target", ["demo", "test"])
def test_make_targets_run_setup_first(target: str) -> None:
    # Under `make test` the suite runs inside make: drop its variables so the nested
    # make does not print "Entering directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    res = subprocess.run(["make", "--no-print-directory", "-n", target], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=30, check=True)
    assert res.stdout.splitlines()[0].strip() == "tools/setup.sh", res.stdout


def run_setup() -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SETUP)], cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_setup_second_run_is_a_no_op() -> None:
    """A second run finds everything in place, does nothing and says so in one line."""
    first = run_setup()
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_setup()
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stderr == ""
    lines = second.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("setup: nothing was missing"), lines


def test_setup_left_what_it_promises() -> None:
    """The state a no-op run vouches for (a run of tools/setup.sh comes first)."""
    assert run_setup().returncode == 0
    gopath = subprocess.run(["go", "env", "GOPATH"], capture_output=True, text=True,
                            check=True, env={**os.environ, "PATH": f"/usr/local/go/bin:"
                                             f"{os.environ['PATH']}"}).stdout.strip()
    dlv = subprocess.run([f"{gopath}/bin/dlv", "version"], capture_output=True, text=True,
                         check=True).stdout
    assert "Version: 1.27.2" in dlv
    venv_python = ROOT / ".venv" / "bin" / "python"
    bcc = subprocess.run([str(venv_python), "-c", "import bcc; print(bcc.__file__)"],
                         capture_output=True, text=True, check=True).stdout
    assert Path(bcc.strip()).resolve().is_relative_to("/usr/lib/python3/dist-packages/bcc")
    build = Path(f"/lib/modules/{os.uname().release}/build")
    assert (build / "Makefile").exists(), f"{build} is not a kernel headers tree"
    assert any(Path("/sys/kernel/tracing").iterdir()), "tracefs not mounted"


def test_make_demo_run_is_idempotent(tmp_path: Path) -> None:
    """`make demo-run` starts the demo once, reports it running the second time, and
    `make demo-stop` stops it (in a private directory and port, not the user's demo)."""
    make = ["make", "--no-print-directory", f"DEMO_DIR={tmp_path}", "DEMO_ADDR=127.0.0.1:0"]
    first = subprocess.run([*make, "demo-run"], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    pid = int((tmp_path / "demo.pid").read_text())
    try:
        assert re.search(r"demo: READY http://127\.0\.0\.1:\d+, pid \d+", first.stdout), first
        second = subprocess.run([*make, "demo-run"], cwd=ROOT, capture_output=True, text=True,
                                timeout=60, check=True)
        assert second.stdout.strip() == f"demo: already running, pid {pid}"
        stop = subprocess.run([*make, "demo-stop"], cwd=ROOT, capture_output=True, text=True,
                              timeout=60, check=True)
        assert stop.stdout.strip() == f"demo: stopped pid {pid}"
        deadline = time.monotonic() + 10
        while alive(pid):
            assert time.monotonic() < deadline, "demo still running after demo-stop"
            time.sleep(0.1)
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_setup_failure_is_one_clear_line(tmp_path: Path) -> None:
    """A step that fails (here: pip on a broken pyproject.toml in a scratch copy) ends the
    run with one line on stderr naming the step and where the details are."""
    (tmp_path / "tools").mkdir()
    shutil.copy(SETUP, tmp_path / "tools" / "setup.sh")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = \n")
    res = subprocess.run([str(tmp_path / "tools" / "setup.sh")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        "setup: FAILED: pip install -e '.[test]' (details: .cache/setup.log)"], res.stderr
    assert "Traceback" not in res.stdout
    assert (tmp_path / ".cache" / "setup.log").read_text().strip()
