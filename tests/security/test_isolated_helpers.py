"""Issue 11 item 1: helper processes never import code from the cwd or $PYTHONPATH.

The Delve guard used to start as `python -m ...guard` with the inherited cwd first on
sys.path (and PYTHONPATH extended): a planted package in the cwd ran as root."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests import gofixtures
from tests.delve.progress import counter_advancing

from .conftest import plant_code, plant_package, requires_dlv, run_gotui

pytestmark = [pytest.mark.integration, requires_dlv]


def test_snapshot_from_a_planted_cwd_runs_no_planted_code(
        tmp_path: Path, target: gofixtures.Target) -> None:
    marker = tmp_path / "MARKER"
    cwd = tmp_path / "cwd"
    # the guard's module under today's and the pre-namespace name
    for dotted in ("gotui.backends.delve.guard", "backends.delve.guard"):
        plant_package(cwd, dotted, plant_code(marker))
    pythonpath = tmp_path / "pythonpath"
    pythonpath.mkdir()
    (pythonpath / "sitecustomize.py").write_text(plant_code(marker))
    plant_package(pythonpath, "gotui.backends.delve.guard", plant_code(marker))

    # 1: the gotui command, run from the planted directory
    res = run_gotui("snapshot", str(target.pid), "--source", "delve", "--format", "json",
                    cwd=cwd)
    assert not marker.exists(), marker.read_text()
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)["goroutines"]) >= 10
    # 2: PYTHONPATH names planted code; the main interpreter is isolated (-I) so only
    # what it hands to its helpers could carry the variable to them
    res = run_gotui("snapshot", str(target.pid), "--source", "delve", "--format", "json",
                    cwd=cwd, env={"PYTHONPATH": str(pythonpath)},
                    argv0=[sys.executable, "-I", "-m", "gotui"])
    assert not marker.exists(), marker.read_text()
    assert res.returncode == 0, res.stderr
    assert gofixtures.wait_untraced(target.pid, timeout=10)
    assert counter_advancing(target.pid, target.exe)
