"""Tracepoint log pane: eBPF conditional tracepoints (set from the form), and the
captured arguments of their latest hits (a ring of the last LOG_LINES).

Keys (ids in tui/keymap.py): a add, d remove the highlighted tracepoint, x clear."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gotui.backends.model import Event, GotuiError
from gotui.tui import keymap
from gotui.tui.messages import TracepointChosen
from gotui.tui.screens.form import FormScreen
from gotui.tui.widgets.probe_status import rate
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, RichLog, Static

LOG_LINES = 1000
KEYS_LINE = "a add · d remove · x clear · eBPF: the target never stops"
EMPTY_HINT = "none yet: a (here) or t (anywhere) sets one · the target never stops"
COLUMN = re.compile(r"at column (\d+)")


@dataclass
class Tracepoint:
    key: str  # the tracer's key, "tp1"...
    function: str
    cond: str
    hits: int = 0  # kernel-counted hits (matching or not), from the probe status
    hits_per_s: float = 0.0
    state: str = "on"
    logged: int = 0  # matching hits received


def hit_line(ev: Event) -> Text:
    """`12:03:04.123 g42 tp1 main.hot i=500 name="x"`."""
    stamp = time.strftime("%H:%M:%S", time.localtime(ev.t_ns / 1e9))
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{stamp}.{ev.t_ns // 1_000_000 % 1000:03d} ", style="dim")
    text.append(f"g{ev.goid} ", style="bold")
    text.append(f"{ev.data.get('probe', '')} {ev.data.get('function', '')} ", style="cyan")
    args = ev.data.get("args") or {}
    text.append(" ".join(f"{k}={v!r}" if isinstance(v, str) and not v.startswith("0x")
                         else f"{k}={v}" for k, v in args.items()))
    return text


def error_with_caret(cond: str, message: str) -> str:
    """The condition compiler's message, with the condition and a caret under the
    column it names."""
    m = COLUMN.search(message)
    if m is None or not cond:
        return message
    col = int(m.group(1))
    return f"{message}\n  {cond}\n  {' ' * (col - 1)}^"


class TracepointTable(DataTable[str]):
    BINDINGS = keymap.bindings("tracepoints")

    def __init__(self, **kwargs: str) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.items: list[Tracepoint] = []

    def on_mount(self) -> None:
        self.add_columns("id", "function", "condition", "logged", "probe hits", "state")

    def show(self, items: list[Tracepoint]) -> None:
        row = self.cursor_row
        self.items = list(items)
        self.clear()
        for tp in self.items:
            self.add_row(tp.key, tp.function, tp.cond or "(always)", str(tp.logged),
                         f"{tp.hits} ({rate(tp.hits_per_s)}/s)", tp.state, key=tp.key)
        if self.items:
            self.move_cursor(row=min(row, len(self.items) - 1))

    def action_add(self) -> None:
        self.post_message(TracepointChosen("add"))

    def action_remove(self) -> None:
        if self.items and 0 <= self.cursor_row < len(self.items):
            self.post_message(TracepointChosen("remove", self.items[self.cursor_row].key))

    def action_clear(self) -> None:
        self.post_message(TracepointChosen("clear"))


class TracepointPane(Vertical):
    DEFAULT_CSS = """
    TracepointPane { height: 1fr; }
    TracepointPane > TracepointTable { height: auto; max-height: 6; }
    TracepointPane > RichLog { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield TracepointTable(id="tracepoint-table")
        yield RichLog(id="tracepoint-log", max_lines=LOG_LINES, wrap=False)

    def on_mount(self) -> None:
        self.border_title = "0 Tracepoints"
        self.border_subtitle = KEYS_LINE

    @property
    def table(self) -> TracepointTable:
        return self.query_one(TracepointTable)

    @property
    def log_view(self) -> RichLog:
        return self.query_one(RichLog)

    def show(self, items: list[Tracepoint], off: str | None = None) -> None:
        """`off`: why no tracepoint can be set (no eBPF feed, eBPF off), or None."""
        self.table.show(items)
        self.border_title = f"0 Tracepoints ({len(items)})"
        self.border_subtitle = f"off: {off}" if off else KEYS_LINE if items else EMPTY_HINT

    def add_hits(self, hits: list[Event]) -> None:
        for ev in hits[-LOG_LINES:]:
            self.log_view.write(hit_line(ev))

    def clear_log(self) -> None:
        self.log_view.clear()


Submit = Callable[[str, str], Awaitable[str]]


class TracepointFormScreen(FormScreen[str | None]):
    """Function + condition. Calls `submit(function, cond)`; stays open with the
    error (a caret under the bad token) when it raises GotuiError."""

    AUTO_FOCUS = "#tp-function"  # a prefilled name is selected
    DEFAULT_CSS = "TracepointFormScreen > Vertical { width: 76; }"

    def __init__(self, submit: Submit, function: str = "") -> None:
        super().__init__()
        self.submit = submit
        self.function = function

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]New tracepoint[/b] (eBPF: captures arguments, never stops)")
            yield Static("function, e.g. main.handle or net/http.(*conn).serve")
            yield Input(self.function, id="tp-function")
            yield Static("condition over its arguments (empty: every call), e.g. "
                         'n > 10 && req.Method == "POST"', markup=False)
            yield Input(id="tp-cond")
            yield Static("", id="tp-error", classes="form-error", markup=False)
            with Horizontal():
                yield Button("Add", id="tp-ok", variant="primary")
                yield Button("Cancel", id="tp-cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "tp-ok":
            self.try_submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.try_submit()

    @work(exclusive=True, group="tp-form")
    async def try_submit(self) -> None:
        function = self.query_one("#tp-function", Input).value.strip()
        cond = self.query_one("#tp-cond", Input).value.strip()
        error = self.query_one("#tp-error", Static)
        if not function:
            error.update("give a function name")
            return
        error.update("setting the tracepoint (BCC compiles it)…")
        try:
            key = await self.submit(function, cond)
        except GotuiError as exc:
            error.update(error_with_caret(cond, str(exc)))
            return
        self.dismiss(key)
