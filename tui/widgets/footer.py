"""The key footer: the most important keys first, so that a narrow terminal still shows
them (Textual's footer puts the focused pane's keys first and cuts quit / help / halt)."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# below this many columns: compact keys, no command palette key (ctrl+p still works)
NARROW_WIDTH = 120
# binding ids, most important first; the other shown bindings follow in their own order
PRIORITY = ("quit", "help", "goroutines.filter", "halt", "continue", "next", "step",
            "step_out", "share.request_drive", "share.grant_drive", "share.follow", "eval")


def rank(binding: Binding) -> int:
    return PRIORITY.index(binding.id) if binding.id in PRIORITY else len(PRIORITY)


def footer_state(app: App[Any], binding: Binding) -> str | None:
    """"show", "dim" or None (left out): the app decides when it knows (GotuiApp:
    Halt in a core, Step while running...), else the binding's own `show`."""
    decide = getattr(app, "footer_state", None)
    if decide is not None:
        state: str | None = decide(binding)
        return state
    return "show" if binding.show else None


class GotuiFooter(Footer):
    """Footer showing bindings by PRIORITY; when narrow, compact and without ^p palette."""

    def __init__(self) -> None:
        super().__init__()
        self._narrow: bool | None = None

    @property
    def narrow(self) -> bool:
        return self.app.size.width < NARROW_WIDTH

    def compose(self) -> ComposeResult:
        self._narrow = self.narrow
        self.compact = self._narrow
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        by_action: dict[str, tuple[Binding, bool, str]] = {}
        for _node, binding, enabled, tooltip in active.values():
            state = footer_state(self.app, binding)
            if state is not None:
                by_action.setdefault(binding.action,
                                     (binding, enabled and state == "show", tooltip))
        shown = sorted(by_action.values(), key=lambda entry: rank(entry[0]))  # stable
        self.styles.grid_size_columns = len(shown)
        for binding, enabled, tooltip in shown:
            yield FooterKey(binding.key, self.app.get_key_display(binding),
                            binding.description, binding.action, disabled=not enabled,
                            tooltip=tooltip).data_bind(compact=Footer.compact)
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        if palette is not None and not self._narrow and self.app.ENABLE_COMMAND_PALETTE:
            _node, binding, enabled, _tooltip = palette
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                            binding.action, classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    def on_resize(self, event: events.Resize) -> None:
        if self._narrow is not None and self.narrow != self._narrow:
            self.call_after_refresh(self.recompose)
