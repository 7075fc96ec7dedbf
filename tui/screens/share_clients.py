"""`K` at a sharing host: who is connected (self-declared name, token kind, role,
address), remove one, or make new tokens (optionally dropping everyone)."""

from __future__ import annotations

from gotui.tui import keymap
from gotui.tui.sharing import ShareControls, declared
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

HINT = ("names in quotes are self-declared (X-Gotui-User), never verified; the token "
        "kind is. k: remove · r: new tokens · R: new tokens and drop everyone · Esc")


class ShareClientsScreen(ModalScreen[None]):
    BINDINGS = keymap.bindings("share_clients")
    DEFAULT_CSS = """
    ShareClientsScreen { align: center middle; }
    ShareClientsScreen > Vertical { width: 90%; height: 70%; border: thick $primary; background: $surface; }
    ShareClientsScreen DataTable { height: 1fr; }
    ShareClientsScreen Static { height: auto; padding: 0 1; }
    """

    def __init__(self, share: ShareControls) -> None:
        super().__init__()
        self.share = share

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HINT, markup=False)
            yield DataTable(id="clients-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "name", "token", "role", "address")
        self.reload()
        table.focus()

    def reload(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for c in self.share.clients():
            table.add_row(c["id"], declared(c), c["token"], c["role"], c.get("address", ""),
                          key=c["id"])

    def selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_kick(self) -> None:
        client_id = self.selected()
        if client_id is None:
            self.app.notify("nobody is connected", title="sharing", markup=False)
            return
        try:
            text = self.share.kick(client_id)
        except Exception as exc:  # noqa: BLE001 - one line to the user
            text = f"sharing: {exc}"
        self.app.notify(text, title="sharing", markup=False)
        self.reload()

    def action_rotate(self, kick: bool) -> None:
        self.app.notify(self.share.rotate_tokens(kick), title="sharing", markup=False)
        self.reload()
