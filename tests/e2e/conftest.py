"""End-to-end fixtures: the installed `gotui` entry point, real Go targets, real tmux."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests import gofixtures
from tests.gofixtures import ROOT, Target, tracer_pid

GOTUI = ROOT / ".venv" / "bin" / "gotui"


@pytest.fixture(scope="session")
def gotui() -> Path:
    """The console script that `pip install -e .` puts in the venv (tools/setup.sh)."""
    assert GOTUI.exists(), f"{GOTUI} missing: run `make setup`"
    return GOTUI


@pytest.fixture(scope="session")
def need_tmux() -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed on this machine (make setup installs it)")


@pytest.fixture(scope="session")
def need_dlv() -> str:
    """Path of dlv: $PATH, then where `make setup` puts it ($(go env GOPATH)/bin)."""
    gopath = os.environ.get("GOPATH") or os.path.expanduser("~/go")
    dlv = shutil.which("dlv") or os.path.join(gopath, "bin", "dlv")
    if not os.access(dlv, os.X_OK):
        pytest.skip("dlv is not installed on this machine (make setup installs it)")
    return dlv


@pytest.fixture
def basic_target(basic_exe: Path) -> Iterator[Target]:
    with gofixtures.run(basic_exe) as target:
        yield target


@pytest.fixture(scope="session")
def demo_exe() -> Path:
    return gofixtures.build("demo")


@pytest.fixture
def traced_target(basic_target: Target, need_dlv: str) -> Iterator[Target]:
    """The basic fixture with another debugger (a headless dlv) already attached."""
    dlv = subprocess.Popen([need_dlv, "attach", str(basic_target.pid), "--headless",
                            "--api-version=2", "--listen=127.0.0.1:0"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while tracer_pid(basic_target.pid) == 0 and dlv.poll() is None:
            assert time.monotonic() < deadline, "dlv did not attach within 30 s"
            time.sleep(0.1)
        dlv_threads = {t.id for t in psutil.Process(dlv.pid).threads()}
        assert tracer_pid(basic_target.pid) in dlv_threads, "dlv did not attach"
        yield basic_target
    finally:
        dlv.kill()
        dlv.wait()
