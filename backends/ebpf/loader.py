"""Checks that eBPF tracing can work here and compiles BPF programs with BCC.
Every failure is one GotuiError line that says what is missing."""

from __future__ import annotations

import contextlib
import os
import platform
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gotui.backends.heap import return_freed_memory
from gotui.backends.model import GotuiError


def unavailable_reason() -> str | None:
    """Why eBPF tracing cannot work on this host, or None if it can."""
    if os.geteuid() != 0:
        return "eBPF tracing needs root (CAP_BPF and CAP_PERFMON); run gotui as root"
    try:
        import bcc  # noqa: F401
    except ImportError:
        return ("eBPF tracing needs BCC's Python bindings: install the distro package "
                "python3-bpfcc (PyPI's 'bcc' is a different project)")
    build = Path(f"/lib/modules/{platform.release()}/build")
    if not (build / "include").is_dir():
        return (f"no kernel headers at {build}: BCC cannot compile BPF programs "
                "(install or link a headers tree there)")
    if not Path("/sys/kernel/tracing").is_dir() and not Path("/sys/kernel/debug/tracing").is_dir():
        return "tracefs is not available (mount -t tracefs nodev /sys/kernel/tracing)"
    if not Path("/sys/bus/event_source/devices/uprobe").exists():
        return "this kernel has no uprobe support (CONFIG_UPROBE_EVENTS)"
    return None


def check_environment() -> None:
    reason = unavailable_reason()
    if reason is not None:
        raise GotuiError(reason)


# BCC's compiler (clang/LLVM in libbcc) is not thread-safe: the lifecycle feed and the
# exact-holder tracker each compile on their own thread; two at once crashed gotui
# (SIGSEGV). Compile one program at a time. (fd 2 is redirected meanwhile: also global.)
_COMPILE = threading.Lock()


def compile_program(text: str) -> Any:
    """A loaded bcc.BPF for `text`. BCC prints compiler diagnostics on stderr; they are
    captured and the first error line becomes the GotuiError message."""
    check_environment()
    from bcc import BPF

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
