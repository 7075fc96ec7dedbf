"""The goroutines pane: state summary, column titles, the list and its `/` and `g` prompt."""

from __future__ import annotations

from gotui.tui import keymap
from gotui.tui.goroutine_index import GROUP_TITLES, GoroutineIndex, sparkline
from gotui.tui.widgets.goroutine_list import GoroutineList, header_line
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Input, Static

STATUS_STYLES = {"running": "green", "runnable": "yellow", "syscall": "cyan",
                 "waiting": "blue", "leaked": "bold red", "gone": "dim"}


def summary_text(index: GoroutineIndex) -> Text:
    data = index.data
    text = Text()
    total = len(data.live)
    text.append(f"{total} goroutines ", style="bold")
    text.append(sparkline(index.total_history), style="bold")
    for status, count, spark in index.summary_parts():
        text.append("  ")
        text.append(f"{status} {count} ", style=STATUS_STYLES.get(status, ""))
        text.append(spark, style=STATUS_STYLES.get(status, ""))
    if data.new_count or data.gone_count:
        text.append(f"  +{data.new_count}", style="bold green")
        text.append(f" -{data.gone_count}", style="bold red")
    return text


class ColumnTitles(Widget):
    """Column titles laid out exactly like the list's rows below them."""

    DEFAULT_CSS = "ColumnTitles { height: 1; color: $text-muted; text-style: bold; }"

    def __init__(self, goroutine_list: GoroutineList, **kwargs: str) -> None:
        super().__init__(**kwargs)
        self.goroutine_list = goroutine_list

    def render(self) -> str:
        glist = self.goroutine_list
        scrollbar = glist.styles.scrollbar_size_vertical if glist.show_vertical_scrollbar else 0
        return header_line(self.size.width - scrollbar, glist.index.location_mode)


class GoroutinePane(Vertical):
    BINDINGS = keymap.bindings("goroutines")
    DEFAULT_CSS = """
    GoroutinePane { height: 1fr; }
    GoroutinePane > #g-summary { height: 1; color: $text; }
    GoroutinePane > #g-detail { height: 1; color: $text-muted; display: none; }
    GoroutinePane > #g-detail.-shown { display: block; }
    GoroutinePane > Input, GoroutinePane > Input:focus {
        height: 1; border: none; padding: 0 1; display: none;
    }
    """

    def __init__(self, index: GoroutineIndex, **kwargs: str) -> None:
        super().__init__(**kwargs)
        self.index = index
        self.prompt_mode = "filter"
        self._wanted_filter: str | None = None

    def compose(self) -> ComposeResult:
        goroutine_list = GoroutineList(self.index, id="goroutine-list")
        # the prompt takes the summary's line while open: nothing else moves, so opening
        # it repaints one line, not the pane (at 100k a paste took ~18 ms more than on a
        # bare Textual app, most of it the relayout)
        yield Static(id="g-summary", markup=False)
        yield Input(id="g-prompt")
        yield ColumnTitles(goroutine_list)
        yield goroutine_list
        yield Static(id="g-detail", markup=False)

    @property
    def list(self) -> GoroutineList:
        return self.query_one(GoroutineList)

    @property
    def prompt(self) -> Input:
        return self.query_one("#g-prompt", Input)

    def refresh_view(self) -> None:
        """Redraw everything after the index changed."""
        try:
            summary = self.query_one("#g-summary", Static)
            titles = self.query_one(ColumnTitles)
            goroutines = self.list
        except NoMatches:  # a refresh that finished while the app was shutting down
            return
        goroutines.reload()
        summary.update(summary_text(self.index))
        titles.refresh()
        idx = self.index
        parts = [f"sort: {idx.sort_key}"]
        if idx.group_mode != "none":
            title = GROUP_TITLES[idx.group_mode]
            if idx.group_mode == "location" and idx.location_mode != "own":
                title = "runtime location"
            parts.append(f"group: {title}")
        if idx.filter_text:
            parts.append(f"filter: {idx.filter_text!r} {idx.matched}/{len(idx.data)}")
        self.border_title = "1 Goroutines"
        self.border_subtitle = " · ".join(parts)

    def set_detail(self, text: str) -> None:
        """One line about the selected goroutine: creation time, parent chain."""
        try:
            detail = self.query_one("#g-detail", Static)
        except NoMatches:
            return
        detail.update(text)
        detail.set_class(bool(text), "-shown")

    # ------------------------------------------------------------ actions
    def open_prompt(self, mode: str) -> None:
        self.prompt_mode = mode
        prompt = self.prompt
        prompt.placeholder = ("filter: text, status:waiting, is:new, is:gone"
                              if mode == "filter" else "jump to goroutine id")
        prompt.value = self.index.filter_text if mode == "filter" else ""
        self._show_prompt(True)
        self.screen.set_focus(prompt)  # now, not deferred like .focus(): see tui/keymap.py

    def close_prompt(self) -> None:
        self._show_prompt(False)
        self.screen.set_focus(self.list)

    @property
    def prompt_open(self) -> bool:
        return self.prompt.display

    def _show_prompt(self, shown: bool) -> None:
        # the prompt takes the summary's line. Set on the two widgets, not as a class on
        # the pane: a class makes Textual restyle the pane's whole subtree (at 100k the
        # `/` key took ~3 ms more)
        self.prompt.display = shown
        self.query_one("#g-summary", Static).display = not shown

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "/" and "g" are priority bindings: while the prompt is open they are text
        if action in ("filter", "jump") and self.screen.focused is self.prompt:
            return False
        return True

    def action_filter(self) -> None:
        self.open_prompt("filter")

    def action_jump(self) -> None:
        self.open_prompt("jump")

    def action_clear_filter(self) -> None:
        if self.prompt_open and self.prompt_mode == "jump":
            self.close_prompt()
            return
        self.set_filter("")
        self.close_prompt()

    def action_cycle_group(self) -> None:
        self.index.cycle_group()
        self.refresh_view()

    def action_toggle_location(self) -> None:
        mode = self.index.toggle_location()
        self.refresh_view()
        self.notify("location: the first frame of the program's own code" if mode == "own"
                    else "location: the first frame outside the runtime (as Delve says)",
                    timeout=3)

    def action_cycle_sort(self) -> None:
        self.index.cycle_sort()
        self.refresh_view()

    def set_filter(self, text: str) -> None:
        self.index.set_filter(text)
        self.refresh_view()

    def jump(self, text: str) -> None:
        try:
            goid = int(text.strip())
        except ValueError:
            self.notify(f"not a goroutine id: {text!r}", severity="warning")
            return
        if not self.list.jump_to(goid):
            self.notify(f"goroutine {goid} is not in the list", severity="warning")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self.prompt and self.prompt_mode == "filter":
            event.stop()
            # a burst of typed keys (a paste, a slow link catching up) filters once, for
            # its last text: the filter runs after the keys already queued
            self._wanted_filter = event.value
            self.call_later(self._filter_as_typed)

    def _filter_as_typed(self) -> None:
        text, self._wanted_filter = self._wanted_filter, None
        if text is not None:
            self.set_filter(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is not self.prompt:
            return
        event.stop()
        if self.prompt_mode == "jump":
            self.jump(event.value)
        else:
            self._filter_as_typed()
        self.close_prompt()
