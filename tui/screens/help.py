"""`?`: every binding with its id, its keys (after the user keymap) and what it does."""

from __future__ import annotations

from gotui.tui import keymap
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

SCOPE_TITLES = {
    "app": "anywhere",
    "goroutines": "goroutines pane",
    "goroutine_list": "goroutine list",
    "stack": "stack pane",
    "source": "source pane",
    "breakpoints": "breakpoints pane",
    "eval": "eval prompt",
    "lifecycle": "lifecycle pane",
    "tracepoints": "tracepoints pane",
    "share": "shared session",
    "share_clients": "clients list (K)",
}
# the panes behind the number keys, for the line above the table
PANE_KEYS = ("1 goroutines · 2 stack · 3 variables · 4 source · 5 breakpoints · 6 eval · "
             "7 blocking (channels, locks, IO, sleep, syscall, cgo) · 8 findings · "
             "9 lifecycle (eBPF or snapshots) · 0 tracepoints (eBPF)")


def help_rows(user_keymap: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(keys, description, where, id) for every binding: the id last, so that 80
    columns show what a key does and where before the id to rebind it."""
    return [
        (keymap.keys_for(spec, user_keymap), spec.description, SCOPE_TITLES[scope], spec.id)
        for scope, specs in keymap.SPECS.items()
        for spec in specs
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90%; height: 90%; border: thick $primary; background: $surface; }
    HelpScreen DataTable { height: 1fr; }
    HelpScreen Static { height: auto; padding: 0 1; }
    """

    def __init__(self, user_keymap: dict[str, str], share_text: str = "") -> None:
        """`share_text`: at a sharing host, how others join (URL and tokens)."""
        super().__init__()
        self.user_keymap = user_keymap
        self.share_text = share_text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]gotui keys[/b] — rebind by id in ~/.config/gotui/keymap.toml "
                         "(e.g. [i]continue = \"f8,c\"[/i]); Esc closes")
            yield Static(f"panes: {PANE_KEYS}", id="help-panes", markup=False)
            if self.share_text:
                yield Static(f"sharing: {self.share_text}", id="help-share", markup=False)
            yield DataTable(id="help-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("keys", "action", "where", "id")
        for row in help_rows(self.user_keymap):
            table.add_row(*row)
        table.focus()
