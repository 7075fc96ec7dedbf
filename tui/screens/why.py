"""`w`: why is this goroutine stuck? Its wait-for chain (backends/waitfor.py), one
step per line: what each goroutine waits on and who could end it, with the basis of
each link. Enter on a step goes to that goroutine; Esc closes."""

from __future__ import annotations

from gotui.backends.model import ChainStep
from gotui.backends.waitfor import chain_text, step_text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


def step_line(step: ChainStep) -> str:
    where = step.location.short() if step.location.function else ""
    return f"g{step.goroutine} {f'({where}) ' if where else ''}{step_text(step)}"


class WhyScreen(ModalScreen[int | None]):
    BINDINGS = [Binding("escape,q,w", "dismiss_none", "Close")]
    DEFAULT_CSS = """
    WhyScreen { align: center middle; }
    WhyScreen > Vertical { width: 90%; height: auto; max-height: 90%; border: thick $primary;
                           background: $surface; }
    WhyScreen Static { height: auto; padding: 0 1; }
    WhyScreen OptionList { height: auto; max-height: 20; }
    """

    def __init__(self, goid: int, steps: list[ChainStep]) -> None:
        super().__init__()
        self.goid = goid
        self.steps = steps

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]why is g{self.goid} stuck?[/b]  (enter: go to a step, esc: close)")
            yield Static(chain_text(self.steps) or f"g{self.goid} is gone", markup=False,
                         id="why-text")
            yield OptionList(*(Option(step_line(s), id=str(s.goroutine)) for s in self.steps),
                             id="why-steps")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0) or None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
