"""Breakpoints table: id, location, condition, hit condition, per-g, enabled, hits."""

from __future__ import annotations

from gotui.backends.model import Breakpoint
from gotui.tui import keymap
from gotui.tui.messages import BreakpointAction
from textual.widgets import DataTable

COLUMNS = ("id", "on", "location", "cond", "hit cond", "per-g", "hits")


def breakpoint_row(bp: Breakpoint) -> tuple[str, ...]:
    return (
        str(bp.id),
        "✓" if bp.enabled else "·",
        bp.where() + (" (trace)" if bp.tracepoint else ""),
        bp.cond,
        bp.hit_cond,
        "yes" if bp.hit_cond_per_g else "",
        str(bp.total_hits),
    )


class BreakpointsTable(DataTable[str]):
    BINDINGS = keymap.bindings("breakpoints")

    def __init__(self, **kwargs: str) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.items: list[Breakpoint] = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def show(self, breakpoints: list[Breakpoint]) -> None:
        row = self.cursor_row
        self.items = sorted(breakpoints, key=lambda b: b.id)
        self.clear()
        for bp in self.items:
            self.add_row(*breakpoint_row(bp), key=str(bp.id))
        if self.items:
            self.move_cursor(row=min(row, len(self.items) - 1))
        self.border_title = f"5 Breakpoints ({len(self.items)})"

    @property
    def current(self) -> Breakpoint | None:
        if not self.items or not 0 <= self.cursor_row < len(self.items):
            return None
        return self.items[self.cursor_row]

    def _post(self, action: str) -> None:
        bp = self.current
        if bp is not None:
            self.post_message(BreakpointAction(action, bp))

    def action_edit(self) -> None:
        self._post("edit")

    def action_toggle(self) -> None:
        self._post("toggle")

    def action_delete(self) -> None:
        self._post("delete")
