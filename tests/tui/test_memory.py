"""What a long live session keeps: only the current snapshot, not one per refresh.

At 100k goroutines every retained snapshot pins tens of MB (its goroutine objects
whose wait times changed). The Findings history used to keep the last 6 whole
snapshots, and the analysis worker's argument kept one more per cancelled worker:
the TUI's RSS grew from ~340 MB to ~850 MB in two minutes. Now the history holds
`backends.analysis.Summary` objects."""

from __future__ import annotations

import gc
import os

import psutil
import pytest
from gotui.backends.analysis import Summary
from gotui.backends.factory import attach_session
from gotui.backends.heap import return_freed_memory
from gotui.backends.model import Snapshot
from gotui.tui.refresh_model import HISTORY

from tests import gofixtures
from tests.tui.conftest import make_app
from tests.tui.fakes import RecordingSession
from tests.tui.test_app import fake_live, until


def live_snapshots() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Snapshot)


async def test_refreshes_keep_summaries_not_snapshots(session: RecordingSession) -> None:
    app = make_app(session, refresh_interval=0.1)
    async with app.run_test(size=(160, 48)) as pilot:
        live = fake_live(session)
        await until(pilot, lambda: live.snapshots > HISTORY + 4, "refreshes")
        # (findings, and so the history, come less often than refreshes when they cost
        # more: under load, a full history takes longer than 5 s)
        await until(pilot, lambda: len(app.refresher.model.history) == HISTORY, "a full history",
                    timeout=30)
        assert all(isinstance(h, Summary) for h in app.refresher.model.history)
        await pilot.press("p")  # pause the refresh: nothing in flight once workers are done
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        # the shown one, the session's last, perhaps one in a view message not yet handled
        # (under load); a history of snapshots would add HISTORY more
        assert live_snapshots() <= 3 < HISTORY


MEMORY_GOROUTINES = 100_000
MEMORY_REFRESHES = 60  # a minute or two of 100k-goroutine refreshes, back to back
GROWTH_LIMIT_MB = 40  # from the first third to the end; a leak of one snapshot per
# refresh grows by tens of MB per refresh here


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


@pytest.mark.integration
async def test_rss_stays_flat_over_many_refreshes_of_100k_goroutines() -> None:
    """The app headless on a real target with 100k parked goroutines whose wait times
    move every refresh (each counted on the live reader's clock): RSS after
    a third of the refreshes and at the end must not have grown. Growth is asserted,
    never time: the refreshes run as fast as they go."""
    exe = gofixtures.build("live_stall", optimize=True)
    me = os.getpid()
    with gofixtures.run(exe, "-sleep", str(MEMORY_GOROUTINES), "-gc", timeout=120) as target:
        session = attach_session(target.pid)
        app = make_app(session, refresh_interval=0.25)  # type: ignore[arg-type]
        samples: dict[int, float] = {}
        try:
            async with app.run_test(size=(120, 30)) as pilot:
                app.refresher.adaptive = False  # back to back, whatever they cost
                await until(pilot, lambda: len(app.index.data) >= MEMORY_GOROUTINES,
                            "100k goroutines", timeout=120)
                marks = range(MEMORY_REFRESHES // 6, MEMORY_REFRESHES + 1,
                              MEMORY_REFRESHES // 6)
                ticks = 0
                while len(samples) < len(marks):
                    await pilot.pause(0.5)
                    ticks += 1
                    n = app.refresher.refreshes
                    for mark in marks:
                        if n >= mark and mark not in samples:
                            # between two refreshes: one in flight holds two snapshots
                            await until(pilot, lambda: not app.refresher.in_flight,
                                        "no refresh in flight", timeout=60)
                            gc.collect()
                            # what the app holds, not what glibc keeps of what it freed
                            # (the live reader's read buffers are tens of MB at 100k)
                            return_freed_memory()
                            samples[mark] = rss_mb(me)
                    if ticks % 4 == 0:  # keys land between refreshes too (each one
                        await pilot.press("j")  # holds the refresh threads until painted)
        finally:
            await session.close()
    print("RSS (MB) after n refreshes:", {n: round(mb) for n, mb in samples.items()})
    # A leak grows to the end; caches that fill and are pruned (the reader's stacks
    # and buffers) make a bump of a few tens of MB in between that goes away.
    first = samples[MEMORY_REFRESHES // 3]
    end = min(samples[MEMORY_REFRESHES - MEMORY_REFRESHES // 6], samples[MEMORY_REFRESHES])
    assert end - first < GROWTH_LIMIT_MB, samples
