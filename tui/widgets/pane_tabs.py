"""At narrow widths only one pane shows: this line names them with their number keys."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

PANES = (
    ("goroutines", "Goroutines"),
    ("stack", "Stack"),
    ("variables", "Vars"),
    ("source", "Source"),
    ("breakpoints", "Bkpts"),
    ("eval", "Eval"),
    ("channels", "Chans"),
    ("findings", "Findings"),
)


class PaneTabs(Widget):
    DEFAULT_CSS = "PaneTabs { height: 1; background: $boost; }"

    active: reactive[str] = reactive("goroutines")

    def render(self) -> Text:
        text = Text()
        for n, (name, title) in enumerate(PANES, start=1):
            style = "bold reverse" if name == self.active else "dim"
            text.append(f" {n} {title} ", style=style)
        return text
