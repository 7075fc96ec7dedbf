"""The share's snapshot pull loop: what every client is sent of the goroutines.

The loop pulls a snapshot from the host session every `interval` seconds (at once when
the target's state changes; once per stop while halted; a huge target's pulls are kept
to session.LIVE_READ_SHARE of a core), reusing one the host's TUI has just taken, and
publishes it as a TextSnapshot (snapshots.py) built in a worker thread. Clients in step
share one encoding of the same full or delta message (`texts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from gotui.backends.heap import return_freed_memory
from gotui.backends.model import GotuiError, Snapshot, TargetState
from gotui.backends.remote.snapshots import BodyCache, TextSnapshot, delta_texts, full_texts
from gotui.backends.session import LIVE_READ_SHARE, LIVE_WARMUP, Session, live_step, thread_cpu

CHUNK = 1000  # goroutines per snapshot message part


def pull_pause(interval: float, cpu: float) -> float:
    """The pause after a pull that took `cpu` seconds of CPU (the read's and the build's,
    each in its worker thread): a huge target makes pulls expensive, so they are kept to
    LIVE_READ_SHARE of a core, in the TUI's steps (at 100k goroutines every 2 s; a host
    pulling every 1 s took 12 % of a core). Only the pull's own threads count: sending
    a first 90 MB snapshot to 20 viewers at once is not the pull's cost, and counting it
    stretched the pause to 30 s, so no viewer got an update."""
    need = cpu / LIVE_READ_SHARE
    return interval if need <= interval else live_step(need)


class SnapshotPublisher:
    def __init__(self, session: Session, interval: float, *,
                 published: Callable[[TextSnapshot], None],
                 failed: Callable[[str], None]) -> None:
        self.session = session
        self.interval = interval
        self.chunk = CHUNK
        self.published = 0  # snapshots published so far (the latest has seq == published)
        self.pulls = 0  # pulls made so far (the first LIVE_WARMUP do not set the pause)
        self.latest: TextSnapshot | None = None
        self.published_from: Snapshot | None = None  # the Snapshot `latest` was built from
        self.stops_seen = 0  # how many times the target was seen stopping
        self.pause = interval  # seconds until the next pull (unless woken)
        self._on_published = published
        self._on_failed = failed  # one line, once per different failure
        self._bodies = BodyCache()  # goroutine texts of the last build (this loop only)
        self._pulled_at_stop = -1
        self._pull_now = asyncio.Event()
        self._last_error = ""
        # (base seq, seq) -> encoded snapshot message, for the latest seq only
        self._texts: dict[tuple[int, int], asyncio.Future[list[str]]] = {}

    def target_state(self, state: TargetState) -> None:
        """The host session's new state: pull at once."""
        if not state.running:
            self.stops_seen += 1
        self.wake()

    def wake(self) -> None:
        self._pull_now.set()

    async def run(self) -> None:
        while True:
            halted = not self.session.state.running
            cpu = 0.0
            self._pull_now.clear()
            if not (halted and self._pulled_at_stop == self.stops_seen):
                stops = self.stops_seen
                cpu = await self._pull_once()
                self.pulls += 1
                if halted:
                    self._pulled_at_stop = stops
            warm = self.pulls > LIVE_WARMUP
            self.pause = pause = pull_pause(self.interval, cpu) if warm else self.interval
            # not wait_for: on Python 3.11 it swallows a cancel that lands as the event
            # is set, and close() then waits for this loop forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._pull_now.wait()

    async def _pull_once(self) -> float:
        """Pull and publish a snapshot; the CPU seconds it took (its worker threads')."""
        last = self.session.last_snapshot
        read_cpu = 0.0
        try:
            if (last is not None and last is not self.published_from
                    and time.time() - last.taken_at < self.interval):
                snap = last  # the host's TUI just took one: do not read the target twice
            else:
                snap = await self.session.snapshot()
                read_cpu = self.session.read_cpu
        except Exception as exc:  # noqa: BLE001 - reported once, the loop goes on
            text = str(exc) if isinstance(exc, GotuiError) else f"{type(exc).__name__}: {exc}"
            if text != self._last_error:
                self._last_error = text
                self._on_failed(f"snapshot: {text}")
            return 0.0
        self._last_error = ""
        self.published_from = snap
        seq = self.published + 1
        wire, build_cpu = await asyncio.to_thread(
            thread_cpu, lambda: TextSnapshot.build(seq, snap, self._bodies))
        self._texts.clear()
        self.published = seq
        self.latest = wire
        self._on_published(wire)
        return_freed_memory()  # the build's texts of the parts that changed
        return read_cpu + build_cpu

    async def texts(self, base: TextSnapshot | None, latest: TextSnapshot) -> list[str]:
        """The snapshot message (in parts) taking a client from `base` (None: nothing)
        to `latest`, encoded once for every client asking the same."""
        key = (base.seq if base is not None else 0, latest.seq)
        job = self._texts.get(key)
        if job is None:
            chunk = self.chunk
            if base is None:
                job = asyncio.ensure_future(asyncio.to_thread(full_texts, latest, chunk))
            else:
                job = asyncio.ensure_future(asyncio.to_thread(delta_texts, base, latest, chunk))
            self._texts[key] = job
        return await asyncio.shield(job)
