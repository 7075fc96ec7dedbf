"""`?`: every binding with its id, its keys (after the user keymap) and what it does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui import keymap

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
}


def help_rows(user_keymap: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(keys, description, id, scope) for every binding."""
    return [
        (keymap.keys_for(spec, user_keymap), spec.description, spec.id, SCOPE_TITLES[scope])
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

    def __init__(self, user_keymap: dict[str, str]) -> None:
        super().__init__()
        self.user_keymap = user_keymap

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]gotui keys[/b] — rebind by id in ~/.config/gotui/keymap.toml "
                         "(e.g. [i]continue = \"f8,c\"[/i]); Esc closes")
            yield DataTable(id="help-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("keys", "action", "id", "where")
        for row in help_rows(self.user_keymap):
            table.add_row(*row)
        table.focus()
