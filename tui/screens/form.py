"""The look and the Escape key shared by gotui's small modal forms (breakpoint,
tracepoint): a bordered box of one-line inputs, an error line, buttons."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class FormScreen(ModalScreen[ResultT]):
    """Subclasses name their first field in AUTO_FOCUS.

    Tab is a priority binding here. Textual hands each key to the focused widget's own
    queue as it arrives, and a plain Tab binding only moves the focus once the Input
    has worked through its queue. So with fast typing (a paste, a flaky SSH link
    delivering keys in one burst, a loaded host), everything typed after the Tab had
    already been queued to the field being left and landed there: `main.hoti < 0`.
    As a priority binding, the App moves the focus the moment the Tab arrives."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]
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
