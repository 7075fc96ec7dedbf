"""Add / edit a breakpoint: location, condition, hit condition, per-goroutine hits.

The form calls `submit` itself and stays open with the error message when the
session refuses (GotuiError), so the user can fix the input."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable

from gotui.backends.model import Breakpoint, GotuiError
from gotui.tui.screens.form import FormScreen
from gotui.tui.screens.reopened import Reopened
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

Submit = Callable[[Breakpoint], Awaitable[Breakpoint]]
HIT_COND = re.compile(r"^\s*(==|!=|>=|<=|>|<|%)\s*\d+\s*$")


def parse_location(text: str) -> tuple[str, int, str]:
    """`file:line` -> (file, line, ""); anything else -> ("", 0, function)."""
    text = text.strip()
    if not text:
        raise GotuiError("location is empty: give file:line or a function name")
    file, sep, line = text.rpartition(":")
    if sep and line.strip().isdigit() and file:
        return file.strip(), int(line), ""
    return "", 0, text


def location_text(bp: Breakpoint) -> str:
    return f"{bp.file}:{bp.line}" if bp.file else bp.function


def build_breakpoint(base: Breakpoint, location: str, cond: str, hit_cond: str,
                     per_g: bool) -> Breakpoint:
    if hit_cond.strip() and not HIT_COND.match(hit_cond):
        raise GotuiError(f"hit condition {hit_cond!r}: use an operator and a number, e.g. '> 5' "
                         "or '% 3'")
    file, line, function = parse_location(location)
    return dataclasses.replace(base, file=file, line=line, function=function, cond=cond.strip(),
                               hit_cond=hit_cond.strip(), hit_cond_per_g=per_g)


class BreakpointEditScreen(Reopened, FormScreen[Breakpoint | None]):
    """Dismisses with the breakpoint the session returned, or None on cancel. One form
    for the session (Reopened): `load` sets it up for the next breakpoint."""

    AUTO_FOCUS = "#bp-location"

    def __init__(self, submit: Submit, breakpoint: Breakpoint | None = None) -> None:
        super().__init__()
        self.load(submit, breakpoint)

    def load(self, submit: Submit, breakpoint: Breakpoint | None = None) -> None:
        self.submit = submit
        self.original = breakpoint or Breakpoint()
        self.editing = breakpoint is not None
        self.move_to = ""
        if self.is_mounted:
            self._fill()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="bp-title")
            yield Label("location (file:line or function)")
            yield Input(id="bp-location", placeholder="main.go:42 or main.hot")
            yield Label("condition (Go expression)")
            yield Input(id="bp-cond", placeholder="i > 10 && r.Path == \"/\"")
            yield Label("hit condition")
            yield Input(id="bp-hitcond", placeholder="> 5, % 3, == 1")
            yield Checkbox("count hits per goroutine", id="bp-perg")
            yield Static("", id="bp-error", classes="form-error", markup=False)
            with Horizontal():
                yield Button("Save", id="bp-save", variant="primary")
                # offered when the condition cannot work here but would at another line
                yield Button("Move", id="bp-move", variant="warning")
                yield Button("Cancel", id="bp-cancel")

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        bp = self.original
        title = f"Edit breakpoint {bp.id}" if self.editing else "New breakpoint"
        self.query_one("#bp-title", Static).update(f"[b]{title}[/b]")
        for widget_id, text in (("#bp-location", location_text(bp)), ("#bp-cond", bp.cond),
                                ("#bp-hitcond", bp.hit_cond)):
            self.query_one(widget_id, Input).value = text
        self.query_one("#bp-perg", Checkbox).value = bp.hit_cond_per_g
        self.query_one("#bp-error", Static).update("")
        self.offer_move("")
        self.set_focus(self.query_one("#bp-location", Input))

    def value(self, widget_id: str) -> str:
        return self.query_one(widget_id, Input).value

    def show_error(self, message: str) -> None:
        self.query_one("#bp-error", Static).update(message)
        self.app.notify(message, title="breakpoint", severity="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "bp-save":
            self.save()
        elif event.button.id == "bp-move" and self.move_to:
            self.query_one("#bp-location", Input).value = self.move_to
            self.save()
        else:
            self.dismiss(None)

    @work(exclusive=True, group="bp-save")
    async def save(self) -> None:
        try:
            bp = build_breakpoint(self.original, self.value("#bp-location"),
                                  self.value("#bp-cond"), self.value("#bp-hitcond"),
                                  self.query_one("#bp-perg", Checkbox).value)
            self.query_one("#bp-error", Static).update("saving…")
            result = await self.submit(bp)
        except Exception as exc:  # GotuiError or a backend failure: shown, the form stays
            self.show_error(str(exc) or type(exc).__name__)
            self.offer_move(getattr(exc, "move_to", ""))
            return
        self.dismiss(result)

    def offer_move(self, location: str) -> None:
        """A location where the condition works (ConditionScopeError): one key away."""
        self.move_to = location
        move = self.query_one("#bp-move", Button)
        move.label = f"Move to {location.rsplit('/', 1)[-1]}" if location else "Move"
        move.display = bool(location)
        if location:
            move.focus()
