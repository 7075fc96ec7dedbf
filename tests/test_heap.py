"""backends.heap: what glibc kept of freed memory goes back to the OS, from the arenas
of worker threads too (the TUI's refresh builds run in them)."""

from __future__ import annotations

import threading

import psutil
from gotui.backends.heap import return_freed_memory

MB = 1 << 20


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def test_memory_freed_in_a_worker_thread_goes_back() -> None:
    kept: list[list[int]] = []

    def burst() -> None:
        # ~170 MB of 856-byte lists (past pymalloc: glibc's) with every tenth kept, so
        # the freed ones are holes glibc does not give back by itself
        made = [[i] * 100 for i in range(200_000)]
        kept.extend(made[::10])

    worker = threading.Thread(target=burst)
    worker.start()
    worker.join()
    before = rss()
    return_freed_memory()
    after = rss()
    assert len(kept) == 20_000
    assert before - after > 40 * MB, (before // MB, after // MB)  # ~60 MB here
