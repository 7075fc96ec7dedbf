"""The main screen: every pane, laid out wide (all at once) or narrow (one at a time).

The first screen is the goroutine list, as fast as possible: only it (and the header,
tabs and footer) is mounted at start; every other pane is mounted, and its module
imported, after the first paint (`mount_panes`; `panes_ready` is set then). A finished
refresh is applied to the widgets in one step by setting `refresh_view`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gotui.tui.frame_timer import screen_update_timer
from gotui.tui.goroutine_index import GoroutineIndex
from gotui.tui.widgets.footer import GotuiFooter
from gotui.tui.widgets.goroutine_list import GoroutineList
from gotui.tui.widgets.goroutine_pane import GoroutinePane
from gotui.tui.widgets.header import HeaderBar
from gotui.tui.widgets.pane_tabs import PANES, PaneTabs
from gotui.tui.widgets.presence import PresenceBar
from gotui.tui.widgets.probe_status import ProbeStatus
from textual import events
from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget

if TYPE_CHECKING:
    from gotui.tui.refresh_model import RefreshView
    from gotui.tui.widgets.breakpoints import BreakpointsTable
    from gotui.tui.widgets.eval_bar import EvalPane
    from gotui.tui.widgets.source_view import SourceView
    from gotui.tui.widgets.stack_view import StackView
    from gotui.tui.widgets.variables import VariablesView

NARROW_WIDTH = 120
ANALYSIS_PANES = ("channels", "findings")
EBPF_PANES = ("lifecycle", "tracepoints")
LOWER_PANES = ("stack", "variables", "source", "breakpoints")
TITLES = {"stack": "2 Stack", "variables": "3 Variables", "source": "4 Source",
          "breakpoints": "5 Breakpoints", "eval": "6 Eval"}


# The app loads it (App.CSS): a default screen's own CSS is never read by Textual.
LAYOUT_CSS = """
#main { height: 1fr; }
#pane-goroutines { height: 1fr; }
#lower { height: 1fr; }
#lower-left { width: 2fr; }
#lower-right { width: 3fr; }
.pane { border: round $primary 50%; }
#pane-stack, #pane-variables, #pane-source { height: 1fr; }
#pane-breakpoints { height: 8; }
#analysis { height: 1fr; }
#pane-channels, #pane-findings { width: 1fr; height: 1fr; }
#ebpf { height: 1fr; }
#pane-lifecycle { width: 3fr; height: 1fr; }
#pane-tracepoints { width: 2fr; height: 1fr; }
PaneTabs { display: none; }
MainScreen.-narrow PaneTabs { display: block; }
MainScreen.-narrow #lower-left, MainScreen.-narrow #lower-right { width: 1fr; }
MainScreen.-narrow #pane-breakpoints, MainScreen.-narrow #pane-eval { height: 1fr; }
"""


class MainScreen(Screen[None]):

    refresh_view: reactive[RefreshView | None] = reactive(None, always_update=True,
                                                         init=False)

    def __init__(self, index: GoroutineIndex, clock: Callable[[], float],
                 presence: str = "", on_ready: Callable[[], Any] | None = None) -> None:
        """`on_ready`: called once the first screen is mounted."""
        super().__init__()
        self.index = index
        self.on_ready = on_ready
        self.clock = clock
        self.presence_line = presence
        self.active_pane = "goroutines"
        self.panes_ready = asyncio.Event()  # every pane is mounted
        self.on_panes_ready: list[Callable[[], Any]] = []
        self._mounting: asyncio.Task[None] | None = None
        self._accented: Widget | None = None  # the pane with the accent border

    @property
    def _update_timer(self) -> Timer:
        return screen_update_timer(self)  # paints without Textual's late frame

    def compose(self) -> ComposeResult:
        yield HeaderBar(clock=self.clock, id="header")
        yield PaneTabs()
        with Vertical(id="main"):
            yield GoroutinePane(self.index, id="pane-goroutines", classes="pane")
            with Horizontal(id="lower"):  # panes mounted after the first paint
                yield Vertical(id="lower-left")
                yield Vertical(id="lower-right")
            yield Horizontal(id="analysis")
            yield Horizontal(id="ebpf")
        yield PresenceBar(self.presence_line, id="presence")  # shared: who is there
        # sessions with an eBPF feed (local attach): what the probes cost, or why off
        yield ProbeStatus(id="probe-status")
        yield GotuiFooter()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self.recolour_accent)
        self.goroutine_pane.refresh_view()
        self.apply_layout()
        self.query_one(GoroutineList).focus()
        if self.on_ready is not None:
            self.on_ready()

    async def mount_panes(self) -> None:
        """Every pane but the goroutine list (once; callers wait for the same mount)."""
        if self._mounting is None:
            self._mounting = asyncio.ensure_future(self._mount_panes())
        await asyncio.shield(self._mounting)

    async def _mount_panes(self) -> None:
        from gotui.tui.widgets.breakpoints import BreakpointsTable
        from gotui.tui.widgets.channels import ChannelsTable
        from gotui.tui.widgets.eval_bar import EvalPane
        from gotui.tui.widgets.findings import FindingsTable
        from gotui.tui.widgets.lifecycle import LifecyclePane
        from gotui.tui.widgets.source_view import SourceView
        from gotui.tui.widgets.stack_view import StackView
        from gotui.tui.widgets.tracepoint_log import TracepointPane
        from gotui.tui.widgets.variables import VariablesView

        await self.query_one("#lower-left").mount_all([
            StackView(id="pane-stack", classes="pane"),
            VariablesView(id="pane-variables", classes="pane")])
        await self.query_one("#lower-right").mount_all([
            SourceView(id="pane-source", classes="pane"),
            BreakpointsTable(id="pane-breakpoints", classes="pane")])
        await self.mount(EvalPane(id="pane-eval", classes="pane"), before="#presence")
        await self.query_one("#analysis").mount_all([
            ChannelsTable(id="pane-channels", classes="pane"),
            FindingsTable(id="pane-findings", classes="pane")])
        await self.query_one("#ebpf").mount_all([
            LifecyclePane(id="pane-lifecycle", classes="pane"),
            TracepointPane(id="pane-tracepoints", classes="pane")])
        for name, title in TITLES.items():
            self.pane(name).border_title = title
        self.panes_ready.set()
        self.apply_layout()
        view = self.refresh_view
        if view is not None and view.analysed:
            self.watch_refresh_view(view)
        for call in self.on_panes_ready:
            call()

    # ------------------------------------------------------------ widgets
    @property
    def header(self) -> HeaderBar:
        return self.query_one(HeaderBar)

    @property
    def goroutine_pane(self) -> GoroutinePane:
        return self.query_one(GoroutinePane)

    # (the other panes: mounted after the first paint, NoMatches before)
    @property
    def stack_view(self) -> StackView:
        return self.query_one("#pane-stack")  # type: ignore[return-value]

    @property
    def source_view(self) -> SourceView:
        return self.query_one("#pane-source")  # type: ignore[return-value]

    @property
    def variables_view(self) -> VariablesView:
        return self.query_one("#pane-variables")  # type: ignore[return-value]

    @property
    def breakpoints_table(self) -> BreakpointsTable:
        return self.query_one("#pane-breakpoints")  # type: ignore[return-value]

    @property
    def eval_pane(self) -> EvalPane:
        return self.query_one("#pane-eval")  # type: ignore[return-value]

    def pane(self, name: str) -> Widget:
        return self.query_one(f"#pane-{name}")

    def pane_focus_target(self, name: str) -> Widget:
        if name == "goroutines":
            return self.query_one(GoroutineList)
        if name == "eval":
            return self.eval_pane.input
        if name == "lifecycle":
            return self.query_one("#lifecycle-table")
        if name == "tracepoints":
            return self.query_one("#tracepoint-table")
        return self.pane(name)

    def pane_of(self, widget: Widget | None) -> str | None:
        node: Any = widget
        while node is not None and not isinstance(node, Screen):
            if isinstance(node, Widget) and node.id and node.id.startswith("pane-"):
                return node.id.removeprefix("pane-")
            node = node.parent
        return None

    # ------------------------------------------------------------ layout
    def apply_layout(self, width: int | None = None) -> None:
        """Wide: every pane. Narrow (80x24): only the active pane, tabs on top."""
        narrow = (self.app.size.width if width is None else width) < NARROW_WIDTH
        self.set_class(narrow, "-narrow")
        active = self.active_pane
        self.query_one(PaneTabs).active = active
        ready = self.panes_ready.is_set()
        for name, _ in PANES:
            if ready or name == "goroutines":  # (the others: mounted after the first paint)
                self.pane(name).display = not narrow or name == active
        # wide: the channels and findings panes take the lower half while one is active
        on_analysis = active in ANALYSIS_PANES
        on_ebpf = active in EBPF_PANES
        for container, members, wide in (
                ("#lower-left", ("stack", "variables"), True),
                ("#lower-right", ("source", "breakpoints"), True),
                ("#lower", LOWER_PANES, not on_analysis and not on_ebpf),
                ("#analysis", ANALYSIS_PANES, on_analysis),
                ("#ebpf", EBPF_PANES, on_ebpf),
                ("#main", ("goroutines", *LOWER_PANES, *ANALYSIS_PANES, *EBPF_PANES), True)):
            self.query_one(container).display = active in members if narrow else wide
        if ready:
            from gotui.tui.widgets.channels import ChannelsTable

            self.eval_pane.log_view.display = not narrow or active == "eval"
            self.query_one(ChannelsTable).catch_up()

    async def open_pane(self, name: str) -> None:
        if name != "goroutines":
            await self.mount_panes()  # asked for before the first paint
        self.show_pane(name)

    def show_pane(self, name: str) -> None:
        self.active_pane = name
        self.apply_layout()
        self.accent_pane(self.pane(name))  # in the same paint as the layout
        self.set_focus(self.pane_focus_target(name))  # now: see tui/keymap.py

    def on_resize(self, event: events.Resize) -> None:
        self.apply_layout(event.size.width)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        pane = self.pane_of(event.widget)
        if pane is None:
            return
        self.accent_pane(self.pane(pane))
        if pane != self.active_pane:
            self.active_pane = pane
            self.apply_layout()

    def accent_pane(self, pane: Widget, recolour: bool = False) -> None:
        """The accent border on the focused pane, as an inline style. Not a class, nor
        `:focus-within`: Textual restyles the whole subtree of a node whose classes
        change (5-8 ms for a DataTable pane), and of a `:focus-within` node on every
        focus move inside it; an inline border re-matches nothing."""
        if pane is self._accented and not recolour:
            return
        if self._accented is not None and self._accented is not pane:
            self._accented.styles.border = None  # back to the stylesheet's border
        pane.styles.border = ("round", Color.parse(self.app.theme_variables["accent"]))
        self._accented = pane

    def recolour_accent(self, _theme: object) -> None:
        if self._accented is not None:
            self.accent_pane(self._accented, recolour=True)

    # ------------------------------------------------------------ a refresh, in one step
    def watch_refresh_view(self, view: RefreshView | None) -> None:
        if view is None:
            return
        self.goroutine_pane.refresh_view()
        self.header.goroutines = len(view.data.live)
        if not view.analysed or not self.panes_ready.is_set():
            return
        from gotui.tui.widgets.findings import FindingsTable

        if view.blocking is not None:
            from gotui.tui.widgets.channels import ChannelsTable

            self.query_one(ChannelsTable).show(view.blocking)
        if view.findings is not None:
            self.query_one(FindingsTable).show(view.findings)
