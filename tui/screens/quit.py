"""`q`: how to leave the target. Resume and detach is the default."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

CHOICES = (
    ("resume", "Resume and detach", "primary"),
    ("keep", "Keep halted and detach", "warning"),
    ("kill", "Kill target", "error"),
    ("cancel", "Cancel", "default"),
)


class QuitScreen(ModalScreen[str]):
    """Dismisses with "resume", "keep", "kill" or "cancel"."""

    AUTO_FOCUS = "#quit-resume"  # set as the screen composes (on_mount .focus() is deferred)

    BINDINGS = [
        Binding("escape", "choose('cancel')", "Cancel"),
        Binding("up,left", "app.focus_previous", show=False),
        Binding("down,right", "app.focus_next", show=False),
    ]
    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    QuitScreen > Vertical { width: 40; height: auto; border: thick $warning; background: $surface; padding: 0 1; }
    QuitScreen Button { width: 100%; margin: 0; }
    QuitScreen Static { width: 100%; content-align: center middle; margin-bottom: 1; }
    """

    def __init__(self, halted: bool) -> None:
        super().__init__()
        self.halted = halted

    def compose(self) -> ComposeResult:
        with Vertical():
            state = "halted" if self.halted else "running"
            yield Static(f"Leave gotui? The target is {state}.")
            for choice, label, variant in CHOICES:
                yield Button(label, id=f"quit-{choice}", variant=variant)  # type: ignore[arg-type]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss((event.button.id or "quit-cancel").removeprefix("quit-"))

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
