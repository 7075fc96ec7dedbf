"""GotuiApp: the Textual application. It talks only to a backends.session.Session.

Every session call runs in a worker, so the event loop never waits on a target.
Session notifications arrive as listener calls and are re-posted as Textual
messages (tui/messages.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from gotui.backends.analysis import Summary, findings, summarize
from gotui.backends.model import (
    Breakpoint,
    Channel,
    Event,
    Frame,
    Goroutine,
    NeedsAction,
    Snapshot,
    TargetInfo,
    TargetState,
)
from gotui.backends.session import Session
from gotui.tui import keymap
from gotui.tui.ebpf_view import HITS_FLUSH, LIFECYCLE_REDRAW, EbpfView
from gotui.tui.goroutine_index import GoroutineIndex, exact_waits, prepare
from gotui.tui.messages import (
    BackendChanged,
    BreakpointAction,
    DriverSelected,
    EvalRequested,
    FrameSelected,
    GoroutineActivated,
    GoroutineSelected,
    PresenceChanged,
    SessionError,
    SessionEvent,
    StateChanged,
)
from gotui.tui.screens.breakpoint_edit import BreakpointEditScreen, location_text
from gotui.tui.screens.help import HelpScreen
from gotui.tui.screens.quit import QuitScreen
from gotui.tui.screens.share_clients import ShareClientsScreen
from gotui.tui.screens.why import WhyScreen
from gotui.tui.sharing import FROM_WIRE, ShareControls
from gotui.tui.theme import ANSI_THEME, DEFAULT_THEME, terminal_prefers_ansi
from gotui.tui.widgets.breakpoints import BreakpointsTable
from gotui.tui.widgets.channels import ChannelChosen, ChannelsTable, HolderChosen
from gotui.tui.widgets.eval_bar import EvalPane
from gotui.tui.widgets.findings import FindingChosen, FindingsTable
from gotui.tui.widgets.footer import GotuiFooter
from gotui.tui.widgets.goroutine_list import GoroutineList
from gotui.tui.widgets.goroutine_pane import GoroutinePane
from gotui.tui.widgets.header import HeaderBar
from gotui.tui.widgets.lifecycle import LifecyclePane, LifecycleTable, SiteChosen
from gotui.tui.widgets.pane_tabs import PANES, PaneTabs
from gotui.tui.widgets.presence import PresenceBar
from gotui.tui.widgets.probe_status import ProbeStatus
from gotui.tui.widgets.source_view import SourceView
from gotui.tui.widgets.stack_view import StackView
from gotui.tui.widgets.tracepoint_log import (
    TracepointChosen,
    TracepointFormScreen,
    TracepointPane,
    TracepointTable,
)
from gotui.tui.widgets.variables import VariablesView
from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input

NARROW_WIDTH = 120
MIN_INTERVAL, MAX_INTERVAL = 0.25, 30.0
HALT_HINT = "halt to read locals (F6 / Shift+F5 / h)"
PRIORITY_TEXT_ACTIONS = frozenset({"focus_eval"})
HISTORY = 6  # earlier snapshots kept for the leak / stuck-wait findings
SELECTION_SHARE = 0.25  # s between checks of the driver's selection (sent on change)
ANALYSIS_PANES = ("channels", "findings")
EBPF_PANES = ("lifecycle", "tracepoints")
LIFECYCLE_EVENTS = ("created", "exited", "blocked", "unblocked")
# actions that need a process this user may stop: not in a core, not for a viewer
EXEC_ACTIONS = ("cont", "halt", "next", "step", "step_out")
STOP_ACTIONS = (*EXEC_ACTIONS, "add_breakpoint", "toggle_breakpoint_here")



def widgets_may_be_gone(method: Callable[..., Any]) -> Callable[..., Any]:
    """For background workers that update panes when a backend call returns: if the
    app was torn down meanwhile (quit, test teardown), the panes are gone — drop the
    update instead of failing the app."""

    @functools.wraps(method)
    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except NoMatches:
            self.log.warning(f"{method.__name__}: a pane is gone, update dropped")
            return None

    return run

class GotuiApp(App[None]):
    TITLE = "gotui"
    BINDINGS = keymap.bindings("app") + keymap.bindings("share")
    CSS = """
    #main { height: 1fr; }
    #pane-goroutines { height: 1fr; }
    #lower { height: 1fr; }
    #lower-left { width: 2fr; }
    #lower-right { width: 3fr; }
    .pane { border: round $primary 50%; }
    .pane:focus-within { border: round $accent; }
    #pane-stack, #pane-variables, #pane-source { height: 1fr; }
    #pane-breakpoints { height: 8; }
    #analysis { height: 1fr; }
    #pane-channels, #pane-findings { width: 1fr; height: 1fr; }
    #ebpf { height: 1fr; }
    #pane-lifecycle { width: 3fr; height: 1fr; }
    #pane-tracepoints { width: 2fr; height: 1fr; }
    PaneTabs { display: none; }
    Screen.-narrow PaneTabs { display: block; }
    Screen.-narrow #lower-left, Screen.-narrow #lower-right { width: 1fr; }
    Screen.-narrow #pane-breakpoints, Screen.-narrow #pane-eval { height: 1fr; }
    """

    def __init__(
        self,
        session: Session,
        *,
        refresh_interval: float = 1.0,
        keymap_path: str | None = None,
        ansi: bool = False,
        clock: Callable[[], float] = time.time,
        start_session: bool = False,
    ) -> None:
        """`clock` gives "now" for the HALTED-for display (tests fix it);
        `start_session` awaits `session.start()` on mount, for callers that have not."""
        self.use_ansi = ansi or terminal_prefers_ansi()
        super().__init__(ansi_color=True if self.use_ansi else None)
        self.session = session
        self.refresh_interval = min(max(refresh_interval, MIN_INTERVAL), MAX_INTERVAL)
        self.clock = clock
        self.start_session = start_session
        self.index = GoroutineIndex()
        self.paused = False
        self.state: TargetState = session.state
        self.breakpoint_list: list[Breakpoint] = []
        self.channels: dict[str, Channel] = {}  # by address, from the last snapshot
        self.history: deque[Summary] = deque(maxlen=HISTORY)
        self._analysis_input: tuple[Snapshot, Summary] | None = None
        self.selected_goid = 0
        self.selected_frame = 0
        self.active_pane = "goroutines"
        self.closing = False
        self._refreshing = False
        self._refresh_timer: Any = None
        self._follow_goid = 0
        self._executing = ""  # the execution command in flight (next, step...)
        self._bp_version = 0  # bumped by every breakpoint change made from here
        self._last_refresh_end = 0.0
        self._last_refresh_cost = 0.0
        self._last_error = ""
        self._unsubscribe: Callable[[], None] | None = None
        self.ebpf_view = EbpfView(session)
        self.share = ShareControls(session)  # presence, follow, hand-off when shared
        self._last_presence: dict[str, Any] = {}
        self.keymap_path = keymap_path or str(keymap.DEFAULT_KEYMAP_PATH)
        self.keymap_error = ""
        try:
            self.user_keymap = keymap.load_keymap(self.keymap_path)
        except ValueError as exc:
            self.user_keymap = {}
            self.keymap_error = str(exc)

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield HeaderBar(clock=self.clock, id="header")
        yield PaneTabs()
        with Vertical(id="main"):
            yield GoroutinePane(self.index, id="pane-goroutines", classes="pane")
            with Horizontal(id="lower"):
                with Vertical(id="lower-left"):
                    yield StackView(id="pane-stack", classes="pane")
                    yield VariablesView(id="pane-variables", classes="pane")
                with Vertical(id="lower-right"):
                    yield SourceView(id="pane-source", classes="pane")
                    yield BreakpointsTable(id="pane-breakpoints", classes="pane")
            with Horizontal(id="analysis"):
                yield ChannelsTable(id="pane-channels", classes="pane")
                yield FindingsTable(id="pane-findings", classes="pane")
            with Horizontal(id="ebpf"):
                yield LifecyclePane(id="pane-lifecycle", classes="pane")
                yield TracepointPane(id="pane-tracepoints", classes="pane")
        yield EvalPane(id="pane-eval", classes="pane")
        yield PresenceBar(self.share.line(), id="presence")  # shared sessions: who is there
        # sessions with an eBPF feed (local attach): what the probes cost, or why off
        yield ProbeStatus(id="probe-status")
        yield GotuiFooter()

    @property
    def header(self) -> HeaderBar:
        return self.query_one(HeaderBar)

    @property
    def goroutine_pane(self) -> GoroutinePane:
        return self.query_one(GoroutinePane)

    @property
    def stack_view(self) -> StackView:
        return self.query_one(StackView)

    @property
    def source_view(self) -> SourceView:
        return self.query_one(SourceView)

    @property
    def variables_view(self) -> VariablesView:
        return self.query_one(VariablesView)

    @property
    def breakpoints_table(self) -> BreakpointsTable:
        return self.query_one(BreakpointsTable)

    @property
    def eval_pane(self) -> EvalPane:
        return self.query_one(EvalPane)

    def pane_focus_target(self, name: str) -> Widget:
        if name == "goroutines":
            return self.query_one(GoroutineList)
        if name == "eval":
            return self.eval_pane.input
        if name == "lifecycle":
            return self.query_one(LifecycleTable)
        if name == "tracepoints":
            return self.query_one(TracepointTable)
        return self.query_one(f"#pane-{name}")

    def pane_of(self, widget: Widget | None) -> str | None:
        node: Any = widget
        while node is not None and not isinstance(node, Screen):
            if isinstance(node, Widget) and node.id and node.id.startswith("pane-"):
                return node.id.removeprefix("pane-")
            node = node.parent
        return None

    def apply_layout(self, width: int | None = None) -> None:
        """Wide: every pane. Narrow (80x24): only the active pane, tabs on top."""
        narrow = (self.size.width if width is None else width) < NARROW_WIDTH
        self.screen.set_class(narrow, "-narrow")
        self.query_one(PaneTabs).active = self.active_pane
        for name, _ in PANES:
            self.query_one(f"#pane-{name}").display = not narrow or name == self.active_pane
        lower = ("stack", "variables", "source", "breakpoints")
        # wide: the channels and findings panes take the lower half while one is active
        on_analysis = self.active_pane in ANALYSIS_PANES
        on_ebpf = self.active_pane in EBPF_PANES
        for container, members, wide in (
                ("#lower-left", ("stack", "variables"), True),
                ("#lower-right", ("source", "breakpoints"), True),
                ("#lower", lower, not on_analysis and not on_ebpf),
                ("#analysis", ANALYSIS_PANES, on_analysis),
                ("#ebpf", EBPF_PANES, on_ebpf),
                ("#main", ("goroutines", *lower, *ANALYSIS_PANES, *EBPF_PANES), True)):
            self.query_one(container).display = (self.active_pane in members if narrow
                                                 else wide)
        self.eval_pane.log_view.display = not narrow or self.active_pane == "eval"

    def on_resize(self, event: events.Resize) -> None:
        self.apply_layout(event.size.width)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        pane = self.pane_of(event.widget)
        if pane is not None and pane != self.active_pane:
            self.active_pane = pane
            self.apply_layout()

    def footer_state(self, binding: Binding) -> str | None:
        """How the footer shows a binding: "show", "dim" (applies, not now) or None
        (does not apply here: a core, a viewer, no stop-the-world backend)."""
        action = binding.action
        if action in STOP_ACTIONS:
            session = self.session  # a joiner's RemoteSession has no post_mortem
            if getattr(session, "post_mortem", False) or not session.can_stop \
                    or self.state.exited \
                    or (self.share.shared and not self.share.driving):
                return None
            if action in EXEC_ACTIONS and (action == "halt") != self.state.running:
                return "dim"
            return "show" if binding.show else None
        if action == "toggle_refresh" and getattr(self.session, "post_mortem", False):
            return None  # a core never refreshes
        if binding.id in ("share.follow", "share.request_drive"):  # a viewer's keys
            watching = self.share.remote is not None and not self.share.driving
            if binding.id == "share.request_drive" and not self.share.may_drive:
                return None  # joined with the viewer token: it can never drive
            return "show" if watching else None
        if binding.id == "share.clients":  # the host's list: kick, new tokens
            return "show" if self.share.server is not None else None
        if binding.id == "share.grant_drive":
            host_away = self.share.server is not None and not self.share.driving
            asked = self.share.driving and bool(self.share.presence.get("requests"))
            return "show" if host_away or asked else None
        return "show" if binding.show else None

    def action_show_pane(self, name: str) -> None:
        self.active_pane = name
        self.apply_layout()
        self.screen.set_focus(self.pane_focus_target(name))  # now: see tui/keymap.py

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # priority bindings (tui/keymap.py) are text while a field has the focus
        if action in PRIORITY_TEXT_ACTIONS and (isinstance(self.focused, Input)
                                                or isinstance(self.screen, ModalScreen)):
            return False
        return True

    # ------------------------------------------------------------ start / stop
    def on_mount(self) -> None:
        self.theme = ANSI_THEME if self.use_ansi else DEFAULT_THEME
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        if self.keymap_error:
            self.notify(f"{self.keymap_error}; default keys kept", title="keymap",
                        severity="error", timeout=10)
        self.header.info = self.session.info
        self.header.state = self.state
        self.update_refresh_label()
        self.stack_view.border_title = "2 Stack"
        self.stack_view.halt_hint = keymap.action_hint("halt", self.user_keymap)
        self.variables_view.border_title = "3 Variables"
        self.source_view.border_title = "4 Source"
        self.breakpoints_table.border_title = "5 Breakpoints"
        self.eval_pane.border_title = "6 Eval"
        self.goroutine_pane.refresh_view()
        self.variables_view.show_hint(HALT_HINT)
        self.apply_layout()
        self.query_one(GoroutineList).focus()
        self._unsubscribe = self.session.subscribe(self.on_session_notification)
        self._refresh_timer = self.set_interval(self.refresh_interval, self.on_refresh_tick)
        self.set_interval(LIFECYCLE_REDRAW, self.draw_lifecycle)
        self.set_interval(HITS_FLUSH, self.draw_ebpf_status)
        self.set_interval(SELECTION_SHARE, self.share_selection)
        self.draw_ebpf_status()
        if self.share.server is not None:
            self.notify(self.share.line(), title="sharing", timeout=15)
        self.start()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def on_session_notification(self, kind: str, payload: Any) -> None:
        """Session listener; may be called from any task, so it only posts messages."""
        if kind == "state" and isinstance(payload, TargetState):
            self.post_message(StateChanged(payload))
        elif kind == "event" and isinstance(payload, Event):
            if not self.ebpf_view.take(payload):
                self.post_message(SessionEvent(payload))
        elif kind == "error":
            self.post_message(SessionError(str(payload)))
        elif kind == "backend" and isinstance(payload, TargetInfo):
            self.post_message(BackendChanged(payload))
        elif kind == "presence" and isinstance(payload, dict):
            self.post_message(PresenceChanged(payload))
        elif kind == "select" and isinstance(payload, dict):
            self.post_message(DriverSelected(int(payload["goroutine"]), str(payload["pane"])))

    # ------------------------------------------------------------ shared sessions
    def on_presence_changed(self, message: PresenceChanged) -> None:
        old = self._last_presence
        self._last_presence = self.share.presence = message.presence
        self.show_presence()
        self.refresh_bindings()  # the footer's keys depend on who drives
        if self.share.driving:
            for who in self.share.new_requests(old):
                self.notify(f"{self.share.name(who)} asks to drive: ctrl+g hands over",
                            title="sharing", timeout=10)

    def on_driver_selected(self, message: DriverSelected) -> None:
        if not self.share.following:
            return
        pane = FROM_WIRE.get(message.pane)
        if pane and pane != self.active_pane:
            self.action_show_pane(pane)
        if message.goroutine and message.goroutine != self.selected_goid:
            self.goroutine_pane.list.jump_to(message.goroutine)

    def show_presence(self) -> bool:
        """Redraw the presence line; False while the screen is not (or no longer) there:
        presence messages and the selection timer can arrive before compose or after
        teardown."""
        try:
            self.query_one(PresenceBar).show_line(self.share.line())
        except NoMatches:
            return False
        return True

    async def share_selection(self) -> None:
        if not self.show_presence():
            return
        with contextlib.suppress(Exception):  # a lost connection is reported elsewhere
            await self.share.publish_selection(self.selected_goid, self.active_pane)

    async def _share_action(self, action: Callable[[], Any]) -> None:
        try:
            text = await action()
        except Exception as exc:  # noqa: BLE001 - one line to the user
            text = f"sharing: {exc}"
        self.show_presence()
        self.notify(text, title="sharing")

    async def action_toggle_follow(self) -> None:
        await self._share_action(self.share.toggle_follow)

    async def action_request_drive(self) -> None:
        await self._share_action(self.share.request_drive)

    async def action_grant_drive(self) -> None:
        await self._share_action(self.share.grant)

    def action_share_clients(self) -> None:
        if self.share.server is None:
            self.notify("only the sharing host lists its clients", title="sharing")
            return
        self.push_screen(ShareClientsScreen(self.share))

    def notify(self, message: str, **kwargs: Any) -> None:
        """Never markup: messages carry text from targets, debuggers and peers (a stray
        "[/x]" in one crashed the app)."""
        kwargs.setdefault("markup", False)
        super().notify(message, **kwargs)

    @work(group="start")
    async def start(self) -> None:
        if self.start_session:
            try:
                await self.session.start()
            except Exception as exc:  # shown; the live view may still work
                self.notify(f"start failed: {exc}", severity="error", timeout=10)
        self.on_state_changed(StateChanged(self.session.state))
        self.refresh_goroutines()

    # ------------------------------------------------------------ session messages
    def on_state_changed(self, message: StateChanged) -> None:
        was_running = self.state.running
        self.state = message.state
        self.header.state = message.state
        self.update_refresh_label()
        self.refresh_bindings()  # the footer dims Halt or Continue / Next / Step
        if message.state.running:
            self.variables_view.show_hint(HALT_HINT)
            return
        # halted (or exited): one fresh exact view, the stop point, breakpoints
        self.refresh_goroutines()
        self.load_breakpoints()
        goid = message.state.current_goroutine
        if goid and not message.state.exited:
            self.selected_goid = goid
            self._follow_goid = goid  # the list cursor follows once the snapshot is in
            self.load_stack(goid, prefer_current=True, delay=0.0)
        elif was_running and self.selected_goid:
            self.load_stack(self.selected_goid, delay=0.0)

    def on_session_event(self, message: SessionEvent) -> None:
        ev = message.event
        if ev.type in ("log", "guard", "lost", "error") and ev.message:
            severity = {"error": "error", "guard": "warning"}.get(ev.type, "information")
            self.notify(ev.message, severity=severity)

    def on_session_error(self, message: SessionError) -> None:
        self.notify(message.text, severity="error", timeout=8)

    def on_backend_changed(self, message: BackendChanged) -> None:
        self.header.info = message.info
        self.refresh_bindings()

    # ------------------------------------------------------------ live refresh
    def update_refresh_label(self) -> None:
        if getattr(self.session, "post_mortem", False):
            label = "none: a core file is one moment"
        elif not self.state.running:
            label = "halted (exact view)"
        elif self.paused:
            label = "paused (p resumes)"
        else:
            label = f"live every {self.refresh_interval:g}s"
        self.header.refresh_label = label

    def on_refresh_tick(self) -> None:
        if not self.state.running or self.paused or self.state.exited:
            return
        # a refresh that costs more than the interval (100k goroutines) must not eat
        # the UI: keep refreshing at most half of the time
        if time.monotonic() - self._last_refresh_end < self._last_refresh_cost:
            return
        self.refresh_goroutines()

    @work(group="refresh")
    @widgets_may_be_gone
    async def refresh_goroutines(self) -> None:
        if self._refreshing or self.closing:
            return  # never two snapshots in flight
        self._refreshing = True
        started = time.monotonic()
        halted = not self.state.running
        if halted:
            self.header.busy = self.header.busy or "listing goroutines"
        try:
            snap = await self.session.snapshot()
            previous = self.index.data if self.index.data.items else None
            goroutines = exact_waits(snap.goroutines, self.ebpf_view.model.parked_at,
                                     int(snap.taken_at * 1e9))
            data = await asyncio.to_thread(prepare, goroutines, previous)
            digest = await asyncio.to_thread(self.ebpf_view.digest, snap)
            summary = await asyncio.to_thread(summarize, snap)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            if message != self._last_error:
                self._last_error = message
                self.notify(f"refresh: {message}", severity="error", timeout=8)
            return
        finally:
            self._refreshing = False
            if halted and self.header.busy == "listing goroutines":
                self.header.busy = ""
            self._last_refresh_end = time.monotonic()
            self._last_refresh_cost = self._last_refresh_end - started
        self._last_error = ""
        self.index.install(data)
        self.channels = {c.addr: c for c in snap.channels}
        self.ebpf_view.add_digest(digest)
        self.goroutine_pane.refresh_view()
        self.show_lineage()
        # the worker takes its input from here, not as an argument: a finished or
        # cancelled worker object lives on until the cyclic GC, and so would a snapshot
        self._analysis_input = (snap, summary)
        self.show_analysis()
        if self._follow_goid:
            self.goroutine_pane.list.jump_to(self._follow_goid)
            self._follow_goid = 0
        self.header.goroutines = sum(data.counts.values())
        if not self.selected_goid and self.index.rows:
            g = self.goroutine_pane.list.current_goroutine
            if g is not None:
                self.selected_goid = g.id
                self.load_stack(g.id, delay=0.0)

    @work(exclusive=True, group="analysis")
    @widgets_may_be_gone
    async def show_analysis(self) -> None:
        if self._analysis_input is None:
            return
        snap, summary = self._analysis_input
        self._analysis_input = None
        history = list(self.history)
        self.history.append(summary)  # before the await: a newer refresh may cancel this one
        found = await asyncio.to_thread(findings, snap, history)
        if self.closing:
            return
        try:
            channels, found_table = self.query_one(ChannelsTable), self.query_one(FindingsTable)
        except NoMatches:  # the app is being torn down under this worker
            return
        channels.show(snap.channels, snap.goroutines, self.selected_goid, snap.locks)
        found_table.show(found)

    # ------------------------------------------------------------ eBPF panes
    def draw_lifecycle(self) -> None:
        with contextlib.suppress(NoMatches):  # timers may fire while the app tears down
            self.ebpf_view.draw_lifecycle(self.query_one(LifecyclePane))

    def draw_ebpf_status(self) -> None:
        with contextlib.suppress(NoMatches):
            self.ebpf_view.draw_status(self.query_one(ProbeStatus))
            self.ebpf_view.draw_tracepoints(self.query_one(TracepointPane))

    def show_lineage(self) -> None:
        data = self.index.data

        def alive(goid: int) -> bool:
            i = data.by_id.get(goid)
            return i is not None and data.statuses[i] != "gone"

        self.goroutine_pane.set_detail(self.ebpf_view.lineage_text(self.selected_goid, alive))

    def on_site_chosen(self, message: SiteChosen) -> None:
        text = message.row.filter_text
        if not text:
            self.notify("this site has no go statement to filter on", severity="warning")
            return
        self.goroutine_pane.set_filter(text)
        self.action_show_pane("goroutines")

    def action_add_tracepoint(self) -> None:
        why = self.ebpf_view.tracing_off
        if why is not None:
            self.notify(why, severity="warning")
            return
        g = self._goroutine(self.selected_goid)
        function = g.user_current.function if g is not None else ""
        self.push_screen(TracepointFormScreen(self.ebpf_view.add_tracepoint, function),
                         lambda key: self.draw_ebpf_status() if key else None)

    def on_tracepoint_chosen(self, message: TracepointChosen) -> None:
        if message.action == "add":
            self.action_add_tracepoint()
        elif message.action == "clear":
            self.query_one(TracepointPane).clear_log()
        elif message.action == "remove":
            self.run_session_call("remove tracepoint",
                                  partial(self.ebpf_view.remove_tracepoint, message.key))

    def on_channel_chosen(self, message: ChannelChosen) -> None:
        self.goroutine_pane.set_filter(message.addr)
        self.action_show_pane("goroutines")

    def on_finding_chosen(self, message: FindingChosen) -> None:
        if message.finding.goroutines:
            self.go_to_goroutine(message.finding.goroutines[0])

    def on_holder_chosen(self, message: HolderChosen) -> None:
        self.go_to_goroutine(message.goid)

    def go_to_goroutine(self, goid: int) -> None:
        if self.index.row_of(goid) is None:
            self.goroutine_pane.set_filter("")  # the filter hides it
        self.action_show_pane("goroutines")
        self.goroutine_pane.list.jump_to(goid)

    @work(group="why", exclusive=True)
    @widgets_may_be_gone
    async def action_why_stuck(self) -> None:
        """The wait-for chain of the selected goroutine (backends/waitfor.py)."""
        from gotui.backends.waitfor import chain_of

        goid = self.selected_goid
        snap = getattr(self.session, "last_snapshot", None)
        if not goid or snap is None:
            self.notify("select a goroutine first", severity="warning")
            return
        steps = await asyncio.to_thread(chain_of, snap, goid)

        def chosen(target: int | None) -> None:
            if target:
                self.go_to_goroutine(target)

        self.push_screen(WhyScreen(goid, steps), chosen)

    def _restart_timer(self) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
        self._refresh_timer = self.set_interval(self.refresh_interval, self.on_refresh_tick)
        self.update_refresh_label()

    def action_toggle_refresh(self) -> None:
        self.paused = not self.paused
        self.update_refresh_label()
        if not self.paused:
            self.refresh_goroutines()

    def action_refresh_now(self) -> None:
        self.refresh_goroutines()

    def action_refresh_faster(self) -> None:
        self.refresh_interval = max(MIN_INTERVAL, self.refresh_interval / 2)
        self._restart_timer()

    def action_refresh_slower(self) -> None:
        self.refresh_interval = min(MAX_INTERVAL, self.refresh_interval * 2)
        self._restart_timer()

    # ------------------------------------------------------------ goroutine -> stack -> frame
    def on_goroutine_selected(self, message: GoroutineSelected) -> None:
        if message.goid != self.selected_goid:
            self.selected_goid = message.goid
            self.load_stack(message.goid)
            self.show_lineage()

    @work(exclusive=True, group="stack")
    @widgets_may_be_gone
    async def load_stack(self, goid: int, prefer_current: bool = False,
                         delay: float = 0.05) -> None:
        if delay:
            await asyncio.sleep(delay)  # cursor held down: only the last one loads
        try:
            frames = await self.session.stack(goid)
        except Exception as exc:
            frames = []
            self.notify(f"stack of goroutine {goid}: {self.error_text(exc)}",
                        severity="warning")
        if not frames:
            g = self._goroutine(goid)
            frames = list(g.stack) if g is not None else []
        select = None
        current = self.state.current
        if prefer_current and current is not None:
            select = next((i for i, f in enumerate(frames)
                           if f.file == current.file and f.line == current.line), 0)
        self.stack_view.show(goid, frames, select)
        self.stack_view.set_blocked(self.blocked_text(goid))
        if not frames:
            self.source_view.show("", [], 0)
            self.variables_view.show_hint("no stack for this goroutine")

    def blocked_text(self, goid: int) -> str:
        """What the goroutine waits on: `recv chan 0xc0.. int 2/2 closed`, or ""."""
        g = self._goroutine(goid)
        if g is None:
            return ""
        waits = g.waiting_on or ([g.blocked_on] if g.blocked_on else [])
        parts = []
        for w in waits[:3]:
            text = f"{w.op} chan {w.chan}"
            ch = self.channels.get(w.chan)
            if ch is not None:
                text += f" {ch.elem_type} {ch.len}/{ch.cap}".replace("  ", " ")
                text += " closed" if ch.closed else ""
            parts.append(text)
        return "; ".join(parts)

    def _goroutine(self, goid: int) -> Goroutine | None:
        item = self.index.data.by_id.get(goid)
        return self.index.items[item] if item is not None else None

    def on_frame_selected(self, message: FrameSelected) -> None:
        self.selected_frame = message.index
        self.load_source(message.frame)
        if self.state.running or not self.session.has_stop_backend:
            self.variables_view.show_hint(HALT_HINT)
        else:
            self.load_variables(message.goid, message.index)

    @work(exclusive=True, group="source")
    @widgets_may_be_gone
    async def load_source(self, frame: Frame) -> None:
        lines = await asyncio.to_thread(self.session.read_source, frame.file) if frame.file else []
        self.source_view.show(frame.file, lines, frame.line)
        self.update_breakpoint_markers()

    @work(exclusive=True, group="variables")
    @widgets_may_be_gone
    async def load_variables(self, goid: int, frame: int) -> None:
        try:
            args = await self.session.args(goid, frame)
            local_vars = await self.session.locals(goid, frame)
        except Exception as exc:
            self.variables_view.show_hint(self.error_text(exc))
            return
        self.variables_view.show_variables(args, local_vars)

    def on_goroutine_activated(self, message: GoroutineActivated) -> None:
        if self.state.running:
            hint = keymap.action_hint("halt", self.user_keymap)
            self.notify(f"halt the target to switch goroutine ({hint})", severity="warning")
            return
        self._exec("switch goroutine", partial(self.session.switch_goroutine, message.goid))

    # ------------------------------------------------------------ execution
    @work(group="exec")
    async def run_session_call(self, what: str, call: Callable[[], Any]) -> None:
        self.header.busy = what
        try:
            await call()
        except Exception as exc:
            self.notify(f"{what}: {self.error_text(exc)}", severity="error", timeout=8)
        finally:
            if self.header.busy == what:
                self.header.busy = ""
            if self._executing == what:
                self._executing = ""

    def error_text(self, exc: BaseException) -> str:
        """One line for an error; what the user can do about it with their keys."""
        text = str(exc) or type(exc).__name__
        if isinstance(exc, NeedsAction):
            hint = keymap.action_hint(exc.action, self.user_keymap)
            return f"{text} ({hint})" if hint else text
        return text

    def _exec(self, what: str, call: Callable[[], Any]) -> None:
        if not self.session.can_stop:
            self.notify("this session has no stop-the-world backend (Delve/gdb)",
                        severity="warning")
            return
        if self._executing and what != "halt":
            # one execution command at a time; halt may always interrupt
            self.notify(f"busy: {self._executing}", severity="warning")
            return
        self._executing = what
        self.run_session_call(what, call)

    def action_cont(self) -> None:
        self._exec("continue", self.session.cont)

    def action_halt(self) -> None:
        self._exec("halt", self.session.halt)

    def action_next(self) -> None:
        self._exec("next", self.session.next)

    def action_step(self) -> None:
        self._exec("step", self.session.step)

    def action_step_out(self) -> None:
        self._exec("step out", self.session.step_out)

    # ------------------------------------------------------------ eval
    def action_focus_eval(self) -> None:
        self.action_show_pane("eval")

    def on_eval_requested(self, message: EvalRequested) -> None:
        self.evaluate(message.expr)

    @work(group="eval")
    @widgets_may_be_gone
    async def evaluate(self, expr: str) -> None:
        goid = self.selected_goid or -1
        frame = self.selected_frame
        where = f"g{goid}#{frame}" if goid > 0 else ""
        try:
            result = await self.session.eval(expr, goid, frame)
        except Exception as exc:
            self.eval_pane.add_error(where, expr, self.error_text(exc))
            return
        self.eval_pane.add_result(where, expr, result)

    # ------------------------------------------------------------ breakpoints
    @work(exclusive=True, group="breakpoints")
    @widgets_may_be_gone
    async def load_breakpoints(self) -> None:
        if self.session.state.running:
            # listing while running would halt the target (Delve): only list when halted
            return
        version = self._bp_version
        try:
            listed = await self.session.breakpoints()
        except Exception as exc:
            self.notify(f"breakpoints: {self.error_text(exc)}", severity="error")
            return
        if version != self._bp_version:
            return  # an add/edit/delete finished meanwhile: this list is older than ours
        self.breakpoint_list = listed
        self.show_breakpoints()

    def show_breakpoints(self) -> None:
        self.breakpoints_table.show(self.breakpoint_list)
        self.update_breakpoint_markers()

    def update_breakpoint_markers(self) -> None:
        path = self.source_view.path
        base = path.rsplit("/", 1)[-1]
        lines: dict[int, bool] = {}
        for bp in self.breakpoint_list:
            if bp.file and (bp.file == path or bp.file == base or
                            path.endswith("/" + bp.file.lstrip("/"))):
                lines[bp.line] = lines.get(bp.line, False) or bp.enabled
        self.source_view.set_breakpoints(lines)

    def _replace_breakpoint(self, old_id: int, bp: Breakpoint | None) -> None:
        self._bp_version += 1
        self.breakpoint_list = [b for b in self.breakpoint_list if b.id != old_id]
        if bp is not None:
            self.breakpoint_list.append(bp)
        self.show_breakpoints()

    async def create_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        created = await self.session.create_breakpoint(bp)
        self._replace_breakpoint(created.id, created)
        return created

    async def amend_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        old = next((b for b in self.breakpoint_list if b.id == bp.id), None)
        if old is not None and location_text(old) != location_text(bp):
            # a breakpoint cannot move: make the new one, then drop the old one
            created = await self.session.create_breakpoint(
                Breakpoint(file=bp.file, line=bp.line, function=bp.function, cond=bp.cond,
                           hit_cond=bp.hit_cond, hit_cond_per_g=bp.hit_cond_per_g,
                           enabled=bp.enabled))
            await self.session.clear_breakpoint(bp.id)
            self._replace_breakpoint(bp.id, None)
            self._replace_breakpoint(created.id, created)
            return created
        amended = await self.session.amend_breakpoint(bp)
        self._replace_breakpoint(bp.id, amended)
        return amended

    def action_add_breakpoint(self) -> None:
        if not self.session.can_stop:
            self.notify("breakpoints need a stop-the-world backend (Delve/gdb)",
                        severity="warning")
            return
        self.push_screen(BreakpointEditScreen(self.create_breakpoint))

    def on_breakpoint_action(self, message: BreakpointAction) -> None:
        bp = message.breakpoint
        if message.action == "edit":
            self.push_screen(BreakpointEditScreen(self.amend_breakpoint, bp))
        elif message.action == "toggle":
            flipped = dataclasses.replace(bp, enabled=not bp.enabled)
            self.run_session_call("toggle breakpoint", partial(self.amend_breakpoint, flipped))
        elif message.action == "delete":
            self.run_session_call("delete breakpoint", partial(self.delete_breakpoint, bp.id))

    async def delete_breakpoint(self, bp_id: int) -> None:
        await self.session.clear_breakpoint(bp_id)
        self._replace_breakpoint(bp_id, None)

    def action_toggle_breakpoint_here(self) -> None:
        view = self.source_view
        if not view.path:
            self.notify("no source line selected", severity="warning")
            return
        line = view.cursor
        base = view.path.rsplit("/", 1)[-1]
        existing = next((b for b in self.breakpoint_list if b.line == line and b.file
                         and b.file.rsplit("/", 1)[-1] == base), None)
        if existing is not None:
            self.run_session_call("delete breakpoint",
                                  partial(self.delete_breakpoint, existing.id))
        else:
            self.run_session_call("add breakpoint", partial(
                self.create_breakpoint, Breakpoint(file=view.path, line=line)))

    # ------------------------------------------------------------ help, palette, quit
    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.user_keymap, self.share.join_text()))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        targets: dict[str, Widget] = {
            "goroutines": self.goroutine_pane,
            "goroutine_list": self.query_one(GoroutineList),
            "stack": self.stack_view,
            "source": self.source_view,
            "breakpoints": self.breakpoints_table,
            "eval": self.eval_pane,
            "lifecycle": self.query_one(LifecycleTable),
            "tracepoints": self.query_one(TracepointTable),
        }
        for scope, specs in keymap.SPECS.items():
            target = targets.get(scope, self)
            for spec in specs:
                keys = keymap.keys_for(spec, self.user_keymap)
                yield SystemCommand(spec.description, f"{spec.id} ({keys})",
                                    partial(self.run_action, spec.action, target))

    def action_quit_dialog(self) -> None:
        if self.closing:
            return
        # a core file has nothing to release; a joiner leaving never touches the target
        # (RemoteSession.close ignores resume/kill): no dialog offering to kill it
        if getattr(self.session, "post_mortem", False) or self.share.remote is not None:
            self.leave(resume=True, kill=False)
            return

        def chosen(choice: str | None) -> None:
            if choice in ("resume", "keep", "kill"):
                self.leave(resume=choice != "keep", kill=choice == "kill")

        self.push_screen(QuitScreen(halted=not self.state.running), chosen)

    def action_detach(self) -> None:
        self.leave(resume=True, kill=False)

    @work(group="leave", exclusive=True)
    async def leave(self, resume: bool, kill: bool) -> None:
        if self.closing:
            return
        self.closing = True
        self.header.busy = "killing target" if kill else "detaching"
        try:
            await self.session.close(resume=resume, kill=kill)
        except Exception as exc:
            self.exit(return_code=1, message=f"gotui: detach failed: {exc}")
            return
        self.exit()
