"""Lifecycle pane: goroutines per creation site (created/s, exited/s, live, mean
lifetime) over the state timeline. Enter on a site filters the goroutine list to it;
`S` switches the sort between live and created/s."""

from __future__ import annotations

from gotui.backends.formats import human_duration
from gotui.tui import keymap
from gotui.tui.lifecycle_model import LifecycleModel, SiteRow
from gotui.tui.messages import SiteChosen
from gotui.tui.widgets.timeline import TimelineView
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable

COLUMNS = ("live", "created/s", "exited/s", "mean life", "go statement", "start")
SORTS = ("live", "created")


def rate_text(rate: float) -> str:
    if rate == 0:
        return "0"
    return f"{rate:.1f}" if rate < 100 else f"{rate:.0f}"


def lifetime_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms" if seconds < 0.1 else f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return human_duration(int(seconds * 1e9))


def site_cells(row: SiteRow) -> tuple[str, ...]:
    start = row.start.function or "?"
    return (str(row.live), rate_text(row.created_per_s), rate_text(row.exited_per_s),
            lifetime_text(row.mean_lifetime), row.key, start)


class LifecycleTable(DataTable[str]):
    BINDINGS = keymap.bindings("lifecycle")

    def __init__(self, **kwargs: str) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.rows_shown: list[SiteRow] = []
        self.sort = "live"

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def show(self, rows: list[SiteRow]) -> None:
        current = self.current
        self.rows_shown = rows
        self.clear()
        for row in rows:
            self.add_row(*site_cells(row), key=row.key)
        keep = next((i for i, r in enumerate(rows)
                     if current is not None and r.key == current.key), 0)
        if rows:
            self.move_cursor(row=keep)

    @property
    def current(self) -> SiteRow | None:
        if not self.rows_shown or not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(SiteChosen(row))

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        pane = self.parent
        if isinstance(pane, LifecyclePane) and pane.model is not None:
            pane.show(pane.model, pane.now)


class LifecyclePane(Vertical):
    DEFAULT_CSS = """
    LifecyclePane { height: 1fr; }
    LifecyclePane > LifecycleTable { height: 1fr; min-height: 4; }
    LifecyclePane > TimelineView { max-height: 50%; }
    """

    def __init__(self, **kwargs: str) -> None:
        super().__init__(**kwargs)
        self.model: LifecycleModel | None = None
        self.now = 0.0

    def compose(self) -> ComposeResult:
        yield LifecycleTable(id="lifecycle-table")
        yield TimelineView(id="timeline")

    def on_mount(self) -> None:
        self.border_title = "9 Lifecycle"

    @property
    def table(self) -> LifecycleTable:
        return self.query_one(LifecycleTable)

    def show(self, model: LifecycleModel, now: float) -> None:
        self.model, self.now = model, now
        table = self.table
        rows = model.rows(now, table.sort)
        table.show(rows)
        self.query_one(TimelineView).show(model, now)
        sort = "live" if table.sort == "live" else "created/s"
        self.border_title = f"9 Lifecycle ({len(rows)} sites)"
        self.border_subtitle = f"rates {model.resolution} · sort: {sort} (S) · enter: its goroutines"
