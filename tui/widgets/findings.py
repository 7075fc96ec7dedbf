"""Findings pane: the wait-for analysis (backends/analysis.py), most severe first;
proofs marked as such. The highlighted finding's wait-for chain, in words, shows
under the table (backends/waitfor.py).

Enter on a finding jumps to its first goroutine in the goroutine list."""

from __future__ import annotations

from gotui.backends.model import Finding
from gotui.backends.waitfor import chain_text
from gotui.tui.messages import FindingChosen
from textual.widgets import DataTable

COLUMNS = ("severity", "goroutines", "finding")  # the long column last
NOTHING_FOUND = "nothing found: no deadlock, leak or orphaned wait"
SEVERITY_MARK = {"error": "✖ error", "warning": "▲ warning", "hint": "· hint"}
PROOF_MARK = "✖ proof"


def finding_cells(f: Finding) -> tuple[str, ...]:
    ids = ",".join(map(str, f.goroutines[:4])) + ("…" if len(f.goroutines) > 4 else "")
    return (PROOF_MARK if f.proof else SEVERITY_MARK.get(f.severity, f.severity),
            f"{len(f.goroutines)}: {ids}" if f.goroutines else "", f.title)


class FindingsTable(DataTable[str]):
    def __init__(self, **kwargs: str) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.items: list[Finding] = []
        self._cells: list[tuple[str, ...]] = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)
        self.border_title = "8 Findings"

    def show(self, found: list[Finding]) -> None:
        """New findings; the table is rebuilt only when its cells change: a rebuild
        throws away its rendered lines, and most refreshes find the same."""
        self.items = list(found)
        shown = [finding_cells(f) for f in self.items]
        if shown != self._cells:
            row = self.cursor_row
            self._cells = shown
            self.clear()
            for n, cells in enumerate(shown):
                self.add_row(*cells, key=str(n))
            if self.items:
                self.move_cursor(row=min(row, len(self.items) - 1))
        self.border_title = f"8 Findings ({len(self.items)})"
        self._show_message()

    @property
    def current(self) -> Finding | None:
        if not self.items or not 0 <= self.cursor_row < len(self.items):
            return None
        return self.items[self.cursor_row]

    def _show_message(self) -> None:
        f = self.current
        if f is None:
            self.border_subtitle = NOTHING_FOUND
            return
        words = chain_text(f.chain)
        self.border_subtitle = (f.message if not words or words in f.message
                                else f"{words}. {f.message}")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_message()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        f = self.current
        if f is not None:
            self.post_message(FindingChosen(f))
