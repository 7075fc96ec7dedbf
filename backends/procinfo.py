"""Facts about a process from /proc: does it exist, what binary, who traces it."""

from __future__ import annotations

import mmap
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gotui.backends.model import GotuiError

BUILDINFO_MAGIC = b"\xff Go buildinf:"


@dataclass
class ProcessFacts:
    pid: int
    exe: str
    name: str
    tracer_pid: int
    tracer_name: str


def process_facts(pid: int) -> ProcessFacts:
    """Read /proc/<pid>; one-line GotuiError when the pid is unusable."""
    if pid <= 0:
        raise GotuiError(f"invalid pid {pid}")
    status = Path(f"/proc/{pid}/status")
    try:
        text = status.read_text()
    except FileNotFoundError:
        raise GotuiError(f"no process with pid {pid}") from None
    except PermissionError:
        raise GotuiError(f"cannot read /proc/{pid}/status: permission denied") from None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    tracer = _process_of_thread(int(fields.get("TracerPid", "0").strip() or 0))
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except PermissionError:
        raise GotuiError(
            f"cannot read the executable of pid {pid}: run as root or with CAP_SYS_PTRACE"
        ) from None
    except OSError:
        raise GotuiError(f"pid {pid} has no readable executable (kernel thread or zombie?)") \
            from None
    tracer_name = ""
    if tracer:
        try:
            tracer_name = Path(f"/proc/{tracer}/comm").read_text().strip()
        except OSError:
            tracer_name = "?"
    return ProcessFacts(pid, exe.removesuffix(" (deleted)"), fields.get("Name", "").strip(),
                        tracer, tracer_name)


def _status_field(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _process_of_thread(tid: int) -> int:
    """TracerPid names the tracing *thread* (dlv traces from one locked OS thread):
    map it to its process (Tgid)."""
    if not tid:
        return 0
    try:
        return _status_field(tid, "Tgid") or tid
    except OSError:
        return tid


def tracer_of(pid: int) -> int:
    """The process tracing pid, 0 if none."""
    return _process_of_thread(_status_field(pid, "TracerPid"))


def exe_path_for_reading(pid: int) -> str:
    """A path to read the binary the process runs: its own path while that is still
    the same file, else /proc/<pid>/exe, which reads the running image even when the
    file was deleted or replaced on disk (a deploy) or lives in another mount
    namespace (a container). A running executable cannot be written in place."""
    proc = f"/proc/{pid}/exe"
    try:
        path = os.readlink(proc)
        ours, theirs = os.stat(path), os.stat(proc)
    except OSError:
        return proc
    return path if (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino) else proc


def require_untraced(facts: ProcessFacts) -> None:
    if facts.tracer_pid:
        raise GotuiError(
            f"pid {facts.pid} is already traced by pid {facts.tracer_pid} "
            f"({facts.tracer_name}); detach that debugger first"
        )


def is_go_binary(path: str) -> bool:
    """Cheap check: Go binaries carry the buildinfo magic near the start of a section."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                return False
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return mm.find(BUILDINFO_MAGIC) >= 0
    except (OSError, ValueError):
        return False


def require_go(facts: ProcessFacts) -> None:
    if not is_go_binary(exe_path_for_reading(facts.pid)):
        raise GotuiError(f"pid {facts.pid} ({facts.name}) is not a Go program")


TRACE_POLL_SECONDS = 0.001


class TraceWindow:
    """How long an attach..detach held a process stopped: from the moment it got traced
    (a ptrace attach stops it) to the moment it was not traced any more (the detach
    lets it run), watched by polling TracerPid every millisecond in a thread. Start it
    before spawning the debugger, call `end()` after its detach."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.traced_at: int | None = None  # monotonic ns
        self.released_at: int | None = None
        self._detaching = threading.Event()
        self._given_up = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="gotui-trace-window",
                                        daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._given_up.is_set():
            try:
                traced = _status_field(self.pid, "TracerPid") != 0
            except OSError:  # gone
                traced = False
            now = time.monotonic_ns()
            if traced and self.traced_at is None:
                self.traced_at = now
            elif not traced and (self.traced_at is not None or self._detaching.is_set()):
                self.released_at = now
                return
            time.sleep(TRACE_POLL_SECONDS)

    def end(self, timeout: float = 5.0) -> int | None:
        """Nanoseconds the process was traced; None if that was not seen."""
        self._detaching.set()
        self._thread.join(timeout)
        self._given_up.set()
        if self.traced_at is None or self.released_at is None:
            return None
        return self.released_at - self.traced_at
