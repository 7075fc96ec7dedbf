"""The app's eBPF side: lifecycle and tracepoint state fed by session events (and live
snapshots), drawn into the lifecycle, tracepoint and probe status widgets on a timer.

Lifecycle events can come by the thousand per second: they go straight into the
LifecycleModel from the session listener (no Textual message each); the panes are
redrawn at most every LIFECYCLE_REDRAW seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gotui.backends.model import Event, GotuiError, Snapshot
from gotui.tui.lifecycle_model import LifecycleModel, SnapshotDigest
from gotui.tui.widgets.lifecycle import LifecyclePane
from gotui.tui.widgets.probe_status import ProbeStatus
from gotui.tui.widgets.tracepoint_log import LOG_LINES, Tracepoint, TracepointPane

if TYPE_CHECKING:
    from gotui.backends.ebpf.feed import EbpfFeed
    from gotui.backends.target import TargetSession

LIFECYCLE_TYPES = ("created", "exited", "blocked", "unblocked")
LIFECYCLE_REDRAW = 1.0
HITS_FLUSH = 0.25
CORE_NOTE = "a core file: counts, no rates · enter: its goroutines"
NO_FEED = "tracepoints need eBPF on a local attach (gotui attach <pid>)"


class EbpfView:
    def __init__(self, session: TargetSession) -> None:
        self.session = session
        self.model = LifecycleModel()
        self.tracepoints: dict[str, Tracepoint] = {}
        self.pending_hits: list[Event] = []
        self.status: Event | None = None
        self.guards: dict[str, Event] = {}  # the last guard event of each probe
        self.status_dirty = False
        feed = self.feed
        if feed is not None and feed.status is not None:
            self.status = feed.status

    @property
    def feed(self) -> EbpfFeed | None:
        return self.session.ebpf

    @property
    def has_feed(self) -> bool:
        return self.feed is not None

    @property
    def tracing_off(self) -> str | None:
        """Why no tracepoint can be set now, or None."""
        feed = self.feed
        if feed is None:
            return NO_FEED
        if feed.off_reason is not None:
            return f"eBPF is off: {feed.off_reason}"
        return None

    def take(self, ev: Event) -> bool:
        """Handle an eBPF event from the session listener; True if it needs nothing
        more (the caller then posts no message for it)."""
        if ev.type in LIFECYCLE_TYPES:
            self.model.add_event(ev)
            return True
        if ev.type == "tracepoint":
            tp = self.tracepoints.get(str(ev.data.get("probe", "")))
            if tp is not None:
                tp.logged += 1
            self.pending_hits.append(ev)
            if len(self.pending_hits) > 2 * LOG_LINES:
                del self.pending_hits[:-LOG_LINES]
            return True
        if ev.type == "probes":
            self.status = ev
            if ev.data.get("available") and not ev.data.get("starting"):
                self.model.use_events(ev.t_ns / 1e9)
            for p in ev.data.get("probes") or []:
                tp = self.tracepoints.get(p.get("key", ""))
                if tp is not None:
                    tp.hits, tp.hits_per_s = int(p["hits"]), float(p["hits_per_s"])
                    tp.state = str(p["state"])
            self.status_dirty = True
            return True
        if ev.type == "guard":
            self.guards[str(ev.data.get("probe", ""))] = ev
            self.status_dirty = True
            return False  # also a notification: the guard acting must never be silent
        return ev.type == "lost"  # counted in the status line, not one toast each

    def digest(self, snap: Snapshot) -> SnapshotDigest:
        """The snapshot's share of lifecycle work that may run in a thread."""
        return self.model.digester.digest(snap, time.time())

    def add_digest(self, digest: SnapshotDigest) -> None:
        self.model.add_digest(digest)

    # ------------------------------------------------------------ drawing
    def draw_lifecycle(self, pane: LifecyclePane) -> None:
        if pane.display and pane.parent is not None and pane.parent.display:
            pane.show(self.model, time.time())
            if self.session.capabilities.post_mortem:
                pane.border_subtitle = CORE_NOTE

    def draw_status(self, widget: ProbeStatus) -> None:
        widget.display = self.has_feed or self.status is not None  # remote viewers too
        if self.status_dirty or widget.status is not self.status:
            self.status_dirty = False
            widget.show(self.status, self.guards)

    def draw_tracepoints(self, pane: TracepointPane) -> None:
        hits, self.pending_hits = self.pending_hits, []
        if hits:
            pane.add_hits(hits)
        pane.show(list(self.tracepoints.values()), self.tracing_off)

    # ------------------------------------------------------------ tracepoints
    async def add_tracepoint(self, function: str, cond: str) -> str:
        feed = self.feed
        if feed is None:
            raise GotuiError(NO_FEED)
        key: str = await feed.add_tracepoint(function, cond)
        self.tracepoints[key] = Tracepoint(key, function, cond)
        return key

    async def remove_tracepoint(self, key: str) -> None:
        feed = self.feed
        if feed is not None:
            await feed.remove_tracepoint(key)
        self.tracepoints.pop(key, None)

    # ------------------------------------------------------------ lineage
    def lineage_text(self, goid: int, alive: Callable[[int], bool]) -> str:
        """`g42 created 12:03:04.123 · parent exited (g17) ← g1`."""
        if not goid:
            return ""
        parts = [f"g{goid}"]
        born = self.model.created_at(goid)
        if born is not None:
            t, exact = born
            stamp = time.strftime("%H:%M:%S", time.localtime(t))
            if exact:
                parts[0] += f" created {stamp}.{int(t * 1000) % 1000:03d}"
            else:
                parts[0] += f" first seen {stamp} (±1 refresh)"
        chain = self.model.parent_chain(goid, alive)
        if chain:
            (first, first_live), rest = chain[0], chain[1:]
            links = [f"parent g{first}" if first_live else f"parent exited (g{first})"]
            links += [f"g{p}" + ("" if live else " exited") for p, live in rest]
            parts.append(" ← ".join(links))
        elif born is None:
            return ""
        return " · ".join(parts)
