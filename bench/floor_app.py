"""The floor of bench/tui_bench.py's key timings: a Textual app with one line of text
and a prompt, nothing else. `/` opens the prompt; each keystroke shows the text typed
on the line above, as gotui's filter shows its count; Escape closes it. What this takes
through tmux is what any Textual app would: the harness and the terminal, not gotui."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input, Static


class FloorApp(App[None]):
    BINDINGS = [("slash", "open", "filter"), ("escape", "close", "close")]
    AUTO_FOCUS = None
    CSS = "Input { display: none; } Input.-open { display: block; }"

    def compose(self) -> ComposeResult:
        yield Static("filter: ''", id="line")
        yield Input(id="prompt")

    def action_open(self) -> None:
        prompt = self.query_one(Input)
        if not prompt.has_class("-open"):
            prompt.add_class("-open")
            prompt.focus()

    def action_close(self) -> None:
        prompt = self.query_one(Input)
        prompt.value = ""
        prompt.remove_class("-open")
        self.set_focus(None)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#line", Static).update(f"filter: {event.value!r} 1/1")


if __name__ == "__main__":
    FloorApp().run()
