"""Build and run the Go fixtures under tests/fixtures/ (real programs, built at test time).

Builds are cached in .cache/fixtures/ keyed by source hash, toolchain and flags, so a
second run of the suite does not rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CACHE = ROOT / ".cache" / "fixtures"

# The one place that decides which Go toolchains the tests may use. Each entry says how
# to find it; whether it is there is decided on this machine (toolchain_available).
# go1.26 (the system Go), go1.27 (GOTOOLCHAIN, fetched by tools/setup.sh) and go1.19
# (Debian's golang-1.19-go) are installed by `make setup`. Go 1.20-1.25 are optional:
# used when their toolchain is already in the Go module cache
# (`GOTOOLCHAIN=go1.2x.y go version` puts it there); tests never download one.
MAIN_TOOLCHAINS = ("go1.19", "go1.26", "go1.27")
# Releases whose DWARF generated the rows of backends/gobinary/layout_table.py.
OPTIONAL_RELEASES = {
    "go1.20": "go1.20.14", "go1.21": "go1.21.13", "go1.22": "go1.22.12",
    "go1.23": "go1.23.12", "go1.24": "go1.24.13", "go1.25": "go1.25.14",
}
ALL_TOOLCHAINS = ("go1.19", *OPTIONAL_RELEASES, "go1.26", "go1.27")

# toolchain name -> (go binary, extra env), for the installed ones only
TOOLCHAINS: dict[str, tuple[str, dict[str, str]]] = {
    "go1.26": ("go", {"GOTOOLCHAIN": "local"}),
    "go1.27": ("go", {"GOTOOLCHAIN": "go1.27.3"}),
    "go1.19": ("/usr/lib/go-1.19/bin/go", {"GOTOOLCHAIN": "local"}),
}


def _modcache() -> Path:
    try:
        out = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                             env={**os.environ, "GOTOOLCHAIN": "local"}, timeout=60).stdout
    except (subprocess.SubprocessError, OSError):
        out = ""
    return Path(out.strip() or Path.home() / "go/pkg/mod")


def _register_optional() -> None:
    cache = _modcache()
    for name, release in OPTIONAL_RELEASES.items():
        go = cache / f"golang.org/toolchain@v0.0.1-{release}.linux-amd64/bin/go"
        if go.exists():
            TOOLCHAINS[name] = (str(go), {"GOTOOLCHAIN": "local"})


_register_optional()
_available: dict[str, bool] = {}


def skip_reason(name: str) -> str:
    """The one wording of a missing toolchain (tests/skip_allowlist.txt matches it)."""
    return f"Go toolchain {name} is not installed on this machine"


def toolchain_available(name: str) -> bool:
    """Whether toolchain `name` can build here; False (never an error) for one that is
    unknown or missing."""
    if name not in _available:
        _available[name] = _probe(name)
    return _available[name]


def _probe(name: str) -> bool:
    if name not in TOOLCHAINS:
        return False
    go, env = TOOLCHAINS[name]
    if shutil.which(go) is None:
        return False
    try:
        subprocess.run([go, "version"], env={**os.environ, **env}, check=True,
                       capture_output=True, timeout=120)
    except (subprocess.SubprocessError, OSError):
        return False
    return True


def need_toolchain(name: str) -> None:
    """Skip the calling test, with the standard reason, when `name` is not installed."""
    if not toolchain_available(name):
        import pytest

        pytest.skip(skip_reason(name))


def build(name: str, *, toolchain: str = "go1.26", stripped: bool = False,
          cgo: bool | None = None, optimize: bool = False, goexperiment: str = "") -> Path:
    """Build tests/fixtures/<name> and return the binary path.

    Debug builds (-gcflags=all=-N -l) unless optimize=True, so Delve sees locals.
    goexperiment: GOEXPERIMENT for the build (e.g. "goroutineleakprofile")."""
    src = FIXTURES / name
    need_toolchain(toolchain)
    go, env_extra = TOOLCHAINS[toolchain]
    h = hashlib.sha256()
    for p in sorted(src.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:  # demo/ is also a Python package
            h.update(p.name.encode())
            h.update(p.read_bytes())
    uses_cgo = cgo if cgo is not None else any(
        'import "C"' in p.read_text() for p in src.glob("*.go"))
    key = f"{name}-{toolchain}-{'s' if stripped else 'd'}-{'cgo' if uses_cgo else 'nocgo'}-{'O' if optimize else 'N'}-{h.hexdigest()[:12]}"
    if goexperiment:
        key += f"-x{goexperiment}"
    out = CACHE / key / name
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [go, "build", "-o", str(out) + ".tmp"]
    if not optimize:
        args += ["-gcflags=all=-N -l"]
    if stripped:
        args += ["-ldflags=-s -w"]
    env = {**os.environ, **env_extra, "CGO_ENABLED": "1" if uses_cgo else "0",
           "GOFLAGS": "-mod=mod", "GO111MODULE": "on"}
    if goexperiment:
        env["GOEXPERIMENT"] = goexperiment
    if not (src / "go.mod").exists():
        gomod = src / "go.mod"
        gomod.write_text(f"module {name}\n\ngo 1.19\n")
    subprocess.run(args + ["."], cwd=src, env=env, check=True, capture_output=True,
                   timeout=600)
    os.replace(str(out) + ".tmp", out)
    return out


@dataclass
class Target:
    proc: subprocess.Popen[str]
    exe: Path
    ready_line: str

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextlib.contextmanager
def run(exe: Path, *args: str, ready: str = "READY", timeout: float = 30,
        env: dict[str, str] | None = None) -> Iterator[Target]:
    """Start a fixture, wait for its ready line on stdout, kill it afterwards."""
    proc = subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, **(env or {})},
                            start_new_session=True)
    line = ""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if ready in line:
            break
    if ready not in line:
        proc.kill()
        raise RuntimeError(f"{exe.name} did not print {ready!r}: last line {line!r}")
    try:
        yield Target(proc, exe, line.strip())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def tracer_pid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    raise RuntimeError("no TracerPid line")


def tracer_process(pid: int) -> int:
    """The process (Tgid) of the thread that traces pid (TracerPid names a thread), 0 if
    untraced."""
    tid = tracer_pid(pid)
    if not tid:
        return 0
    for line in Path(f"/proc/{tid}/status").read_text().splitlines():
        if line.startswith("Tgid:"):
            return int(line.split()[1])
    raise RuntimeError("no Tgid line")


def cpu_ticks(pid: int) -> int:
    """utime+stime of a process, to check that it keeps making progress."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_untraced(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tracer_pid(pid) == 0:
            return True
        time.sleep(0.05)
    return tracer_pid(pid) == 0


def making_progress(pid: int, within: float = 3.0) -> bool:
    """True if the process burns CPU (fixtures run a ticker loop) within `within` s."""
    start = cpu_ticks(pid)
    state0 = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if cpu_ticks(pid) > start:
            return True
    return state0 not in ("t", "T") and cpu_ticks(pid) > start
