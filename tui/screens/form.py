"""The look and the Escape key shared by gotui's small modal forms (breakpoint,
tracepoint): a bordered box of one-line inputs, an error line, buttons."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class FormScreen(ModalScreen[ResultT]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > Vertical {
        width: 70; max-width: 100%; height: auto; border: thick $primary;
        background: $surface; padding: 0 1;
    }
    FormScreen Input, FormScreen Input:focus {
        height: 1; border: none; padding: 0 1; margin-bottom: 1; background: $boost;
    }
    FormScreen Input:focus { background: $accent 30%; }
    FormScreen Checkbox { border: none; padding: 0; }
    FormScreen .form-error { color: $error; height: auto; }
    FormScreen Horizontal { height: auto; }
    FormScreen Button { margin: 0 1; }
    """

    def action_cancel(self) -> None:
        self.dismiss(None)
