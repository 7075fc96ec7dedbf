"""End-to-end fixtures: the installed `gotui` entry point, real Go targets, real tmux."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import gofixtures
from tests.gofixtures import ROOT, Target

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


@pytest.fixture(scope="session")
def basic_exe() -> Path:
    return gofixtures.build("basic")


@pytest.fixture
def basic_target(basic_exe: Path) -> Iterator[Target]:
    with gofixtures.run(basic_exe) as target:
        yield target


@pytest.fixture(scope="session")
def demo_exe() -> Path:
    return gofixtures.build("demo")
