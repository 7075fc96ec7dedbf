"""GotuiApp: the Textual application over one session (injected: a local Session, a
joiner's RemoteSession, a core file's).

Session notifications arrive as listener calls and are re-posted as Textual messages
(tui/messages.py); every session call runs in a worker, so the event loop never waits
on a target. The app wires the parts together: the main screen lays the panes out
(tui/screens/main.py), controllers own the live refresh, the breakpoints and the
selected goroutine (tui/controllers/), and the app keeps what spans them: the target's
run state, execution commands, eval, sharing, help and quitting.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from gotui.backends import notices, yielding
from gotui.backends.model import (
    Channel,
    NeedsAction,
    Snapshot,
    TargetState,
)
from gotui.backends.target import TargetSession
from gotui.tui import gc_pacing, keymap
from gotui.tui.controllers import widgets_may_be_gone
from gotui.tui.controllers.breakpoints import BreakpointController
from gotui.tui.controllers.refresh import RefreshController
from gotui.tui.controllers.selection import HALT_HINT, SelectionController
from gotui.tui.ebpf_view import HITS_FLUSH, LIFECYCLE_REDRAW, EbpfView
from gotui.tui.goroutine_index import GoroutineIndex
from gotui.tui.messages import (
    BackendChanged,
    BreakpointAction,
    ChannelChosen,
    DriverSelected,
    EvalRequested,
    FindingChosen,
    FrameSelected,
    GoroutineActivated,
    GoroutineSelected,
    HolderChosen,
    PresenceChanged,
    SessionError,
    SessionEvent,
    SiteChosen,
    StateChanged,
    TracepointChosen,
)
from gotui.tui.refresh_model import RefreshModel, RefreshView
from gotui.tui.screens.main import LAYOUT_CSS, MainScreen
from gotui.tui.sharing import FROM_WIRE, ShareControls
from gotui.tui.terminal_driver import GotuiDriver
from gotui.tui.theme import ANSI_THEME, DEFAULT_THEME, terminal_prefers_ansi
from gotui.tui.widgets.goroutine_pane import GoroutinePane
from gotui.tui.widgets.header import HeaderBar
from gotui.tui.widgets.presence import PresenceBar
from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input

if TYPE_CHECKING:  # (mounted, and imported, after the first paint)
    from gotui.tui.widgets.breakpoints import BreakpointsTable
    from gotui.tui.widgets.eval_bar import EvalPane
    from gotui.tui.widgets.source_view import SourceView
    from gotui.tui.widgets.stack_view import StackView
    from gotui.tui.widgets.variables import VariablesView

PRIORITY_TEXT_ACTIONS = frozenset({"focus_eval"})
SELECTION_SHARE = 0.25  # s between checks of the driver's selection (sent on change)
INPUT_EVENTS = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp,
                events.Paste)  # what makes a refresh thread step aside
# actions that need a process this user may stop: not in a core, not for a viewer
EXEC_ACTIONS = ("cont", "halt", "next", "step", "step_out")
STOP_ACTIONS = (*EXEC_ACTIONS, "add_breakpoint", "toggle_breakpoint_here")


class GotuiApp(App[None]):
    TITLE = "gotui"
    BINDINGS = keymap.bindings("app") + keymap.bindings("share")
    CSS = LAYOUT_CSS

    def __init__(
        self,
        session: TargetSession,
        *,
        refresh_interval: float = 1.0,
        keymap_path: str | None = None,
        ansi: bool = False,
        clock: Callable[[], float] = time.time,
        start_session: bool = False,
        first_snapshot: Snapshot | None = None,
    ) -> None:
        """`clock` gives "now" for the HALTED-for display (tests fix it);
        `start_session` awaits `session.start()` on mount, for callers that have not;
        `first_snapshot`: the first live snapshot, if the caller has read it already."""
        self.use_ansi = ansi or terminal_prefers_ansi()
        super().__init__(driver_class=GotuiDriver, ansi_color=True if self.use_ansi else None)
        self.session = session
        self.clock = clock
        self.start_session = start_session
        self.state: TargetState = session.state
        self.channels: dict[str, Channel] = {}  # by address, from the last snapshot
        self.closing = False
        self._executing = ""  # the execution command in flight (next, step...)
        self._follow_goid = 0  # the list's cursor goes there once the snapshot is in
        self._unsubscribe: list[Callable[[], None]] = []
        self.index = GoroutineIndex()
        self.ebpf_view = EbpfView(session)
        self.share = ShareControls(session)  # presence, follow, hand-off when shared
        self._last_presence: dict[str, Any] = {}
        self.refresher = RefreshController(
            self, RefreshModel(self.index.shapes, self.ebpf_view.model.digester),
            refresh_interval, first_snapshot)
        # called (awaited if they return an awaitable) once the goroutine list is painted
        self.after_first_paint: list[Callable[[], Any]] = []
        self.breakpoints = BreakpointController(self)
        self.selection = SelectionController(self)
        self.keymap_path = keymap_path or str(keymap.DEFAULT_KEYMAP_PATH)
        self.keymap_error = ""
        try:
            self.user_keymap = keymap.load_keymap(self.keymap_path)
        except ValueError as exc:
            self.user_keymap = {}
            self.keymap_error = str(exc)
        self.main = MainScreen(self.index, clock, self.share.line(), self.on_main_ready)

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    # ------------------------------------------------------------ the main screen's panes
    @property
    def header(self) -> HeaderBar:
        return self.main.header

    @property
    def goroutine_pane(self) -> GoroutinePane:
        return self.main.goroutine_pane

    @property
    def stack_view(self) -> StackView:
        return self.main.stack_view

    @property
    def source_view(self) -> SourceView:
        return self.main.source_view

    @property
    def variables_view(self) -> VariablesView:
        return self.main.variables_view

    @property
    def breakpoints_table(self) -> BreakpointsTable:
        return self.main.breakpoints_table

    @property
    def eval_pane(self) -> EvalPane:
        return self.main.eval_pane

    @property
    def active_pane(self) -> str:
        return self.main.active_pane

    async def action_show_pane(self, name: str) -> None:
        await self.main.open_pane(name)

    def footer_state(self, binding: Binding) -> str | None:
        """How the footer shows a binding: "show", "dim" (applies, not now) or None
        (does not apply here: a core, a viewer, no stop-the-world backend)."""
        action = binding.action
        if action in STOP_ACTIONS:
            can = self.session.capabilities
            if can.post_mortem or not can.can_stop or self.state.exited \
                    or (self.share.shared and not self.share.driving):
                return None
            if action in EXEC_ACTIONS and (action == "halt") != self.state.running:
                return "dim"
            return "show" if binding.show else None
        if action == "toggle_refresh" and self.session.capabilities.post_mortem:
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # priority bindings (tui/keymap.py) are text while a field has the focus
        if action in PRIORITY_TEXT_ACTIONS and (isinstance(self.focused, Input)
                                                or isinstance(self.screen, ModalScreen)):
            return False
        return True

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, INPUT_EVENTS):
            # a refresh running in a thread steps aside until this input is painted
            yielding.input_arrived()
            self.call_after_refresh(yielding.input_done)
        await super().on_event(event)

    # ------------------------------------------------------------ start / stop
    def on_mount(self) -> None:
        self.theme = ANSI_THEME if self.use_ansi else DEFAULT_THEME
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        if self.keymap_error:
            self.notify(f"{self.keymap_error}; default keys kept", title="keymap",
                        severity="error", timeout=10)

    def on_main_ready(self) -> None:
        """The first screen is mounted: fill it, listen, start refreshing."""
        self.header.info = self.session.info
        self.header.state = self.state
        self.update_refresh_label()
        self._unsubscribe.append(self.session.subscribe(self.on_session_notification))
        if self.share.server is not None:  # sharing: who joined, the server's log lines
            self._unsubscribe.append(self.share.server.notices.subscribe(
                self.on_session_notification))
        self.main.on_panes_ready.append(self.on_panes_ready)
        self.set_interval(LIFECYCLE_REDRAW, self.draw_lifecycle)
        self.set_interval(HITS_FLUSH, self.draw_ebpf_status)
        self.set_interval(SELECTION_SHARE, self.share_selection)
        self.set_interval(gc_pacing.PACE, gc_pacing.collect_between_keys)
        self.draw_ebpf_status()
        if self.share.server is not None:
            self.notify(self.share.line(), title="sharing", timeout=15)
        self.refresher.start()
        self.start()

    def on_unmount(self) -> None:
        calls, self._unsubscribe = self._unsubscribe, []
        for unsubscribe in calls:
            unsubscribe()

    def on_session_notification(self, notice: notices.Notice) -> None:
        """Session (and share server) listener; may be called from any task, so it only
        posts messages."""
        match notice:
            case notices.StateChanged(state):
                self.post_message(StateChanged(state))
            case notices.EventArrived(event):
                if not self.ebpf_view.take(event):
                    self.post_message(SessionEvent(event))
            case notices.ErrorRaised(message):
                self.post_message(SessionError(message))
            case notices.BackendChanged(info):
                self.post_message(BackendChanged(info))
            case notices.PresenceChanged(presence):
                self.post_message(PresenceChanged(presence))
            case notices.DriverSelected(goroutine, pane):
                self.post_message(DriverSelected(goroutine, pane))
            case notices.SnapshotArrived() | notices.SourceChanged():
                pass  # the refresh reads last_snapshot; the source pane asks again

    @work(group="start")
    async def start(self) -> None:
        if self.start_session:
            try:
                await self.session.start()
            except Exception as exc:  # shown; the live view may still work
                self.notify(f"start failed: {exc}", severity="error", timeout=10)
        self.on_state_changed(StateChanged(self.session.state))
        self.refresher.refresh()

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

    async def on_driver_selected(self, message: DriverSelected) -> None:
        if not self.share.following:
            return
        pane = FROM_WIRE.get(message.pane)
        if pane and pane != self.active_pane:
            await self.main.open_pane(pane)
        if message.goroutine and message.goroutine != self.selection.goid:
            self.goroutine_pane.list.jump_to(message.goroutine)

    def show_presence(self) -> bool:
        """Redraw the presence line; False while the screen is not (or no longer) there:
        presence messages and the selection timer can arrive before compose or after
        teardown."""
        try:
            self.main.query_one(PresenceBar).show_line(self.share.line())
        except NoMatches:
            return False
        return True

    async def share_selection(self) -> None:
        if not self.show_presence():
            return
        with contextlib.suppress(Exception):  # a lost connection is reported elsewhere
            await self.share.publish_selection(self.selection.goid, self.active_pane)

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
        from gotui.tui.screens.share_clients import ShareClientsScreen

        self.push_screen(ShareClientsScreen(self.share))

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        """Never markup: messages carry text from targets, debuggers and peers (a stray
        "[/x]" in one crashed the app)."""
        kwargs.setdefault("markup", False)
        super().notify(message, **kwargs)

    # ------------------------------------------------------------ session messages
    def on_state_changed(self, message: StateChanged) -> None:
        was_running = self.state.running
        self.state = message.state
        self.header.state = message.state
        self.update_refresh_label()
        self.refresh_bindings()  # the footer dims Halt or Continue / Next / Step
        if message.state.running:
            with contextlib.suppress(NoMatches):  # (mounted after the first paint)
                self.variables_view.show_hint(HALT_HINT)
            return
        # halted (or exited): one fresh exact view, the stop point, breakpoints
        self.refresher.refresh()
        self.breakpoints.load()
        goid = message.state.current_goroutine
        selection = self.selection
        if goid and not message.state.exited:
            selection.goid = goid
            self._follow_goid = goid  # the list cursor follows once the snapshot is in
            selection.load_stack(goid, prefer_current=True, delay=0.0)
        elif was_running and selection.goid:
            selection.load_stack(selection.goid, delay=0.0)

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
        if self.session.capabilities.post_mortem:
            label = "none: a core file is one moment"
        elif not self.state.running:
            label = "halted (exact view)"
        elif self.refresher.paused:
            label = "paused (p resumes)"
        else:
            label = self.refresher.label()
        self.header.refresh_label = label

    def show_refresh(self, view: RefreshView) -> None:
        """A finished refresh, applied in one step: the index's data and view swapped,
        the panes told (the main screen's refresh_view)."""
        if view.data is not self.index.data:
            self.index.install(view.data, view.view)
        if view.channels is not None:
            self.channels = view.channels
        if view.lifecycle is not None:
            self.ebpf_view.add_digest(view.lifecycle)
        self.main.refresh_view = view
        if self._follow_goid:
            self.goroutine_pane.list.jump_to(self._follow_goid)
            self._follow_goid = 0
        selection = self.selection
        if not selection.goid and self.index.row_count:
            g = self.goroutine_pane.list.current_goroutine
            if g is not None:
                selection.goid = g.id
                selection.load_stack(g.id, delay=0.0)
        else:
            selection.show_lineage()

    async def first_paint_done(self) -> None:
        """The goroutine list is on screen: what waited for it may start."""
        calls, self.after_first_paint = self.after_first_paint, []
        for call in calls:
            result = call()
            if inspect.isawaitable(result):
                await result

    def action_toggle_refresh(self) -> None:
        self.refresher.toggle_pause()

    def action_refresh_now(self) -> None:
        self.refresher.refresh()

    def action_refresh_faster(self) -> None:
        self.refresher.faster()

    def action_refresh_slower(self) -> None:
        self.refresher.slower()

    # ------------------------------------------------------------ eBPF panes
    def draw_lifecycle(self) -> None:
        with contextlib.suppress(NoMatches):  # mounted after the first paint; teardown
            self.ebpf_view.draw_lifecycle(self.main.query_one("#pane-lifecycle"))  # type: ignore[arg-type]

    def draw_ebpf_status(self) -> None:
        with contextlib.suppress(NoMatches):
            from gotui.tui.widgets.probe_status import ProbeStatus

            self.ebpf_view.draw_status(self.main.query_one(ProbeStatus))
            self.ebpf_view.draw_tracepoints(self.main.query_one("#pane-tracepoints"))  # type: ignore[arg-type]

    def on_panes_ready(self) -> None:
        """Every pane is mounted (after the first paint): fill them."""
        self.stack_view.halt_hint = keymap.action_hint("halt", self.user_keymap)
        if self.state.running:
            self.variables_view.show_hint(HALT_HINT)
        self.breakpoints.show()
        self.draw_lifecycle()
        self.draw_ebpf_status()

    def on_site_chosen(self, message: SiteChosen) -> None:
        text = message.row.filter_text
        if not text:
            self.notify("this site has no go statement to filter on", severity="warning")
            return
        self.goroutine_pane.set_filter(text)
        self.main.show_pane("goroutines")

    def action_add_tracepoint(self) -> None:
        from gotui.tui.widgets.tracepoint_log import TracepointFormScreen

        why = self.ebpf_view.tracing_off
        if why is not None:
            self.notify(why, severity="warning")
            return
        g = self.selection.goroutine(self.selection.goid)
        function = g.user_current.function if g is not None else ""
        self.push_screen(TracepointFormScreen(self.ebpf_view.add_tracepoint, function),
                         lambda key: self.draw_ebpf_status() if key else None)

    def on_tracepoint_chosen(self, message: TracepointChosen) -> None:
        if message.action == "add":
            self.action_add_tracepoint()
        elif message.action == "clear":
            self.main.query_one("#pane-tracepoints").clear_log()  # type: ignore[attr-defined]
        elif message.action == "remove":
            self.run_session_call("remove tracepoint",
                                  partial(self.ebpf_view.remove_tracepoint, message.key))

    # ------------------------------------------------------------ analysis panes
    def on_channel_chosen(self, message: ChannelChosen) -> None:
        self.goroutine_pane.set_filter(message.addr)
        self.main.show_pane("goroutines")

    def on_finding_chosen(self, message: FindingChosen) -> None:
        if message.finding.goroutines:
            self.go_to_goroutine(message.finding.goroutines[0])

    def on_holder_chosen(self, message: HolderChosen) -> None:
        self.go_to_goroutine(message.goid)

    def go_to_goroutine(self, goid: int) -> None:
        if self.index.row_of(goid) is None:
            self.goroutine_pane.set_filter("")  # the filter hides it
        self.main.show_pane("goroutines")
        self.goroutine_pane.list.jump_to(goid)

    @work(group="why", exclusive=True)
    @widgets_may_be_gone
    async def action_why_stuck(self) -> None:
        """The wait-for chain of the selected goroutine (backends/waitfor.py)."""
        from gotui.backends.waitfor import chain_among, chain_of
        from gotui.tui.screens.why import WhyScreen

        goid = self.selection.goid
        view = self.main.refresh_view
        if not goid or view is None:
            self.notify("select a goroutine first", severity="warning")
            return
        if view.analysed:  # the chain's goroutines are known: no pass over all of them
            steps = await asyncio.to_thread(chain_among, view.snapshot, goid, view.waiting,
                                            view.data.live.get)
        else:
            steps = await asyncio.to_thread(chain_of, view.snapshot, goid)

        def chosen(target: int | None) -> None:
            if target:
                self.go_to_goroutine(target)

        self.push_screen(WhyScreen(goid, steps), chosen)

    # ------------------------------------------------------------ goroutine -> stack -> frame
    def on_goroutine_selected(self, message: GoroutineSelected) -> None:
        self.selection.select(message.goid)

    def on_frame_selected(self, message: FrameSelected) -> None:
        self.selection.select_frame(message.goid, message.index, message.frame)

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
        if not self.session.capabilities.can_stop:
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
        self.main.show_pane("eval")

    def on_eval_requested(self, message: EvalRequested) -> None:
        self.evaluate(message.expr)

    @work(group="eval")
    async def evaluate(self, expr: str) -> None:
        goid = self.selection.goid or -1
        frame = self.selection.frame
        where = f"g{goid}#{frame}" if goid > 0 else ""
        try:
            result = await self.session.eval(expr, goid, frame)
        except Exception as exc:
            with contextlib.suppress(NoMatches):
                self.eval_pane.add_error(where, expr, self.error_text(exc))
            return
        with contextlib.suppress(NoMatches):
            self.eval_pane.add_result(where, expr, result)

    # ------------------------------------------------------------ breakpoints
    def action_add_breakpoint(self) -> None:
        self.breakpoints.add()

    def on_breakpoint_action(self, message: BreakpointAction) -> None:
        self.breakpoints.on_action(message)

    def action_toggle_breakpoint_here(self) -> None:
        self.breakpoints.toggle_here()

    # ------------------------------------------------------------ help, palette, quit
    async def action_help(self) -> None:
        from gotui.tui.screens.help import HelpScreen
        from gotui.tui.screens.reopened import installed

        help_screen = installed(self, "help", lambda: HelpScreen(self.user_keymap))
        await help_screen.show_share(self.share.join_text())
        await self.push_screen("help")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        main = self.main
        targets: dict[str, Widget] = {
            "goroutines": main.goroutine_pane,
            "goroutine_list": main.goroutine_pane.list,
        }
        with contextlib.suppress(NoMatches):  # mounted after the first paint
            targets.update(stack=main.stack_view, source=main.source_view,
                           breakpoints=main.breakpoints_table, eval=main.eval_pane,
                           lifecycle=main.query_one("#lifecycle-table"),
                           tracepoints=main.query_one("#tracepoint-table"))
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
        can = self.session.capabilities
        if can.post_mortem or can.remote:
            self.leave(resume=True, kill=False)
            return
        from gotui.tui.screens.quit import QuitScreen

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
