"""Blocking pane: what everyone waits on. Channels with waiters (and those the selected
goroutine touches) first, then the sync objects with waiters (one row per lock address),
then goroutines in sync.Cond.Wait, IO wait, sleep, a syscall or a cgo call.

Enter on a row filters the goroutine list to its waiters; when the target is halted
the highlighted channel's buffered elements show under the table. Under each lock
row, one row per holder ("held by g40 ≥ 3s, main.transfer main.go:88, inferred"):
Enter there jumps to that goroutine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gotui.backends.analysis import BlockGroup, blocking_groups, is_system
from gotui.backends.formats import human_duration as format_ns
from gotui.backends.model import Channel, Goroutine, Holding, Lock
from gotui.tui.messages import ChannelChosen, HolderChosen
from textual.widget import Widget
from textual.widgets import DataTable

# "waiting": how many goroutines wait (and, on lock and group rows, which)
COLUMNS = ("address", "type", "waiting", "len/cap", "closed", "send", "recv", "select",
           "longest wait")
GROUP_TYPE = {"mutex": "sync.Mutex", "rwmutex": "sync.RWMutex", "waitgroup": "sync.WaitGroup",
              "sema": "semaphore", "cond": "sync.Cond.Wait", "io": "IO wait", "sleep": "sleep",
              "syscall": "syscall", "cgo": "cgo call"}
# goroutine-list filter for a group without an address
GROUP_FILTER = {"cond": "sync.cond.wait", "io": "io wait", "sleep": "sleep",
                "syscall": "status:syscall", "cgo": "status:syscall"}


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
    chans = {c.addr: c for c in channels}
    sides = {c.addr: (set(c.senders), set(c.receivers), set()) for c in channels}
    wait_ns = {g.id: g.wait_ns for g in goroutines}
    touched: set[str] = set()
    for g in goroutines:
        for w in g.waiting_on or ([g.blocked_on] if g.blocked_on else []):
            senders, receivers, selecting = sides.setdefault(w.chan, (set(), set(), set()))
            (senders if w.op == "send" else receivers if w.op == "recv" else selecting
             ).add(g.id)
            if g.id == touched_by:
                touched.add(w.chan)
    out = []
    for addr, (senders, receivers, selecting) in sides.items():
        waiters = senders | receivers | selecting
        if waiters or addr in touched:
            out.append(ChannelRow(chans.get(addr) or Channel(addr), sorted(senders),
                                  sorted(receivers), sorted(selecting),
                                  max((wait_ns.get(i, 0) for i in waiters), default=0)))
    return sorted(out, key=lambda r: (-len(r.waiters), r.chan.addr))


# lock waits by wait reason, for waiters whose lock address was not found (live reader)
LOCK_REASONS = {"sync.Mutex.Lock": "mutex", "sync.RWMutex.Lock": "rwmutex",
                "sync.RWMutex.RLock": "rwmutex", "sync.WaitGroup.Wait": "waitgroup",
                "semacquire": "sema"}


@dataclass
class GroupRow:
    """Goroutines blocked outside channels: on one lock, or in IO / sleep / syscall..."""

    group: BlockGroup
    filter: str = ""  # the goroutine-list filter when the kind's default does not fit

    @property
    def key(self) -> str:
        return f"group:{self.group.key}"

    @property
    def filter_text(self) -> str:
        return self.filter or GROUP_FILTER.get(self.group.kind, self.group.key)


def unplaced_lock_rows(goroutines: list[Goroutine], groups: list[BlockGroup]) -> list[GroupRow]:
    """Goroutines waiting on a lock that no group holds (its address was not found):
    one row per wait reason, address "?", so that lock waiters never vanish."""
    placed = {i for g in groups for i in g.goroutines}
    by_reason: dict[str, list[Goroutine]] = {}
    for g in goroutines:
        if (g.status in ("waiting", "leaked") and g.wait_reason in LOCK_REASONS
                and g.id not in placed
                and not is_system(g)):
            by_reason.setdefault(g.wait_reason, []).append(g)
    return [GroupRow(BlockGroup(LOCK_REASONS[reason], f"?{reason}", sorted(g.id for g in gs),
                                max(g.wait_ns for g in gs)), filter=reason.lower())
            for reason, gs in by_reason.items()]


FOLD_MIN = 5  # one-waiter channels of one creation site folded into one row from here


@dataclass
class FoldRow:
    """Many channels with one waiter each, of one element type, whose waiters were
    created by one go statement and wait on the same side (a leak, a request fan-out):
    one row instead of hundreds."""

    site: str  # the waiters' go statement, e.g. "main.leakLoop main.go:87"
    rows: list[ChannelRow]

    @property
    def key(self) -> str:
        return f"fold:{self.site}:{self.rows[0].chan.elem_type}"

    @property
    def filter_text(self) -> str:
        return self.site


def fold_rows(rows: list[ChannelRow], goroutines: list[Goroutine]) -> list[ChannelRow | FoldRow]:
    """`rows` with the one-waiter channels of each (creation site, element type, side)
    having FOLD_MIN or more members folded into a FoldRow, placed at the first one."""
    site = {g.id: g.go_statement.short() for g in goroutines if g.go_statement.function}
    buckets: dict[tuple[str, str, str], list[ChannelRow]] = {}
    for row in rows:
        if len(row.waiters) == 1 and row.waiters[0] in site:
            side = "send" if row.senders else "recv" if row.receivers else "select"
            key = (site[row.waiters[0]], row.chan.elem_type, side)
            buckets.setdefault(key, []).append(row)
    folded = {id(r): key for key, rs in buckets.items() if len(rs) >= FOLD_MIN for r in rs}
    out: list[ChannelRow | FoldRow] = []
    placed: set[tuple[str, str, str]] = set()
    for row in rows:
        key = folded.get(id(row))
        if key is None:
            out.append(row)
        elif key not in placed:
            placed.add(key)
            out.append(FoldRow(key[0], buckets[key]))
    return out


@dataclass
class HolderRow:
    """A goroutine holding the lock of the GroupRow above it."""

    lock: Lock
    holding: Holding

    @property
    def key(self) -> str:
        return f"holder:{self.lock.addr}:{self.holding.goroutine}"


def holder_rows(lock: Lock) -> list[HolderRow]:
    known = {h.goroutine: h for h in lock.holding}
    return [HolderRow(lock, known.get(g, Holding(g, lock.holders_basis))) for g in lock.holders]


def holding_text(h: Holding) -> str:
    """"g40 ≥ 3s main.transfer main.go:88 (inferred)"."""
    parts = [f"g{h.goroutine}"]
    if h.held_ns:
        parts.append(f"≥ {format_ns(h.held_ns)}")
    if h.location.function:
        parts.append(h.location.short())
    return " ".join(parts) + f" ({h.basis})"


Row = ChannelRow | FoldRow | GroupRow | HolderRow


def row_key(row: Row) -> str:
    return row.chan.addr if isinstance(row, ChannelRow) else row.key


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _ids(ids: list[int], limit: int = 3) -> str:
    text = ",".join(map(str, ids[:limit]))
    return f"{text},…({len(ids)})" if len(ids) > limit else text


def channel_cells(row: ChannelRow) -> tuple[str, ...]:
    c = row.chan
    return (c.addr, c.elem_type or "?", str(len(row.waiters)), f"{c.len}/{c.cap}",
            "closed" if c.closed else "", _ids(row.senders), _ids(row.receivers),
            _ids(row.selecting), format_ns(row.longest_ns) if row.longest_ns else "")


def group_cells(row: GroupRow) -> tuple[str, ...]:
    g = row.group
    addr = g.key if g.key.startswith("0x") else "?" if g.key.startswith("?") else "—"
    return (addr, GROUP_TYPE.get(g.kind, g.kind),
            f"{len(g.goroutines)}: {_ids(g.goroutines, 4)}", "", "", "", "", "",
            format_ns(g.longest_ns) if g.longest_ns else "")


def fold_cells(row: FoldRow) -> tuple[str, ...]:
    first = row.rows[0].chan
    shapes = {(r.chan.len, r.chan.cap) for r in row.rows}
    ids = {side: sorted({i for r in row.rows for i in getattr(r, side)})
           for side in ("senders", "receivers", "selecting")}
    longest = max(r.longest_ns for r in row.rows)
    return (f"{len(row.rows)} channels", first.elem_type or "?", str(len(row.rows)),
            f"{first.len}/{first.cap}" if len(shapes) == 1 else "…", "",
            _ids(ids["senders"]), _ids(ids["receivers"]), _ids(ids["selecting"]),
            format_ns(longest) if longest else "")


def holder_cells(row: HolderRow) -> tuple[str, ...]:
    h = row.holding
    return ("  └ held by", "", holding_text(h), "", "", "", "", "",
            format_ns(h.held_ns) if h.held_ns else "")


def cells(row: Row) -> tuple[str, ...]:
    if isinstance(row, ChannelRow):
        return channel_cells(row)
    if isinstance(row, HolderRow):
        return holder_cells(row)
    return fold_cells(row) if isinstance(row, FoldRow) else group_cells(row)


def elements_text(chan: Channel) -> str:
    if chan.elements is None:
        return ""
    return "elements: [" + ", ".join(map(str, chan.elements)) + "]"


@dataclass(frozen=True)
class BlockingRows:
    """The Blocking pane's rows, made off the event loop (blocking_rows)."""

    channels: list[ChannelRow] = field(default_factory=list)  # every channel row (unfolded)
    groups: list[GroupRow] = field(default_factory=list)  # locks and other blocking groups
    table: list[Row] = field(default_factory=list)  # as shown: channels (folded), then groups

    @property
    def title(self) -> str:
        n_locks = sum(1 for r in self.groups if r.group.key.startswith("0x"))
        return (f"7 Blocking: {_plural(len(self.channels), 'channel')}, "
                f"{_plural(n_locks, 'lock')}, {len(self.groups) - n_locks} other")


def blocking_rows(channels: list[Channel], goroutines: list[Goroutine], touched_by: int = 0,
                  locks: list[Lock] | None = None,
                  groups: list[BlockGroup] | None = None) -> BlockingRows:
    """Rows for `channels` and what `goroutines` wait on. `groups`: the blocking groups
    when the caller has them (BlockingTracker.groups, with `goroutines` then only those
    that wait on a channel or a lock), else blocking_groups(goroutines, locks)."""
    shown = channel_rows(channels, goroutines, touched_by)
    if groups is None:
        groups = blocking_groups(goroutines, locks or [])
    grouped = [*unplaced_lock_rows(goroutines, groups), *(GroupRow(g) for g in groups)]
    by_addr = {lk.addr: lk for lk in locks or []}
    with_holders: list[Row] = []
    for grp in grouped:
        with_holders.append(grp)
        lock = by_addr.get(grp.group.key)
        if lock is not None:
            with_holders += holder_rows(lock)
    return BlockingRows(shown, grouped, [*fold_rows(shown, goroutines), *with_holders])


class ChannelsTable(DataTable[str]):
    def __init__(self, **kwargs: str) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.blocking = BlockingRows()
        self._drawn: BlockingRows | None = None
        self._cells: list[tuple[str, ...]] = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)
        self.border_title = "7 Blocking"
        self.border_subtitle = ""

    @property
    def rows_shown(self) -> list[ChannelRow]:
        return self.blocking.channels

    @property
    def groups_shown(self) -> list[GroupRow]:
        return self.blocking.groups

    @property
    def table_rows(self) -> list[Row]:
        return self.blocking.table

    def show(self, rows: BlockingRows) -> None:
        """New rows; the table itself is redrawn only while it can be seen (catch_up
        draws it when it shows again): at 100k goroutines the rows change every
        refresh, and a DataTable redraw is not free."""
        self.blocking = rows
        self.border_title = rows.title
        self.catch_up()
        if self._drawn is not rows:  # the highlighted row's buffered elements, as now
            self._show_elements()

    def catch_up(self) -> None:
        if self._drawn is self.blocking or not self._visible():
            return
        current = self.current_row if self._drawn is not None else None
        self._drawn = rows = self.blocking
        shown = [cells(row) for row in rows.table]
        if shown == self._cells:
            self._show_elements()  # same rows: leave the table (and its cursor) alone
            return
        self._cells = shown
        self.clear()
        for row, texts in zip(rows.table, shown, strict=True):
            self.add_row(*texts, key=row_key(row))
        keep = next((i for i, r in enumerate(rows.table)
                     if current is not None and row_key(r) == row_key(current)), 0)
        if rows.table:
            self.move_cursor(row=keep)
        self._show_elements()

    def _visible(self) -> bool:
        node: Widget | None = self
        while isinstance(node, Widget):
            if not node.display:
                return False
            node = node.parent if isinstance(node.parent, Widget) else None
        return True

    @property
    def current_row(self) -> Row | None:
        rows = (self._drawn or self.blocking).table
        if not rows or not 0 <= self.cursor_row < len(rows):
            return None
        return rows[self.cursor_row]

    @property
    def current(self) -> ChannelRow | None:
        """The highlighted channel row (None on a folded, lock or group row)."""
        row = self.current_row
        return row if isinstance(row, ChannelRow) else None

    def _show_elements(self) -> None:
        row = self.current_row
        if row is not None and self._drawn is not self.blocking:
            key = row_key(row)
            row = next((r for r in self.blocking.table if row_key(r) == key), None)
        if isinstance(row, ChannelRow):
            self.border_subtitle = elements_text(row.chan)
        elif isinstance(row, FoldRow):
            self.border_subtitle = (f"{len(row.rows)} channels with one waiter each, "
                                    f"created at go {row.site} (enter: list them)")
        elif isinstance(row, HolderRow):
            h = row.holding
            why = ("seen taking it (eBPF)" if h.basis == "exact" else
                   f"inferred: {h.evidence}" if h.evidence else h.basis)
            self.border_subtitle = f"g{h.goroutine} holds {row.lock.addr}: {why} (enter: go to it)"
        else:
            self.border_subtitle = ""

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_elements()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        row = self.current_row
        if isinstance(row, ChannelRow):
            self.post_message(ChannelChosen(row.chan.addr))
        elif isinstance(row, HolderRow):
            self.post_message(HolderChosen(row.holding.goroutine))
        elif row is not None:
            self.post_message(ChannelChosen(row.filter_text))
