"""Viewers' reads of a halted target, answered once and shared until the target moves.

A viewer must never keep the stop-the-world backend busy ahead of the driver: while the
target is halted, the same stack/locals/args request is read from Delve once, however
many viewers ask, and at most VIEWER_READS of them at a time; the cache is dropped
whenever the target's state changes (router.CommandRouter calls clear()).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

VIEWER_READS = 2  # viewers' backend reads in flight, all viewers together
MAX_ENTRIES = 1024


class ReadCache:
    def __init__(self) -> None:
        self._jobs: dict[Hashable, asyncio.Future[Any]] = {}
        self._slots = asyncio.Semaphore(VIEWER_READS)

    def clear(self) -> None:
        self._jobs.clear()

    async def get(self, key: Hashable, read: Callable[[], Awaitable[Any]]) -> Any:
        job = self._jobs.get(key)
        if job is None:
            if len(self._jobs) >= MAX_ENTRIES:
                self._jobs.clear()
            job = asyncio.ensure_future(self._read(read))
            self._jobs[key] = job
        return await asyncio.shield(job)

    async def _read(self, read: Callable[[], Awaitable[Any]]) -> Any:
        async with self._slots:
            return await read()
