"""The goroutine list: a Line API ScrollView over a GoroutineIndex (only visible rows render)."""

from __future__ import annotations

from gotui.backends.model import Goroutine
from gotui.tui import keymap
from gotui.tui.goroutine_index import (
    GoroutineIndex,
    go_text,
    labels_text,
    location_of,
    wait_text,
    where,
)
from gotui.tui.messages import GoroutineActivated, GoroutineSelected
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

STATUS_CLASSES = {
    "running": "goroutine-list--running",
    "runnable": "goroutine-list--runnable",
    "syscall": "goroutine-list--syscall",
    "waiting": "goroutine-list--waiting",
    "leaked": "goroutine-list--leaked",
}


def columns(width: int) -> list[tuple[str, int]]:
    """(column, width) pairs that fit `width` cells; flexible columns share the rest."""
    fixed = [("mark", 2), ("id", 8), ("status", 9), ("wait", 21)]
    rest = max(width - sum(w for _, w in fixed), 10)
    if width < 90:
        return [*fixed, ("location", rest)]
    if width < 130:
        return [*fixed, ("location", rest // 2), ("go", rest - rest // 2)]
    loc = rest * 40 // 100
    go = rest * 35 // 100
    return [*fixed, ("location", loc), ("go", go), ("labels", rest - loc - go)]


TITLES = {"mark": "", "id": "id", "status": "status", "wait": "wait", "location":
          "user location", "go": "go statement", "labels": "labels"}
# the location column's title when `u` shows the runtime's location instead
RUNTIME_LOCATION_TITLE = "runtime location"


def cell(text: str, width: int, right: bool = False) -> str:
    """`text` in `width` cells, the last one a separating space; cut with an ellipsis."""
    room = width - 1
    if len(text) > room:
        text = text[: room - 1] + "…"
    return (text.rjust(room) if right else text.ljust(room)) + " "


def header_line(width: int, location_mode: str = "own") -> str:
    titles = dict(TITLES)
    if location_mode != "own":
        titles["location"] = RUNTIME_LOCATION_TITLE
    return "".join(cell(titles[name], w, name == "id") for name, w in columns(width))


def goroutine_cells(g: Goroutine, mark: str, gone: bool, width: int,
                    location_mode: str = "own") -> list[tuple[str, str]]:
    """(column name, text) for one goroutine row."""
    wait = f"{g.wait_reason} {wait_text(g)}".strip()
    values = {
        "mark": mark,
        "id": str(g.id),
        "status": "gone" if gone else g.status,
        "wait": wait,
        "location": where(location_of(g, location_mode)),
        "go": go_text(g),
        "labels": labels_text(g.labels),
    }
    return [(name, cell(values[name], w, name == "id")) for name, w in columns(width)]


class GoroutineList(ScrollView, can_focus=True):
    """Rows of the index; a cursor; enter switches to a goroutine or folds a group."""

    BINDINGS = keymap.bindings("goroutine_list")
    COMPONENT_CLASSES = {
        "goroutine-list--cursor",
        "goroutine-list--group",
        "goroutine-list--new",
        "goroutine-list--gone",
        "goroutine-list--running",
        "goroutine-list--runnable",
        "goroutine-list--syscall",
        "goroutine-list--waiting",
        "goroutine-list--leaked",
    }
    DEFAULT_CSS = """
    GoroutineList { height: 1fr; }
    GoroutineList > .goroutine-list--cursor { background: $accent 40%; text-style: bold; }
    GoroutineList:focus > .goroutine-list--cursor { background: $accent; color: $text; }
    GoroutineList > .goroutine-list--group { text-style: bold; color: $text; background: $boost; }
    GoroutineList > .goroutine-list--new { color: $success; text-style: bold; }
    GoroutineList > .goroutine-list--gone { color: $text-muted; text-style: strike; }
    GoroutineList > .goroutine-list--running { color: $success; }
    GoroutineList > .goroutine-list--runnable { color: $warning; }
    GoroutineList > .goroutine-list--syscall { color: $secondary; }
    GoroutineList > .goroutine-list--waiting { color: $text-muted; }
    GoroutineList > .goroutine-list--leaked { color: $error; text-style: bold reverse; }
    """

    cursor: reactive[int] = reactive(0, always_update=True)

    def __init__(self, index: GoroutineIndex, **kwargs: str) -> None:
        super().__init__(**kwargs)
        self.index = index
        self._selected_goid: int | None = None  # the goroutine under the cursor
        self._selected_group: str | None = None  # or the group header's key

    # ------------------------------------------------------------ data
    def reload(self) -> None:
        """The index changed (new snapshot / filter / sort / group): keep the cursor's row,
        a goroutine by id or a group header by key."""
        index = self.index
        self.virtual_size = Size(0, index.row_count)
        last = max(index.row_count - 1, 0)
        row = None
        if self._selected_group is not None:
            n = index.view.group_number(self._selected_group)
            row = index.view.starts[n] if n is not None else None
        elif self._selected_goid is not None:
            at = min(self.cursor, last)
            if index.row_count and index.row(at) == self._selected_goid:
                row = at
            elif index.data.goroutine(self._selected_goid) is not None:
                row = index.row_of(self._selected_goid)
                self.virtual_size = Size(0, index.row_count)
        self.cursor = row if row is not None else min(self.cursor, last)
        self.refresh()

    @property
    def current_goroutine(self) -> Goroutine | None:
        return self.index.goroutine_at(self.cursor)

    def jump_to(self, goid: int) -> bool:
        row = self.index.row_of(goid)
        if row is None:
            return False
        self.virtual_size = Size(0, self.index.row_count)
        height = max(self.scrollable_content_region.height, 1)
        self.scroll_to(y=max(row - height // 2, 0), animate=False, immediate=True, force=True)
        self.cursor = row  # with its neighbours above and below in view
        self.refresh()
        return True

    # ------------------------------------------------------------ cursor
    def validate_cursor(self, value: int) -> int:
        rows = self.index.row_count
        return max(0, min(value, rows - 1)) if rows else 0

    def watch_cursor(self, value: int) -> None:
        height = max(self.scrollable_content_region.height, 1)
        top = round(self.scroll_offset.y)
        if value < top:
            # keep a group's header in view when its first member is reached from below
            above = value - 1 if value > 0 and self.index.row(value - 1) < 0 else value
            self.scroll_to(y=above, animate=False, immediate=True, force=True)
        elif value >= top + height:
            self.scroll_to(y=value - height + 1, animate=False, immediate=True, force=True)
        self.refresh()
        group = self.index.group_at(value)
        self._selected_group = group[0] if group is not None else None
        if group is not None:
            self._selected_goid = None
        g = self.current_goroutine
        if g is not None and g.id != self._selected_goid:
            self._selected_goid = g.id
            self.post_message(GoroutineSelected(g.id))

    def on_resize(self) -> None:
        """(The detail line under the list comes and goes with the selection: the
        cursor's row stays in view when the list gets shorter.)"""
        self.virtual_size = Size(0, self.index.row_count)
        height = max(self.scrollable_content_region.height, 1)
        top = round(self.scroll_offset.y)
        if self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True,
                           force=True)

    def on_click(self, event: events.Click) -> None:
        self.cursor = round(self.scroll_offset.y) + event.y
        if event.chain == 2:
            self.action_select()

    def action_cursor(self, delta: int) -> None:
        self.cursor += delta

    def action_page(self, direction: int) -> None:
        self.cursor += direction * max(self.scrollable_content_region.height - 1, 1)

    def action_cursor_to(self, row: int) -> None:
        self.cursor = row if row >= 0 else self.index.row_count - 1

    def action_select(self) -> None:
        group = self.index.group_at(self.cursor)
        if group is not None:
            self.action_collapse()
            return
        g = self.current_goroutine
        if g is not None and not self.index.is_gone(g.id):
            self.post_message(GoroutineActivated(g.id))

    def action_collapse(self) -> None:
        row = self.cursor
        while row >= 0 and self.index.group_at(row) is None:
            row -= 1
        group = self.index.group_at(row)
        if group is None:
            return
        self.index.toggle_group(group[0])
        self.cursor = row  # on the header: reload keeps it there
        self.reload()

    def action_collapse_all(self) -> None:
        self.index.set_all_collapsed(len(self.index.collapsed) < len(self.index.groups))
        self._selected_goid = None
        self._selected_group = None
        self.cursor = 0
        self.reload()

    # ------------------------------------------------------------ rendering
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = y + scroll_y
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = self.index
        if row >= index.row_count:
            if row == 0:
                text = ("  no goroutine matches the filter" if index.filter_text
                        else "  no goroutines yet")
                return Strip([Segment(text, base)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        on_cursor = row == self.cursor
        item = index.row(row)
        if item < 0:
            key, count = index.groups[-item - 1]
            arrow = "▶" if key in index.collapsed else "▼"
            style = base + self.get_component_rich_style("goroutine-list--group")
            segments = [Segment(f"{arrow} {count:>7}  {key}", style)]
        else:
            segments = self._goroutine_segments(item, width, base)
        if on_cursor:
            cursor = self.get_component_rich_style("goroutine-list--cursor")
            segments = [Segment(seg.text, (seg.style or base) + cursor) for seg in segments]
            base = base + cursor
        return Strip(segments).crop_extend(0, width, base)

    def _goroutine_segments(self, goid: int, width: int, base: Style) -> list[Segment]:
        data = self.index.data
        g = data.goroutine(goid)
        if g is None:
            return []
        mark = data.mark(goid)
        gone = mark == "-"
        if gone:
            row_style = base + self.get_component_rich_style("goroutine-list--gone")
        elif mark == "+":
            row_style = base + self.get_component_rich_style("goroutine-list--new")
        else:
            row_style = base
        status_cls = STATUS_CLASSES.get(g.status)
        status_style = (row_style + self.get_component_rich_style(status_cls)
                        if status_cls and not gone and mark != "+" else row_style)
        return [Segment(text, status_style if name == "status" else row_style)
                for name, text in goroutine_cells(g, mark, gone, width, self.index.location_mode)]
