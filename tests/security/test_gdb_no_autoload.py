"""Issue 11 item 2: gdb never runs a script the target's binary names.

A Go binary's .debug_gdb_scripts section names runtime-gdb.py by absolute path, and
gotui used to whitelist that directory for gdb's auto-load: a binary pointing at any
runtime-gdb.py had it executed by root. Here the section of a real fixture is rewritten
to point at a planted script that writes a marker."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tests import gofixtures

from .conftest import plant_code, run_gotui

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb missing"),
              pytest.mark.skipif(shutil.which("gcore") is None, reason="gcore (gdb) missing")]
SCRIPT = "runtime-gdb.py"


def point_gdb_scripts_at(exe: Path, out: Path) -> Path:
    """Copy exe to out with its .debug_gdb_scripts entry naming a planted
    runtime-gdb.py (same length, so the section keeps its size); returns the script."""
    data = bytearray(exe.read_bytes())
    with open(exe, "rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".debug_gdb_scripts")
        assert sec is not None, "Go binaries carry .debug_gdb_scripts"
        off, size = sec["sh_offset"], sec["sh_size"]
    entry = bytes(data[off:off + size])
    assert entry[0] == 1 and entry.endswith(SCRIPT.encode() + b"\0")
    need = len(entry) - 2 - len(f"/tmp//{SCRIPT}")  # type byte and NUL
    assert need >= 6, f"GOROOT path too short to plant a same-length path: {entry!r}"
    plant_dir = Path("/tmp") / ("g" + secrets.token_hex(need))[:need]
    plant_dir.mkdir(mode=0o700)
    script = plant_dir / SCRIPT
    new = b"\x01" + str(script).encode() + b"\0"
    assert len(new) == len(entry)
    data[off:off + size] = new
    out.write_bytes(bytes(data))
    out.chmod(0o755)
    return script


@pytest.fixture
def planted(tmp_path: Path, basic_exe: Path) -> Iterator[tuple[Path, Path]]:
    """(rewritten binary, marker written by the planted runtime-gdb.py)."""
    exe = tmp_path / "basic"
    script = point_gdb_scripts_at(basic_exe, exe)
    marker = tmp_path / "MARKER"
    script.write_text(plant_code(marker))
    try:
        yield exe, marker
    finally:
        shutil.rmtree(script.parent, ignore_errors=True)


def test_gdb_snapshot_never_loads_the_script_the_binary_names(
        planted: tuple[Path, Path]) -> None:
    exe, marker = planted
    with gofixtures.run(exe) as target:
        res = run_gotui("snapshot", str(target.pid), "--source", "gdb", "--format", "json")
        assert not marker.exists(), marker.read_text()
        assert res.returncode == 0, res.stderr
        assert len(json.loads(res.stdout)["goroutines"]) >= 10
        assert gofixtures.wait_untraced(target.pid, timeout=10)


def test_gdb_core_never_loads_the_script_the_binary_names(
        planted: tuple[Path, Path], tmp_path: Path) -> None:
    exe, marker = planted
    with gofixtures.run(exe) as target:
        core_prefix = tmp_path / "core"
        subprocess.run(["gcore", "-o", str(core_prefix), str(target.pid)], check=True,
                       capture_output=True, timeout=120, cwd="/")
        core = Path(f"{core_prefix}.{target.pid}")
    assert not marker.exists(), "gcore itself loaded it: the test would prove nothing"
    res = run_gotui("core", str(exe), str(core), "--backend", "gdb", "--format", "json")
    assert not marker.exists(), marker.read_text()
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)["goroutines"]) >= 10
