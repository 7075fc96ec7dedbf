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
    ("channels", "Blocking"),
    ("findings", "Findings"),
    ("lifecycle", "Lifecycle"),
    ("tracepoints", "Tracepoints"),
)
# inactive tabs when all full titles do not fit (80 columns)
SHORT = {"goroutines": "Gor", "stack": "Stk", "variables": "Var", "source": "Src",
         "breakpoints": "Bkp", "eval": "Eval", "channels": "Blk", "findings": "Find",
         "lifecycle": "Life", "tracepoints": "Trc"}


class PaneTabs(Widget):
    DEFAULT_CSS = "PaneTabs { height: 1; background: $boost; }"

    active: reactive[str] = reactive("goroutines")

    def render(self) -> Text:
        full = sum(len(title) + 4 for _, title in PANES)
        compact = full > self.size.width
        text = Text(no_wrap=True, overflow="crop")
        for n, (name, title) in enumerate(PANES, start=1):
            key = n % 10  # the tenth pane is on key 0
            if name == self.active:
                text.append(f" {key} {title} ", style="bold reverse")
            elif compact:
                text.append(f" {key}:{SHORT.get(name, title)}", style="dim")
            else:
                text.append(f" {key} {title} ", style="dim")
        return text
