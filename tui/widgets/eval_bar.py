"""The eval prompt and the small log of results."""

from __future__ import annotations

from gotui.backends.model import Variable
from gotui.tui import keymap
from gotui.tui.messages import EvalRequested
from gotui.tui.widgets.variables import variable_label
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, RichLog


class EvalPane(Vertical):
    BINDINGS = keymap.bindings("eval")
    DEFAULT_CSS = """
    EvalPane { height: 7; }
    EvalPane > RichLog { height: 1fr; }
    EvalPane > Input, EvalPane > Input:focus { height: 1; border: none; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield RichLog(id="eval-log", wrap=True, max_lines=500)
        yield Input(id="eval-input", placeholder="eval (e or :) — expression in the selected frame")

    @property
    def log_view(self) -> RichLog:
        return self.query_one(RichLog)

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        expr = event.value.strip()
        if expr:
            event.input.value = ""
            self.post_message(EvalRequested(expr))

    def add_result(self, where: str, expr: str, result: Variable) -> None:
        line = Text(f"{where}> {expr}  ", style="dim")
        line.append_text(variable_label(result))
        self.log_view.write(line)
        for child in result.children[:20]:
            self.log_view.write(Text("    ").append_text(variable_label(child)))

    def add_error(self, where: str, expr: str, message: str) -> None:
        line = Text(f"{where}> {expr}  ", style="dim")
        line.append(f"error: {message}", style="bold red")
        self.log_view.write(line)
