"""`?`: every binding with its id, its keys (after the user keymap) and what it does.

One screen for the whole session (Reopened), installed on first use. It is opaque, not
a modal: a modal paints the dimmed main screen behind it, which doubled the cost of
opening help."""

from __future__ import annotations

from gotui.tui import keymap
from gotui.tui.screens.reopened import Reopened
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, Vertical
from textual.content import Content
from textual.widgets import Static

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


HEADINGS = ("keys", "action", "where", "id")


def help_table(rows: list[tuple[str, str, str, str]]) -> Content:
    """The rows as aligned columns in one piece of text: a DataTable took 19 ms to paint
    its first 25 rows (every cell through Rich); this takes ~1."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADINGS)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return Content("\n").join([Content.styled(line(HEADINGS), "bold"),
                               *(Content(line(r)) for r in rows)])


def _share_line(share_text: str) -> Static:
    return Static(f"sharing: {share_text}", id="help-share", markup=False)


class HelpScreen(Reopened):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen > Vertical { border: thick $primary; background: $surface; }
    HelpScreen ScrollableContainer { height: 1fr; }
    HelpScreen Static { height: auto; padding: 0 1; }
    HelpScreen #help-table { width: auto; }
    """

    def __init__(self, user_keymap: dict[str, str]) -> None:
        super().__init__()
        self.user_keymap = user_keymap
        self.share_text = ""  # at a sharing host, how others join (URL and tokens)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]gotui keys[/b] — rebind by id in ~/.config/gotui/keymap.toml "
                         "(e.g. [i]continue = \"f8,c\"[/i]); Esc closes")
            yield Static(f"panes: {PANE_KEYS}", id="help-panes", markup=False)
            if self.share_text:
                yield _share_line(self.share_text)
            with ScrollableContainer(id="help-scroll"):
                yield Static(help_table(help_rows(self.user_keymap)), id="help-table")

    async def show_share(self, share_text: str) -> None:
        """The sharing line as it is now (tokens can be rotated while help is closed)."""
        if share_text == self.share_text:
            return
        self.share_text = share_text
        if not self.is_mounted:
            return  # (compose shows it)
        await self.query("#help-share").remove()
        if share_text:
            await self.query_one(Vertical).mount(_share_line(share_text), after="#help-panes")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()
