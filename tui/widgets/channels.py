"""Channels pane: every channel with waiters (and those the selected goroutine touches).

Enter on a channel filters the goroutine list to its waiters; when the target is
halted the highlighted channel's buffered elements show under the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message
from textual.widgets import DataTable

from backends.formats import human_duration as format_ns
from backends.model import Channel, Goroutine

COLUMNS = ("address", "type", "len/cap", "closed", "send", "recv", "select", "longest wait")


@dataclass
class ChannelRow:
    chan: Channel
    senders: list[int] = field(default_factory=list)
    receivers: list[int] = field(default_factory=list)
    selecting: list[int] = field(default_factory=list)  # in a select over it, side unknown
    longest_ns: int = 0

    @property
    def waiters(self) -> list[int]:
        return sorted({*self.senders, *self.receivers, *self.selecting})


def channel_rows(channels: list[Channel], goroutines: list[Goroutine],
                 touched_by: int = 0) -> list[ChannelRow]:
    """Rows for channels with waiters or touched by goroutine `touched_by`, most
    waiters first. Waiters come from both the channel's queues and the goroutines."""
    rows = {c.addr: ChannelRow(c, sorted(c.senders), sorted(c.receivers)) for c in channels}
    wait_ns = {g.id: g.wait_ns for g in goroutines}
    touched: set[str] = set()
    for g in goroutines:
        for w in g.waiting_on or ([g.blocked_on] if g.blocked_on else []):
            row = rows.setdefault(w.chan, ChannelRow(Channel(w.chan)))
            side = {"send": row.senders, "recv": row.receivers}.get(w.op, row.selecting)
            if g.id not in side:
                side.append(g.id)
            if g.id == touched_by:
                touched.add(w.chan)
    out = []
    for row in rows.values():
        if row.waiters or row.chan.addr in touched:
            row.senders.sort()
            row.receivers.sort()
            row.selecting.sort()
            row.longest_ns = max((wait_ns.get(i, 0) for i in row.waiters), default=0)
            out.append(row)
    return sorted(out, key=lambda r: (-len(r.waiters), r.chan.addr))


def _ids(ids: list[int], limit: int = 3) -> str:
    text = ",".join(map(str, ids[:limit]))
    return f"{text},…({len(ids)})" if len(ids) > limit else text


def channel_cells(row: ChannelRow) -> tuple[str, ...]:
    c = row.chan
    return (c.addr, c.elem_type or "?", f"{c.len}/{c.cap}", "closed" if c.closed else "",
            _ids(row.senders), _ids(row.receivers), _ids(row.selecting),
            format_ns(row.longest_ns) if row.longest_ns else "")


def elements_text(chan: Channel) -> str:
    if chan.elements is None:
        return ""
    return "elements: [" + ", ".join(map(str, chan.elements)) + "]"


class ChannelChosen(Message):
    """Enter on a channel: show its waiting goroutines."""

    def __init__(self, addr: str) -> None:
        super().__init__()
        self.addr = addr


class ChannelsTable(DataTable[str]):
    def __init__(self, **kwargs: str) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.rows_shown: list[ChannelRow] = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)
        self.border_title = "7 Channels"

    def show(self, channels: list[Channel], goroutines: list[Goroutine],
             touched_by: int = 0) -> None:
        current = self.current
        self.rows_shown = channel_rows(channels, goroutines, touched_by)
        self.clear()
        for row in self.rows_shown:
            self.add_row(*channel_cells(row), key=row.chan.addr)
        keep = next((i for i, r in enumerate(self.rows_shown)
                     if current is not None and r.chan.addr == current.chan.addr), 0)
        if self.rows_shown:
            self.move_cursor(row=keep)
        self.border_title = f"7 Channels ({len(self.rows_shown)})"
        self._show_elements()

    @property
    def current(self) -> ChannelRow | None:
        if not self.rows_shown or not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]

    def _show_elements(self) -> None:
        row = self.current
        self.border_subtitle = elements_text(row.chan) if row is not None else ""

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_elements()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(ChannelChosen(row.chan.addr))
