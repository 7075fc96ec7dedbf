"""Breakpoints: the list the app shows, the form, and every change through the session
(moving one is the session's job: Session.move_breakpoint keeps everything but its
place)."""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import TYPE_CHECKING

from gotui.backends.model import Breakpoint
from gotui.tui.controllers import widgets_may_be_gone
from gotui.tui.messages import BreakpointAction

if TYPE_CHECKING:
    from gotui.tui.app import GotuiApp
    from gotui.tui.screens.breakpoint_edit import Submit


FORM = "breakpoint-form"  # the installed screen's name


class BreakpointController:
    def __init__(self, app: GotuiApp) -> None:
        self.app = app
        self.items: list[Breakpoint] = []
        self._version = 0  # bumped by every change made from here

    # ------------------------------------------------------------ the list
    def load(self) -> None:
        self.app.run_worker(self._load, group="breakpoints", exclusive=True)

    @widgets_may_be_gone
    async def _load(self) -> None:
        session = self.app.session
        if session.state.running:
            # listing while running would halt the target (Delve): only list when halted
            return
        version = self._version
        await self.app.main.panes_ready.wait()
        try:
            listed = await session.breakpoints()
        except Exception as exc:
            self.app.notify(f"breakpoints: {self.app.error_text(exc)}", severity="error")
            return
        if version != self._version:
            return  # an add/edit/delete finished meanwhile: this list is older than ours
        self.items = listed
        self.show()

    def show(self) -> None:
        if self.app.main.panes_ready.is_set():  # (else: shown when they are)
            self.app.main.breakpoints_table.show(self.items)
            self.show_markers()

    def show_markers(self) -> None:
        """The source gutter marks the lines of the file shown that have breakpoints."""
        source = self.app.main.source_view
        path = source.path
        base = path.rsplit("/", 1)[-1]
        lines: dict[int, bool] = {}
        for bp in self.items:
            if bp.file and (bp.file == path or bp.file == base or
                            path.endswith("/" + bp.file.lstrip("/"))):
                lines[bp.line] = lines.get(bp.line, False) or bp.enabled
        source.set_breakpoints(lines)

    def _replace(self, old_id: int, bp: Breakpoint | None) -> None:
        self._version += 1
        self.items = [b for b in self.items if b.id != old_id]
        if bp is not None:
            self.items.append(bp)
        self.show()

    # ------------------------------------------------------------ changes
    async def create(self, bp: Breakpoint) -> Breakpoint:
        created = await self.app.session.create_breakpoint(bp)
        self._replace(created.id, created)
        return created

    async def amend(self, bp: Breakpoint) -> Breakpoint:
        """Change breakpoint `bp.id` into `bp`; a new location moves it (a new id)."""
        from gotui.tui.screens.breakpoint_edit import location_text

        old = next((b for b in self.items if b.id == bp.id), None)
        if old is not None and location_text(old) != location_text(bp):
            moved = await self.app.session.move_breakpoint(bp)
            self._replace(bp.id, None)
            self._replace(moved.id, moved)
            return moved
        amended = await self.app.session.amend_breakpoint(bp)
        self._replace(bp.id, amended)
        return amended

    async def delete(self, bp_id: int) -> None:
        await self.app.session.clear_breakpoint(bp_id)
        self._replace(bp_id, None)

    # ------------------------------------------------------------ what the user asks
    # (the form's module is imported when first needed: not before the first paint)
    def add(self) -> None:
        if not self.app.session.capabilities.can_stop:
            self.app.notify("breakpoints need a stop-the-world backend (Delve/gdb)",
                            severity="warning")
            return
        self._form(self.create)

    def _form(self, submit: Submit, bp: Breakpoint | None = None) -> None:
        """The one breakpoint form, built on first use, loaded for this breakpoint."""
        from gotui.tui.screens.breakpoint_edit import BreakpointEditScreen
        from gotui.tui.screens.reopened import installed

        form = installed(self.app, FORM, lambda: BreakpointEditScreen(submit, bp))
        form.load(submit, bp)  # (built just now, it was loaded already: no harm)
        self.app.push_screen(FORM)

    def on_action(self, message: BreakpointAction) -> None:
        bp = message.breakpoint
        if message.action == "edit":
            self._form(self.amend, bp)
        elif message.action == "toggle":
            flipped = dataclasses.replace(bp, enabled=not bp.enabled)
            self.app.run_session_call("toggle breakpoint", partial(self.amend, flipped))
        elif message.action == "delete":
            self.app.run_session_call("delete breakpoint", partial(self.delete, bp.id))

    def toggle_here(self) -> None:
        """F9: a breakpoint at the source cursor's line, or none if there was one."""
        view = self.app.main.source_view
        if not view.path:
            self.app.notify("no source line selected", severity="warning")
            return
        line = view.cursor
        base = view.path.rsplit("/", 1)[-1]
        existing = next((b for b in self.items if b.line == line and b.file
                         and b.file.rsplit("/", 1)[-1] == base), None)
        if existing is not None:
            self.app.run_session_call("delete breakpoint", partial(self.delete, existing.id))
        else:
            self.app.run_session_call("add breakpoint", partial(
                self.create, Breakpoint(file=view.path, line=line)))
