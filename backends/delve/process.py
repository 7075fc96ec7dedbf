"""The `dlv` process, and the checks made before spawning it.

Safety model (DESIGN.md §5): dlv runs headless WITHOUT --accept-multiclient on a unix
socket in a private (0700) directory; its only client is the guard (guard.py), which
releases the target safely when gotui goes away. If the guard itself dies, dlv halts
the target and detaches on its own when the connection closes; dlv also gets
PR_SET_PDEATHSIG=SIGTERM (dlv handles SIGTERM by halt + detach).
Measured with dlv 1.27.2: SIGKILL of dlv lets the kernel detach ptrace and the target
runs on (threads go from t to S), but a SIGSTOP queued while traced then leaves it in
group-stop (T): after reaping dlv we SIGCONT a target left in state T. Breakpoint
int3s stay in the code after a SIGKILL of dlv: see rescue.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from gotui.backends.gobinary.buildinfo import go_version_of_file
from gotui.backends.isolation import SAFE_CWD, find_executable, helper_env, on_path, own_home
from gotui.backends.model import GotuiError
from gotui.backends.procinfo import process_facts, require_untraced, tracer_of

DLV_INSTALL_HINT = ("dlv not found: run `make demo` or "
                    "`go install github.com/go-delve/delve/cmd/dlv@v1.27.2`")
_LISTEN_PREFIX = "API server listening at:"
_PR_SET_PDEATHSIG = 1


# ------------------------------------------------------------------ target checks

@dataclass
class TargetFacts:
    pid: int
    exe: str
    go_version: str  # "go1.26.8", "" if unknown
    has_dwarf: bool


def find_dlv() -> str:
    """Path of the dlv binary: $GOTUI_DLV, $PATH, then the usual `go install` places
    (under the effective user's own home, not a $HOME that sudo -E kept). As root it
    must be owned by root and writable by nobody else (isolation.trusted_executable)."""
    gopath = os.environ.get("GOPATH") or os.path.join(own_home(), "go")
    candidates = [os.environ.get("GOTUI_DLV", ""), on_path("dlv"),
                  os.path.join(gopath, "bin", "dlv")]
    try:
        return find_executable("dlv", candidates)
    except GotuiError as exc:
        if "not found" in str(exc):
            raise GotuiError(DLV_INSTALL_HINT) from None
        raise


def process_state(pid: int) -> str:
    """One-letter state from /proc/<pid>/stat ("" if gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def check_target(pid: int) -> TargetFacts:
    """Refuse targets Delve cannot or must not attach to, with one clear line."""
    facts = process_facts(pid)
    require_untraced(facts)
    exe = facts.exe
    try:
        with open(f"/proc/{pid}/exe", "rb") as fh:
            elf = ELFFile(fh)
            is_go = any(elf.get_section_by_name(s) is not None
                        for s in (".go.buildinfo", ".gopclntab", ".note.go.buildid"))
            has_dwarf = any(elf.get_section_by_name(s) is not None
                            for s in (".debug_info", ".zdebug_info"))
    except (OSError, ELFError, struct.error) as exc:
        raise GotuiError(f"pid {pid} ({exe}) is not a readable ELF program: {exc}") from None
    if not is_go:
        raise GotuiError(f"pid {pid} ({exe}) is not a Go program")
    if not has_dwarf:
        raise GotuiError(f"{exe} has no DWARF debug info (stripped, e.g. -ldflags=-s -w): "
                         "Delve needs DWARF; use the live view")
    return TargetFacts(pid, exe, go_version_of_file(f"/proc/{pid}/exe"), has_dwarf)


# ------------------------------------------------------------------ the dlv process

def _child_setup() -> None:
    """Runs in the forked child before exec: dlv gets SIGTERM when gotui dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class DlvProcess:
    """A `dlv attach` child. Use `await DlvProcess.spawn(pid)`, then `address`."""

    def __init__(self, proc: asyncio.subprocess.Process, target_pid: int, sockdir: str,
                 address: str) -> None:
        self.proc = proc
        self.target_pid = target_pid
        self.address = address
        self._sockdir = sockdir
        self.output: list[str] = []  # dlv's stdout/stderr lines after the listen line
        self._drain = asyncio.get_running_loop().create_task(self._drain_output())

    @classmethod
    async def spawn(cls, pid: int, *, check_go_version: bool = True,
                    dlv: str | None = None, timeout: float = 30.0) -> DlvProcess:
        """`dlv attach <pid>`."""
        return await cls._spawn(["attach", str(pid)], pid, check_go_version=check_go_version,
                                dlv=dlv, timeout=timeout)

    @classmethod
    async def spawn_core(cls, exe: str, core: str, *, check_go_version: bool = True,
                         dlv: str | None = None, timeout: float = 120.0) -> DlvProcess:
        """`dlv core <exe> <core>`: nothing is traced; only the dlv process to reap."""
        return await cls._spawn(["core", exe, core], 0, check_go_version=check_go_version,
                                dlv=dlv, timeout=timeout)

    @classmethod
    async def _spawn(cls, verb: list[str], pid: int, *, check_go_version: bool,
                     dlv: str | None, timeout: float) -> DlvProcess:
        dlv = dlv or find_dlv()
        sockdir = tempfile.mkdtemp(prefix="gotui-dlv-")  # mode 0700: private to us
        sock = os.path.join(sockdir, "dlv.sock")
        args = [dlv, *verb, "--headless", "--api-version=2",
                "--accept-multiclient=false", f"--listen=unix:{sock}"]
        if not check_go_version:
            args.append("--check-go-version=false")
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                preexec_fn=_child_setup, cwd=SAFE_CWD, env=helper_env())
        except OSError as exc:
            _rmdir(sockdir)
            raise GotuiError(f"cannot run {dlv}: {exc.strerror}") from None
        assert proc.stdout is not None
        lines: list[str] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await proc.stdout.readline()
                    if not raw:
                        break
                    line = raw.decode(errors="replace").strip()
                    if line.startswith(_LISTEN_PREFIX):
                        return cls(proc, pid, sockdir, "unix:" + sock)
                    if line:
                        lines.append(line)
        except TimeoutError:
            lines.append(f"dlv did not start within {timeout:.0f}s")
        except asyncio.CancelledError:
            await _kill_and_wait(proc)  # never leave a dlv behind
            _rmdir(sockdir)
            raise
        await _kill_and_wait(proc)
        _rmdir(sockdir)
        what = f"attach to pid {pid}" if pid else "open " + " ".join(verb[1:])
        raise GotuiError(dlv_error_line(lines, pid, what=what))

    async def _drain_output(self) -> None:
        assert self.proc.stdout is not None
        while raw := await self.proc.stdout.readline():
            line = raw.decode(errors="replace").strip()
            if line:
                self.output = [*self.output[-50:], line]

    async def failure(self, timeout: float = 5.0) -> str:
        """After the first RPC failed: wait for dlv to exit and return its reason."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), timeout)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self._drain, 1.0)
        return dlv_error_line(self.output, self.target_pid)

    async def stop(self, timeout: float = 10.0) -> None:
        """Reap dlv (after Detach it exits by itself), forcing it if needed, and
        make sure the target is neither traced nor left stopped."""
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            # SIGTERM makes dlv halt + detach; SIGKILL lets the kernel detach.
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                await _kill_and_wait(self.proc)
        self._drain.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._drain
        _rmdir(self._sockdir)
        if self.target_pid:
            release_stopped_target(self.target_pid)


_SIGTRAP_BIT = 1 << (signal.SIGTRAP - 1)


def sigtrap_pending(pid: int) -> bool:
    """Is a SIGTRAP queued for the process or one of its threads? Delve halts by
    kill(pid, SIGTRAP); if that lands while the target is already stopped it stays
    queued, and after a detach the Go runtime dies of it ("SIGTRAP: trace trap")."""
    paths = [Path(f"/proc/{pid}/status")]
    with contextlib.suppress(OSError):
        paths += [p / "status" for p in Path(f"/proc/{pid}/task").iterdir()]
    for path in paths:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                if line.startswith(("ShdPnd:", "SigPnd:")) and \
                        int(line.split()[1], 16) & _SIGTRAP_BIT:
                    return True
    return False


def release_stopped_target(pid: int) -> None:
    """SIGCONT a target that is untraced but left in group-stop ("T")."""
    if process_state(pid) == "T":
        with contextlib.suppress(OSError):
            if tracer_of(pid) == 0:
                os.kill(pid, signal.SIGCONT)


def dlv_error_line(lines: list[str], pid: int, what: str = "") -> str:
    """dlv's own reason for failing, on one line."""
    useful = [ln for ln in lines if not ln.startswith(_LISTEN_PREFIX)]
    if not useful:
        return f"dlv could not {what or f'attach to pid {pid}'} (no message)"
    msg = " ".join(" ".join(useful[-3:]).split())
    return msg if msg.startswith(("dlv", "could not")) else f"dlv: {msg}"


async def _kill_and_wait(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), 10)


def _rmdir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
