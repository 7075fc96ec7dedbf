"""What one refresh produces, made in one worker hop (no Textual here).

A refresh takes a snapshot and makes everything the panes show of it: the goroutine
list's next IndexData and its view, the lifecycle digest, the Blocking pane's rows and
the findings. It all starts from what changed since the previous snapshot
(SnapshotChanges), so a refresh where 100 of 100k goroutines changed does work for
100, not 100k: the index patches its orders, the trackers (backends/analysis.py)
update per changed goroutine, and the analysis runs over the few goroutines it needs.

The UI applies the RefreshView it returns in one step (tui/controllers/refresh.py).
RefreshModel keeps what refreshes share between them; only one build runs at a time,
in a worker thread, and only it changes that state.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gotui.backends.analysis import (
    BlockingTracker,
    FindingsInput,
    Summary,
    findings,
    summarize,
)
from gotui.backends.heap import return_freed_memory
from gotui.backends.model import Channel, Finding, Goroutine, Snapshot
from gotui.backends.yielding import step_aside
from gotui.tui.goroutine_index import (
    IndexData,
    IndexView,
    ShapeTable,
    ViewSettings,
    build_view,
    exact_waits,
    next_data,
)
from gotui.tui.lifecycle_model import Digester, SnapshotDigest
from gotui.tui.snapshot_changes import SnapshotChanges, snapshot_changes
from gotui.tui.widgets.channels import BlockingRows, blocking_rows

HISTORY = 6  # earlier snapshots (as Summary) kept for the leak / stuck-wait findings
# The findings may take this much of a core: when they cost more (100k goroutines
# parked on channels), they run less often than the list refreshes.
FINDINGS_SHARE = 0.05
TRIM_SHARE = 0.1


@dataclass(frozen=True)
class RefreshView:
    """Everything a refresh shows. `analysed`: the Blocking rows and lifecycle digest
    are in it (the first refresh leaves them to a second hop, so that the list paints
    first); `findings` is None when they were not due this time (the pane keeps what
    it shows)."""

    snapshot: Snapshot  # its goroutines are those of `data`
    data: IndexData
    view: IndexView
    changed: int  # goroutines added, changed or gone since the previous refresh
    analysed: bool = False
    channels: dict[str, Channel] | None = None
    blocking: BlockingRows | None = None
    findings: list[Finding] | None = None
    lifecycle: SnapshotDigest | None = None
    # (analysed) the user goroutines that wait on something or hold addresses others
    # wait on: all a wait-for chain (`w`) is made of, besides its last step
    waiting: frozenset[int] = frozenset()


class RefreshModel:
    def __init__(self, shapes: ShapeTable, digester: Digester) -> None:
        self.shapes = shapes
        self.digester = digester
        self.blocking = BlockingTracker()
        self.findings_input = FindingsInput()
        self.history: deque[Summary] = deque(maxlen=HISTORY)
        self.data = IndexData()  # the last one built
        self._view: IndexView | None = None
        self._pending: list[SnapshotChanges] = []  # not yet analysed
        self.findings_cost = 0.0  # CPU seconds of the last findings run
        self.findings_every = 0.0  # seconds between two runs (0: every refresh)
        self._found_at: float | None = None

    def build(self, snap: Snapshot, settings: ViewSettings, touched_by: int = 0,
              analyse: bool = True, parked_at: dict[int, int] | None = None) -> RefreshView:
        """The RefreshView of `snap` for a list shown with `settings`. `touched_by`: the
        selected goroutine (the Blocking pane also lists the channels it touches);
        `parked_at`: when eBPF saw goroutines park (their exact waits)."""
        if parked_at:
            snap = dataclasses.replace(snap, goroutines=exact_waits(
                snap.goroutines, parked_at, int(snap.taken_at * 1e9)))
        changes = snapshot_changes(self.data.live, snap.goroutines)
        step_aside()
        data = next_data(self.data, changes, self.shapes, snap.taken_at)
        step_aside()
        view = self._view
        if view is None or view.settings != settings or not view.still_valid_for(data):
            view = build_view(data, self.shapes, settings)
        else:
            view = view.rebound(data)
        self.data, self._view = data, view
        self._pending.append(changes)
        result = RefreshView(snap, data, view, changes.count)
        return self.analyse(result, touched_by) if analyse else result

    def analyse(self, done: RefreshView, touched_by: int = 0) -> RefreshView:
        """`done` with the Blocking rows, findings and lifecycle digest of its snapshot
        (from every change not analysed yet)."""
        pending, self._pending = self._pending, []
        added: list[Goroutine] = []
        changed: list[tuple[Goroutine, Goroutine]] = []
        gone: list[Goroutine] = []
        for ch in pending:
            added += ch.added
            changed += ch.changed
            gone += ch.gone
        if len(pending) > 1:  # folded: what several snapshots changed, as one change
            added, changed, gone = _fold(added, changed, gone)
        step_aside()
        self.blocking.update(added, changed, gone)
        self.findings_input.update(added, changed, gone)
        step_aside()
        digest = self.digester.update(added, changed, gone, time.time(), done.data.live)
        step_aside()
        snap = done.snapshot
        lookup = done.data.live.get
        rows = blocking_rows(snap.channels, self.blocking.goroutines(lookup, snap.channels,
                                                                      snap.locks),
                             touched_by, snap.locks,
                             self.blocking.groups(lookup, snap.channels, snap.locks))
        step_aside()
        found = self._findings(snap, lookup)
        if len(added) + len(changed) + len(gone) > TRIM_SHARE * len(done.data.live):
            # the first refresh (and any that changed most goroutines) built and freed
            # big tables: hand the freed heap back (~30 MB at 100k goroutines)
            return_freed_memory()
        return RefreshView(snap, done.data, done.view, done.changed, True,
                           {c.addr: c for c in snap.channels}, rows, found, digest,
                           frozenset(self.findings_input.relevant))

    def _findings(self, snap: Snapshot, lookup: Callable[[int], Goroutine | None]
                  ) -> list[Finding] | None:
        now = time.monotonic()
        if self._found_at is not None and now - self._found_at < self.findings_every:
            return None
        started = time.thread_time()
        pruned = self.findings_input.snapshot(snap, lookup)
        found = findings(pruned, list(self.history))
        self.history.append(summarize(pruned))
        self.findings_cost = time.thread_time() - started
        self.findings_every = self.findings_cost / FINDINGS_SHARE
        self._found_at = now
        return found


def _fold(added: list[Goroutine], changed: list[tuple[Goroutine, Goroutine]],
          gone: list[Goroutine]) -> tuple[list[Goroutine], list[tuple[Goroutine, Goroutine]],
                                          list[Goroutine]]:
    """Changes of several snapshots in a row, as one change from the first to the last."""
    first: dict[int, Goroutine | None] = {}  # goid -> as it was before (None: not there)
    last: dict[int, Goroutine | None] = {}  # goid -> as it is now (None: gone)
    for g in added:
        first.setdefault(g.id, None)
        last[g.id] = g
    for old, g in changed:
        first.setdefault(g.id, old)
        last[g.id] = g
    for g in gone:
        first.setdefault(g.id, g)
        last[g.id] = None
    out_added, out_changed, out_gone = [], [], []
    for goid, now in last.items():
        before = first[goid]
        if before is None and now is not None:
            out_added.append(now)
        elif before is not None and now is None:
            out_gone.append(before)
        elif before is not None and now is not None:
            out_changed.append((before, now))
    return out_added, out_changed, out_gone
