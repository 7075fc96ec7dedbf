"""Source around the selected frame: current line highlighted, breakpoints in the gutter."""

from __future__ import annotations

from gotui.tui import keymap
from rich.segment import Segment
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


class SourceView(ScrollView, can_focus=True):
    """Lines of one file; `current` is the frame's line, `cursor` the line F9 acts on."""

    BINDINGS = keymap.bindings("source")
    COMPONENT_CLASSES = {
        "source-view--current",
        "source-view--cursor",
        "source-view--gutter",
        "source-view--breakpoint",
        "source-view--disabled",
    }
    DEFAULT_CSS = """
    SourceView { height: 1fr; }
    SourceView > .source-view--current { background: $warning 30%; text-style: bold; }
    SourceView > .source-view--cursor { background: $accent 30%; }
    SourceView:focus > .source-view--cursor { background: $accent 60%; }
    SourceView > .source-view--gutter { color: $text-muted; }
    SourceView > .source-view--breakpoint { color: $error; text-style: bold; }
    SourceView > .source-view--disabled { color: $text-muted; }
    """

    cursor: reactive[int] = reactive(1, always_update=True)

    def __init__(self, **kwargs: str) -> None:
        super().__init__(**kwargs)
        self.path = ""
        self.lines: list[str] = []
        self.current = 0
        self.breakpoints: dict[int, bool] = {}  # line -> enabled

    def show(self, path: str, lines: list[str], current: int) -> None:
        self.path = path
        self.lines = lines
        self.current = current
        width = max((len(s) for s in lines), default=0) + 8
        if self.virtual_size != Size(width, len(lines)):
            self.virtual_size = Size(width, len(lines))
        self.border_title = f"4 {path.rsplit('/', 1)[-1]}:{current}" if path else "4 Source"
        self.cursor = current or 1
        self.center_on(current)
        # the new height and scrollbar only take effect at the next layout: center again then
        self.call_after_refresh(self._recenter, path, current)

    def _recenter(self, path: str, current: int) -> None:
        if (path, current) == (self.path, self.current):
            self.center_on(current)

    def set_breakpoints(self, lines: dict[int, bool]) -> None:
        self.breakpoints = lines
        self.refresh()

    def center_on(self, line: int) -> None:
        height = self.scrollable_content_region.height or 10
        # force: scrolling is refused while the scrollbar of the old, shorter content shows
        self.scroll_to(y=max(line - 1 - height // 2, 0), animate=False, immediate=True,
                       force=True)
        self.refresh()

    def on_resize(self) -> None:
        # shown after being hidden (narrow layout): bring the current line into view
        if self.current:
            self.center_on(self.cursor)

    def validate_cursor(self, value: int) -> int:
        return max(1, min(value, len(self.lines) or 1))

    def watch_cursor(self, value: int) -> None:
        height = max(self.scrollable_content_region.height, 1)
        top = round(self.scroll_offset.y)
        if value - 1 < top:
            self.scroll_to(y=value - 1, animate=False, immediate=True, force=True)
        elif value - 1 >= top + height:
            self.scroll_to(y=value - height, animate=False, immediate=True, force=True)
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self.cursor += delta

    def action_to_current(self) -> None:
        if self.current:
            self.cursor = self.current
            self.center_on(self.current)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        number = y + scroll_y + 1
        width = self.scrollable_content_region.width
        base = self.rich_style
        if not self.lines:
            text = "no source for this frame" if y == 0 else ""
            return Strip([Segment(text, base)]).crop_extend(0, width, base)
        if number > len(self.lines):
            return Strip.blank(width, base)
        if number in self.breakpoints:
            cls = "source-view--breakpoint" if self.breakpoints[number] else "source-view--disabled"
            marker = Segment("●", base + self.get_component_rich_style(cls))
        else:
            marker = Segment(" ", base)
        arrow = "▶" if number == self.current else " "
        gutter = Segment(f"{number:>5}{arrow}",
                         base + self.get_component_rich_style("source-view--gutter"))
        line_style = base
        if number == self.current:
            line_style += self.get_component_rich_style("source-view--current")
        if number == self.cursor:
            line_style += self.get_component_rich_style("source-view--cursor")
        code = self.lines[number - 1].expandtabs(4)
        body = Strip([Segment(code, line_style)]).crop_extend(
            int(scroll_x), int(scroll_x) + max(width - 7, 0), line_style)
        return Strip([marker, gutter, *body])
