"""What a long live session keeps: only the current snapshot, not one per refresh.

At 100k goroutines every retained snapshot pins tens of MB (its goroutine objects
whose wait times changed). The Findings history used to keep the last 6 whole
snapshots, and the analysis worker's argument kept one more per cancelled worker:
the TUI's RSS grew from ~340 MB to ~850 MB in two minutes. Now the history holds
`backends.analysis.Summary` objects."""

from __future__ import annotations

import gc

from gotui.backends.analysis import Summary
from gotui.backends.model import Snapshot
from gotui.tui.refresh_model import HISTORY

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
        await until(pilot, lambda: len(app.refresher.model.history) == HISTORY, "a full history")
        assert all(isinstance(h, Summary) for h in app.refresher.model.history)
        assert live_snapshots() <= 3  # the current one, perhaps one in flight, one prepared
