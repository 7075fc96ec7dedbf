"""The key footer: the most important keys first, so that a narrow terminal still shows
them (Textual's footer puts the focused pane's keys first and cuts quit / help / halt).

One widget drawing one line, not Textual's Footer (a widget per key, all mounted again
whenever the bindings change): opening a prompt moves the focus and changes the keys
that apply, and re-mounting and restyling fifteen key widgets was the largest cost of
opening the filter prompt on a busy app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import App
from textual.binding import Binding
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.screen import Screen

# below this many columns: compact keys, no command palette key (ctrl+p still works)
NARROW_WIDTH = 120
# binding ids, most important first; the other shown bindings follow in their own order
PRIORITY = ("quit", "help", "goroutines.filter", "halt", "continue", "next", "step",
            "step_out", "share.request_drive", "share.grant_drive", "share.follow", "eval")
DIM = Style(dim=True)


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


@dataclass(frozen=True)
class FooterEntry:
    """One key the footer shows."""
    key: str          # the key it simulates when clicked
    display: str      # how the key is written ("q", "^p")
    description: str
    enabled: bool


class GotuiFooter(Widget, can_focus=False):
    """The shown bindings by PRIORITY on one line; when narrow, compact and without the
    ^p palette key (which otherwise sits at the right end)."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"footer--key", "footer--description"}
    DEFAULT_CSS = """
    GotuiFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[FooterEntry] = []
        self.palette: FooterEntry | None = None
        self._spans: list[tuple[int, int, FooterEntry]] = []  # clickable: x from, x to

    @property
    def narrow(self) -> bool:
        return self.app.size.width < NARROW_WIDTH

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if screen is not self.screen:
            return
        app = self.app
        active = screen.active_bindings
        by_action: dict[str, tuple[Binding, bool]] = {}
        for _node, binding, enabled, _tooltip in active.values():
            state = footer_state(app, binding)
            if state is not None:
                by_action.setdefault(binding.action, (binding, enabled and state == "show"))
        ordered = sorted(by_action.values(), key=lambda entry: rank(entry[0]))  # stable
        shown = [self._entry(binding, enabled) for binding, enabled in ordered]
        palette = active.get(app.COMMAND_PALETTE_BINDING)
        palette_entry = (self._entry(palette[1], palette[2])
                         if palette is not None and app.ENABLE_COMMAND_PALETTE else None)
        if (shown, palette_entry) != (self.shown, self.palette):  # (most focus moves)
            self.shown, self.palette = shown, palette_entry
            self.refresh()

    def _entry(self, binding: Binding, enabled: bool) -> FooterEntry:
        return FooterEntry(binding.key, self.app.get_key_display(binding),
                           binding.description, enabled)

    def keys(self) -> list[FooterEntry]:
        """The keys painted whole now, left to right (the palette key last when it shows)."""
        width = self.size.width
        return [entry for _x0, x1, entry in self._spans if x1 <= width]

    def entries(self) -> list[FooterEntry]:
        """Every key the footer would show given the room."""
        return self.shown + ([self.palette] if self.palette and not self.narrow else [])

    def render(self) -> Text:
        narrow = self.narrow
        key_style = self.get_component_rich_style("footer--key")
        text_style = self.get_component_rich_style("footer--description")
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, FooterEntry]] = []

        def add(entry: FooterEntry) -> None:
            start = line.cell_len
            dim = DIM if not entry.enabled else Style()
            key, text = ((entry.display, f" {entry.description}") if narrow
                         else (f" {entry.display} ", f"{entry.description} "))
            line.append(key, key_style + dim)
            if entry.description:
                line.append(text, text_style + dim)
            spans.append((start, line.cell_len, entry))
            if narrow:
                line.append(" ")

        for entry in self.shown:
            add(entry)
        width = self.size.width
        if self.palette is not None and not narrow:
            palette = self.palette
            label = f"│ {palette.display} {palette.description} "
            if line.cell_len + len(label) <= width:
                line.append(" " * (width - line.cell_len - len(label)))
                start = line.cell_len
                line.append("│ ", DIM)
                line.append(palette.display, key_style)
                line.append(f" {palette.description} ", text_style)
                spans.append((start, line.cell_len, palette))
        self._spans = [span for span in spans if span[0] < width]
        return line

    def on_click(self, event: events.Click) -> None:
        for x0, x1, entry in self._spans:
            if x0 <= event.x < x1:
                if entry.enabled:
                    self.app.simulate_key(entry.key)
                else:
                    self.app.bell()
                return
