"""The selected goroutine and frame: its stack, the frame's source and variables, and
the line about where the goroutine came from.

The list's cursor moves at key-repeat speed: what a selection loads waits
SETTLE seconds and is dropped when the cursor moved on (only the last one loads)."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from gotui.backends.model import Frame, Goroutine
from gotui.tui.controllers import widgets_may_be_gone

if TYPE_CHECKING:
    from gotui.tui.app import GotuiApp

SETTLE = 0.05
HALT_HINT = "halt to read locals (F6 / Shift+F5 / h)"


class SelectionController:
    def __init__(self, app: GotuiApp) -> None:
        self.app = app
        self.goid = 0
        self.frame = 0

    def goroutine(self, goid: int) -> Goroutine | None:
        return self.app.index.data.goroutine(goid)

    def select(self, goid: int) -> None:
        """The list's cursor is on goroutine `goid`."""
        if goid != self.goid:
            self.goid = goid
            self.load_stack(goid)

    def load_stack(self, goid: int, prefer_current: bool = False, delay: float = SETTLE) -> None:
        self.app.run_worker(partial(self._load_stack, goid, prefer_current, delay),
                            group="stack", exclusive=True)

    @widgets_may_be_gone
    async def _load_stack(self, goid: int, prefer_current: bool, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)  # cursor held down: only the last one loads
        app = self.app
        await app.main.panes_ready.wait()
        self.show_lineage()
        try:
            frames = await app.session.stack(goid)
        except Exception as exc:
            frames = []
            app.notify(f"stack of goroutine {goid}: {app.error_text(exc)}", severity="warning")
        if not frames:
            g = self.goroutine(goid)
            frames = list(g.stack) if g is not None else []
        select = None
        current = app.state.current
        if prefer_current and current is not None:
            select = next((i for i, f in enumerate(frames)
                           if f.file == current.file and f.line == current.line), 0)
        main = app.main
        main.stack_view.show(goid, frames, select)
        main.stack_view.set_blocked(self.blocked_text(goid))
        if not frames:
            main.source_view.show("", [], 0)
            main.variables_view.show_hint("no stack for this goroutine")

    def blocked_text(self, goid: int) -> str:
        """What the goroutine waits on: `recv chan 0xc0.. int 2/2 closed`, or ""."""
        g = self.goroutine(goid)
        if g is None:
            return ""
        waits = g.waiting_on or ([g.blocked_on] if g.blocked_on else [])
        channels = self.app.channels
        parts = []
        for w in waits[:3]:
            text = f"{w.op} chan {w.chan}"
            ch = channels.get(w.chan)
            if ch is not None:
                text += f" {ch.elem_type} {ch.len}/{ch.cap}".replace("  ", " ")
                text += " closed" if ch.closed else ""
            parts.append(text)
        return "; ".join(parts)

    def show_lineage(self) -> None:
        data = self.app.index.data

        def alive(goid: int) -> bool:
            return goid in data.live

        self.app.main.goroutine_pane.set_detail(
            self.app.ebpf_view.lineage_text(self.goid, alive))

    # ------------------------------------------------------------ frames
    def select_frame(self, goid: int, index: int, frame: Frame) -> None:
        app = self.app
        self.frame = index
        self.app.run_worker(partial(self._load_source, frame), group="source", exclusive=True)
        if app.state.running or not app.session.capabilities.has_stop_backend:
            app.main.variables_view.show_hint(HALT_HINT)  # (a frame: the stack is there)
        else:
            self.app.run_worker(partial(self._load_variables, goid, index), group="variables",
                                exclusive=True)

    @widgets_may_be_gone
    async def _load_source(self, frame: Frame) -> None:
        app = self.app
        await app.main.panes_ready.wait()
        lines = (await asyncio.to_thread(app.session.read_source, frame.file)
                 if frame.file else [])
        app.main.source_view.show(frame.file, lines, frame.line)
        app.breakpoints.show_markers()

    @widgets_may_be_gone
    async def _load_variables(self, goid: int, frame: int) -> None:
        app = self.app
        await app.main.panes_ready.wait()
        try:
            args = await app.session.args(goid, frame)
            local_vars = await app.session.locals(goid, frame)
        except Exception as exc:
            app.main.variables_view.show_hint(app.error_text(exc))
            return
        app.main.variables_view.show_variables(args, local_vars)
