"""A deploy replaced the target's binary on disk while it runs: every way gotui reads
the binary must read the running image (/proc/<pid>/exe), never the new file at the
old path (here a non-Go program, so a wrong read cannot go unnoticed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from gotui.backends.ebpf.loader import unavailable_reason
from gotui.backends.procinfo import exe_path_for_reading

from tests import gofixtures
from tests.delve.conftest import dlv_path
from tests.live.conftest import build_pie

GOTUI = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "gotui"


@pytest.fixture(params=["exec", "pie"])
def replaced(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[gofixtures.Target]:
    exe = build_pie("basic", "go1.26") if request.param == "pie" else gofixtures.build("basic")
    path = tmp_path / "service"
    shutil.copy(exe, path)
    with gofixtures.run(path) as t:
        path.unlink()
        shutil.copy("/bin/ls", path)  # the new build: another file at the same path
        yield t


def gotui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GOTUI), *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_reading_path_is_the_running_image(replaced: gofixtures.Target) -> None:
    assert exe_path_for_reading(replaced.pid) == f"/proc/{replaced.pid}/exe"


@pytest.mark.parametrize("source", ["live", "delve"])
def test_snapshot_reads_the_running_image(replaced: gofixtures.Target, source: str) -> None:
    if source == "delve" and dlv_path() is None:
        pytest.skip("dlv is not installed on this machine")
    res = gotui("snapshot", str(replaced.pid), "--source", source, "--format", "json",
                "--stacks")
    assert res.returncode == 0, res.stderr
    snap = json.loads(res.stdout)
    assert "main.ticker" in {g["start"]["function"] for g in snap["goroutines"]}
    assert "main.main" in {f["function"] for g in snap["goroutines"] for f in g["stack"]}
    assert gofixtures.wait_untraced(replaced.pid, 10)


def test_trace_probes_the_running_image(replaced: gofixtures.Target) -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"eBPF unavailable on this host: {reason}")
    res = gotui("trace", str(replaced.pid), "--duration", "3", "--func", "main.hot",
                "--cond", "i % 100 == 7")
    assert res.returncode == 0, res.stderr
    hits = [json.loads(ln) for ln in res.stdout.splitlines() if '"tracepoint"' in ln]
    assert hits and all(h["args"]["i"] % 100 == 7 for h in hits)
