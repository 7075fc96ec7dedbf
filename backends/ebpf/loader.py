"""Checks that eBPF tracing can work here and compiles BPF programs with BCC.
Every failure is one GotuiError line that says what is missing."""

from __future__ import annotations

import contextlib
import os
import platform
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gotui.backends import caps
from gotui.backends.ebpf import bindings
from gotui.backends.heap import return_freed_memory
from gotui.backends.model import GotuiError

DOCTOR_HINT = "`gotui doctor` lists what this host lacks"
TRACEFS_DIRS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))


@dataclass(frozen=True)
class HostProblem:
    """Why eBPF cannot work here, and what to do about it."""

    what: str
    fix: str

    def line(self) -> str:
        return f"{self.what}: {self.fix}"


def privileges_problem() -> HostProblem | None:
    if os.geteuid() != 0:
        return HostProblem("eBPF tracing needs root (CAP_BPF and CAP_PERFMON)",
                           "run gotui as root")
    missing = caps.ebpf_missing(caps.effective())
    if missing:
        return HostProblem(f"eBPF tracing needs {' and '.join(missing)}, which this root "
                           "process lacks", "run gotui outside the restricted container, "
                           "or without dropping them")
    return None


def bcc_problem() -> HostProblem | None:
    found = bindings.locate()
    return HostProblem(found.problem, found.fix) if found.module is None else None


def kernel_headers() -> Path:
    return Path(f"/lib/modules/{platform.release()}/build")


def headers_problem() -> HostProblem | None:
    build = kernel_headers()
    if not (build / "include").is_dir():
        return HostProblem(f"no kernel headers at {build}, so BCC cannot compile BPF programs",
                           f"install linux-headers-{platform.release()}, or link a headers "
                           "tree of a nearby version there")
    return None


def tracefs_problem() -> HostProblem | None:
    """libbcc attaches uprobes through perf_event_open but takes them off through
    tracefs's uprobe_events: without it the probes cannot be removed cleanly."""
    denied = False
    for d in TRACEFS_DIRS:
        try:
            (d / "uprobe_events").stat()
            return None
        except PermissionError:
            denied = True
        except OSError:
            pass
    if denied:
        return HostProblem("tracefs is not readable by this user", "run gotui as root")
    return HostProblem("tracefs is not mounted", "mount -t tracefs nodev /sys/kernel/tracing")


def uprobes_problem() -> HostProblem | None:
    if not Path("/sys/bus/event_source/devices/uprobe").exists():
        return HostProblem("this kernel has no uprobe support",
                           "use a kernel built with CONFIG_UPROBE_EVENTS")
    return None


CHECKS = (privileges_problem, bcc_problem, headers_problem, tracefs_problem, uprobes_problem)


def unavailable_reason() -> str | None:
    """Why eBPF tracing cannot work on this host (one line), or None if it can."""
    for check in CHECKS:
        problem = check()
        if problem is not None:
            return problem.line()
    return None


class HostUnavailable(GotuiError):
    """eBPF cannot work on this host: `reason` in one line (`gotui doctor` says more)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}; {DOCTOR_HINT}")
        self.reason = reason


def check_environment() -> None:
    reason = unavailable_reason()
    if reason is not None:
        raise HostUnavailable(reason)


# BCC's compiler (clang/LLVM in libbcc) is not thread-safe: the lifecycle feed and the
# exact-holder tracker each compile on their own thread; two at once crashed gotui
# (SIGSEGV). Compile one program at a time. (fd 2 is redirected meanwhile: also global.)
_COMPILE = threading.Lock()


def compile_program(text: str) -> Any:
    """A loaded bcc.BPF for `text`. BCC prints compiler diagnostics on stderr; they are
    captured and the first error line becomes the GotuiError message."""
    check_environment()
    BPF = bindings.load().BPF

    with _COMPILE, _captured_fd2() as err:
        try:
            return BPF(text=text.encode(), cflags=["-Wno-unused-variable", "-Wno-unused-function"])
        except Exception as e:
            err.seek(0)
            lines = err.read().decode(errors="replace").splitlines()
            detail = next((ln for ln in lines if "error" in ln), str(e))
            raise GotuiError(f"BPF program failed to compile or load: {detail.strip()}") from e
        finally:
            return_freed_memory()  # clang's heap, freed but kept by glibc


@contextlib.contextmanager
def _captured_fd2() -> Iterator[tempfile._TemporaryFileWrapper[bytes]]:
    """Send file descriptor 2 (where clang and libbpf write) to a temp file."""
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield tmp
        finally:
            os.dup2(saved, 2)
            os.close(saved)
