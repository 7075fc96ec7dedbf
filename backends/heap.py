"""Giving freed memory back to the OS.

glibc keeps what a library frees in its arenas. clang inside libbcc allocates ~90 MB
to compile a BPF program and frees most of it: malloc_trim(0) hands ~30 MB of that back
per compile (measured: 197 -> 166 MB after the first compile; before, each tracepoint
added ~40 MB). The TUI trims after each refresh, the share host after each pull: at
1M goroutines the builds of a refresh and the indexes of a grouping, sort or filter
free ~150 MB that glibc kept, and RSS grew with each round of keys (1,390 -> 1,500 MB;
with the trims it stays at 1,250-1,420 MB). A trim takes 3-9 ms there."""

from __future__ import annotations

import contextlib
import ctypes
import functools


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def return_freed_memory() -> None:
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(AttributeError):  # not glibc
            libc.malloc_trim(0)
