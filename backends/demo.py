"""`gotui demo`: the bundled demo service, built and started in a directory of the user's.

The demo's Go sources ship as package data of `gotui.demo` (tests/fixtures/demo in the
repository). They are copied into <dir>/src and built there, so `go build` never
writes next to the installed package (site-packages is not ours to write to, and may
be read-only). <dir> defaults to $XDG_CACHE_HOME/gotui/demo; `make demo` passes the
checkout's .cache/demo. gotui may run as root and runs the binary it builds there, so
<dir> must be ours and writable by nobody else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import time
from importlib.resources import files
from pathlib import Path

import psutil
from gotui.backends.cachedir import user_cache_dir
from gotui.backends.isolation import SAFE_CWD, helper_env, trusted_executable
from gotui.backends.model import GotuiError

DEMO_PACKAGE = "gotui.demo"
SOURCE_SUFFIXES = (".go", ".c", ".h")
GO_FALLBACK = "/usr/local/go/bin/go"  # where the go.dev tarball installs, often not on PATH
READY_SECONDS = 15.0


def default_dir() -> Path:
    return user_cache_dir() / "demo"


def source_dir(demo_dir: Path | None = None) -> Path:
    """Where build_demo puts the sources it builds: the files the binary's debug info
    names (breakpoints by file:line, the source view)."""
    return (demo_dir or default_dir()) / "src"


def find_go() -> str | None:
    """The `go` command: $PATH, then /usr/local/go/bin/go."""
    found = shutil.which("go")
    if found:
        return found
    return GO_FALLBACK if os.access(GO_FALLBACK, os.X_OK) else None


def sources() -> dict[str, bytes]:
    """The demo's Go module: file name -> content."""
    out: dict[str, bytes] = {}
    for entry in files(DEMO_PACKAGE).iterdir():
        if entry.is_file() and (entry.name == "go.mod" or entry.name.endswith(SOURCE_SUFFIXES)):
            out[entry.name] = entry.read_bytes()
    if "go.mod" not in out:
        raise GotuiError(f"the demo's sources are missing from this install ({DEMO_PACKAGE})")
    return out


def private_dir(path: Path) -> Path:
    """`path` resolved, created 0700 if missing; a GotuiError if it is not a directory
    of ours that only we can write to."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        real = path.resolve()
        st = real.stat()
    except OSError as exc:
        raise GotuiError(f"cannot use {path} for the demo: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise GotuiError(f"{path} is not a directory")
    if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise GotuiError(f"refusing to build and run the demo in {real}: it is not owned by "
                         "this user or others can write to it (use --dir)")
    return real


def build_demo(demo_dir: Path | None = None) -> Path:
    """<dir>/demo, rebuilt when the sources changed. Debug build (-N -l), so Delve sees
    locals such as profileHandler's userID."""
    base = private_dir(demo_dir or default_dir())
    exe, stamp, src_dir = base / "demo", base / "demo.sources-sha256", source_dir(base)
    src = sources()
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + data + b"\0"
                                     for name, data in sorted(src.items()))).hexdigest()
    with contextlib.suppress(OSError):
        if exe.is_file() and stamp.read_text().strip() == digest:
            return exe
    go = find_go()
    if go is None:
        raise GotuiError("`gotui demo` builds a Go program: no `go` on PATH or in "
                         "/usr/local/go/bin (install Go from https://go.dev/dl)")
    go = trusted_executable(go, "go")
    shutil.rmtree(src_dir, ignore_errors=True)
    src_dir.mkdir(mode=0o700)
    for name, data in src.items():
        (src_dir / name).write_bytes(data)
    # isolated (backends/isolation.py); GOENV=off: no go env file from a user's home
    env = helper_env({"CGO_ENABLED": "1", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod",
                      "GOENV": "off"})
    tmp = base / "demo.tmp"
    res = subprocess.run([go, "build", "-gcflags=all=-N -l", "-o", str(tmp), "."],
                         cwd=src_dir, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["go build failed"])[-1]
        raise GotuiError(f"building the demo failed: {last}")
    os.replace(tmp, exe)  # a demo still running from the old binary sees it "(deleted)"
    stamp.write_text(digest + "\n")
    return exe


def start_demo(addr: str, demo_dir: Path | None = None) -> int:
    """Start the demo service (or reuse the one running from <dir>) and return its pid."""
    exe = Path(trusted_executable(str(build_demo(demo_dir)), "the demo"))
    pidfile, log_path = exe.with_name("demo.pid"), exe.with_name("demo.log")
    if pidfile.exists():
        try:
            pid = int(pidfile.read_text().strip())
            running = os.readlink(f"/proc/{pid}/exe")
        except (ValueError, OSError):
            running = ""
        if running == str(exe):
            return pid
        if running == f"{exe} (deleted)":  # an older build still runs: replace it
            os.kill(pid, signal.SIGTERM)
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).wait(5)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(exe), "-addr", addr], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=SAFE_CWD, env=helper_env())
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        text = log_path.read_text()
        if proc.poll() is not None:
            last = (text.strip().splitlines() or ["no output"])[-1]
            raise GotuiError(f"the demo exited at start: {last}")
        if "READY" in text:
            pidfile.write_text(str(proc.pid))
            return proc.pid
        time.sleep(0.05)
    raise GotuiError(f"the demo did not become ready within {READY_SECONDS:.0f} s")
