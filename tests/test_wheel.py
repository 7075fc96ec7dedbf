"""The wheel on its own, as an on-call engineer gets it: built once from the checkout
(sdist, then the wheel from the sdist), installed into fresh virtualenvs outside the
checkout and run from a directory that is not the checkout, with the checkout itself
hidden (an empty tmpfs over it in a private mount namespace): nothing can be read
from it. The target is the demo service, built by the installed copy into the user's
cache from the sources the wheel ships.

Two installs, as the README says: pipx on the distro's Python with
--system-site-packages (BCC importable), and a plain virtualenv of this suite's Python
without the system site packages (BCC loaded from the distro's copy by path)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests import gofixtures
from tests.hiding import hiding

SYSTEM_PYTHON = Path("/usr/bin/python3")
DISTRO_BCC = "/usr/lib/python3/dist-packages/bcc"
PROBE = """
import importlib.resources as r, json, sys
import gotui, gotui.tui.cli, gotui.backends.factory
from gotui.backends.ebpf import bindings
from gotui.backends.gdb.backend import gdbside_path
print(json.dumps({"prefix": sys.prefix, "modules": [gotui.__file__, gotui.tui.cli.__file__,
    gotui.backends.factory.__file__], "bpf": str(r.files("gotui.bpf") / "common.h"),
    "demo": str(r.files("gotui.demo") / "main.go"), "gdbside": gdbside_path(),
    "bcc": [bindings.locate().origin, bindings.locate().how]}))
"""


@dataclass
class Install:
    venv: Path
    site: Path  # its site-packages
    work: Path  # the cwd of every command: not the checkout
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`gotui ARGS` from this install, with the checkout hidden."""
        return self.python_run([str(self.venv / "bin" / "gotui"), *args], timeout=timeout)

    def python_run(self, cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(hiding([gofixtures.ROOT], cmd), capture_output=True, text=True,
                              cwd=self.work, env=self.env, timeout=timeout)

    def python(self, code: str) -> str:
        res = self.python_run([str(self.venv / "bin" / "python"), "-c", code])
        assert res.returncode == 0, res.stderr
        return res.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(gofixtures.ROOT)],
                   check=True, capture_output=True, timeout=300)
    (whl,) = out.glob("gotui-*.whl")
    return whl


def _go_env(name: str) -> str:
    return subprocess.run(["go", "env", name], capture_output=True, text=True, check=True,
                          env={**os.environ, "GOTOOLCHAIN": "local"}).stdout.strip()


def _env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")}
    # the user's cache is private to this test; Go's build cache stays the warm one
    env.update(XDG_CACHE_HOME=str(base / "cache"), GOCACHE=_go_env("GOCACHE"))
    return env


def _install(venv: Path, base: Path) -> Install:
    work = base / "work"
    work.mkdir()
    (site,) = (venv / "lib").glob("python3*/site-packages")
    return Install(venv, site, work, _env(base))


@pytest.fixture(scope="module")
def distro_install(wheel: Path) -> Iterator[Install]:
    """README's way: pipx, the distro's Python, its site packages visible. In a
    directory other users can reach, to run it as one of them too."""
    base = Path(tempfile.mkdtemp(prefix="gotui-wheel-"))
    try:
        base.chmod(0o755)
        env = {**_env(base), "PIPX_HOME": str(base / "pipx"), "PIPX_BIN_DIR": str(base / "bin")}
        res = subprocess.run(["pipx", "install", "--system-site-packages", "--python",
                              str(SYSTEM_PYTHON), str(wheel)], capture_output=True, text=True,
                             env=env, cwd=base, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr
        yield _install(base / "pipx" / "venvs" / "gotui", base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def venv_install(wheel: Path, base: Path, python: str) -> Install:
    """README's other way: a plain virtualenv (here without the system site packages)."""
    venv = base / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True,
                   timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    return _install(venv, base)


@pytest.fixture(scope="module")
def demo_pid(distro_install: Install) -> Iterator[int]:
    """The demo service, built and started by the installed copy (`gotui demo` without
    the TUI), on a private port."""
    before = _tree(distro_install.site / "gotui")
    out = distro_install.python("from gotui.backends.demo import start_demo; "
                                "print(start_demo('127.0.0.1:0'))")
    pid = int(out.strip())
    try:
        exe = Path(os.readlink(f"/proc/{pid}/exe"))
        assert exe == Path(distro_install.env["XDG_CACHE_HOME"]) / "gotui" / "demo" / "demo"
        assert _tree(distro_install.site / "gotui") == before, "go build wrote into the install"
        yield pid
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            demo = psutil.Process(pid)
            demo.send_signal(signal.SIGKILL)
            demo.wait(10)


def _tree(top: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(top)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in top.rglob("*") if "__pycache__" not in p.parts}


def test_wheel_holds_only_gotui(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        record = zf.read(next(n for n in names if n.endswith(".dist-info/RECORD"))).decode()
    tops = {line.split(",")[0].split("/")[0] for line in record.splitlines() if line}
    assert tops == {"gotui", wheel.name.split("-py3")[0] + ".dist-info"}
    for data in ("gotui/bpf/common.h", "gotui/bpf/lifecycle.c", "gotui/bpf/tracepoint.c",
                 "gotui/demo/main.go", "gotui/demo/cgo.go", "gotui/demo/go.mod",
                 "gotui/backends/gdb/gdbside.py", "gotui/__main__.py"):
        assert data in names


def test_installed_files_are_used(distro_install: Install) -> None:
    found = json.loads(distro_install.python(PROBE))
    site = distro_install.site.resolve()
    for path in [*found["modules"], found["bpf"], found["demo"], found["gdbside"]]:
        assert Path(path).resolve().is_relative_to(site), path
    assert found["bcc"] == [DISTRO_BCC, "import"]  # --system-site-packages
    assert not any((distro_install.site / name).exists() for name in ("tui", "backends", "bpf"))
    as_module = distro_install.python_run([str(distro_install.venv / "bin" / "python"), "-m",
                                           "gotui", "--help"])
    assert as_module.returncode == 0 and "doctor" in as_module.stdout, as_module.stderr


def test_ps_and_snapshots(distro_install: Install, demo_pid: int) -> None:
    ps = distro_install.run("ps", "--json")
    assert ps.returncode == 0, ps.stderr
    (demo,) = [p for p in json.loads(ps.stdout) if p["pid"] == demo_pid]
    assert demo["go_version"].startswith("go1.") and demo["goroutines"] > 5
    for source in ("live", "delve", "gdb"):  # delve: the guard; gdb: gdbside.py, installed
        res = distro_install.run("snapshot", str(demo_pid), "--source", source, "--format",
                                 "json")
        assert res.returncode == 0, f"{source}: {res.stderr}"
        snap = json.loads(res.stdout)
        starts = {g["start"]["function"] for g in snap["goroutines"]}
        assert {"main.worker", "main.generate"} <= starts, (source, starts)
        assert gofixtures.wait_untraced(demo_pid), source


def test_trace(distro_install: Install, demo_pid: int) -> None:
    res = distro_install.run("trace", str(demo_pid), "--duration", "1")
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert any(e["type"] == "created" for e in events), res.stdout[-2000:]
    assert gofixtures.wait_untraced(demo_pid)


def test_doctor(distro_install: Install, demo_pid: int) -> None:
    res = distro_install.run("doctor", "--pid", str(demo_pid), "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] and all(c["ok"] for c in report["checks"])


def test_doctor_as_another_user(distro_install: Install) -> None:
    """Not root: the lines say so (tracefs is root's only), no traceback."""
    res = subprocess.run(hiding([gofixtures.ROOT], [
        "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
        str(distro_install.venv / "bin" / "gotui"), "doctor"]), capture_output=True, text=True,
        cwd="/", env={**distro_install.env, "HOME": "/nonexistent"}, timeout=60)
    assert res.returncode == 1 and res.stderr == "", res.stderr
    fails = {ln.split(":")[0]: ln for ln in res.stdout.splitlines() if ln.startswith("FAIL")}
    assert "uid 65534 (not root)" in fails["FAIL privileges"]
    assert "run gotui as root" in fails["FAIL privileges"]
    assert fails["FAIL tracefs"].startswith("FAIL tracefs: tracefs is not readable by this user")


def test_bcc_from_a_python_without_it(wheel: Path, demo_pid: int,
                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    """This suite's Python (not the distro's, no system site packages): `import bcc`
    fails there, so the distro's copy is loaded by path, and eBPF works."""
    python = getattr(sys, "_base_executable", sys.executable)
    inst = venv_install(wheel, tmp_path_factory.mktemp("nosite"), python)
    found = json.loads(inst.python(PROBE))
    assert found["bcc"] == [DISTRO_BCC, "distro"]
    assert not Path(found["prefix"]).resolve().is_relative_to("/usr")
    doctor = inst.run("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert (f"ok   bcc: BCC 0.26.0 bindings loaded from the distro's copy (not on this "
            f"Python's path): {DISTRO_BCC}") in doctor.stdout.splitlines()
    res = inst.run("trace", str(demo_pid), "--duration", "1")
    assert res.returncode == 0, res.stderr
    assert any(json.loads(line)["type"] == "created" for line in res.stdout.splitlines())
