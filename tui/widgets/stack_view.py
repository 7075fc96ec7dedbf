"""The stack of the selected goroutine: one frame per line, runtime frames dimmed."""

from __future__ import annotations

from collections import Counter

from gotui.backends.model import NEEDS_STOP_NOTE, Frame
from gotui.tui import keymap
from gotui.tui.messages import FrameSelected
from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

KIND_STYLES = {"go": "", "runtime": "dim", "cgo": "magenta", "c": "yellow"}


def note_text(note: str, halt_hint: str) -> str:
    """A frame note; one that says more frames need a stop names the key that halts."""
    return f"{note} ({halt_hint})" if halt_hint and note.endswith(NEEDS_STOP_NOTE) else note


def frame_text(depth: int, frame: Frame, shown_notes: frozenset[str] = frozenset(),
               halt_hint: str = "") -> Text:
    """One line for `frame`; a note already in `shown_notes` is left out."""
    text = Text(style=KIND_STYLES.get(frame.kind, ""), no_wrap=True, overflow="ellipsis")
    text.append(f"{depth:>2} ")
    text.append(f"{frame.kind:<7} ", style="italic")
    text.append(frame.function or "?", style="" if frame.kind == "runtime" else "bold")
    if frame.file:
        text.append(f"  {frame.file.rsplit('/', 1)[-1]}:{frame.line}")
    if frame.note and frame.note not in shown_notes:
        text.append(f"  ({note_text(frame.note, halt_hint)})", style="dim")
    return text


def stack_notes(frames: list[Frame]) -> list[str]:
    """Notes shared by several frames (e.g. "frame-pointer walk"): said once for the stack."""
    counts = Counter(f.note for f in frames if f.note)
    return [note for note, n in counts.items() if n > 1]


def first_user_frame(frames: list[Frame]) -> int:
    for i, f in enumerate(frames):
        if f.kind == "go":
            return i
    return 0


class StackView(OptionList):
    """Frames of one goroutine; highlighting a frame posts FrameSelected(depth)."""

    BINDINGS = keymap.bindings("stack")
    DEFAULT_CSS = """
    StackView { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, **kwargs: str) -> None:
        super().__init__(**kwargs)
        self.goid = 0
        self.frames: list[Frame] = []
        self.hide_runtime = False
        self._depths: list[int] = []
        self.blocked = ""  # what the goroutine waits on, set by the app
        self._notes: list[str] = []  # shared frame notes, shown in the subtitle
        self.halt_hint = "press h"  # the user's key for halt, set by the app

    def show(self, goid: int, frames: list[Frame], select: int | None = None) -> None:
        depth = first_user_frame(frames) if select is None else select
        if goid == self.goid and frames == self.frames and self._depths:
            # same stack (a refresh): keep the options, a rebuild costs a relayout
            if depth != self.selected_depth and depth in self._depths:
                self.highlighted = self._depths.index(depth)  # posts FrameSelected
            else:  # the target may have halted since: frame consumers reload
                self.post_message(FrameSelected(goid, self.selected_depth,
                                                frames[self.selected_depth]))
            return
        self.goid = goid
        self.frames = frames
        self._fill(depth)

    def _fill(self, select_depth: int) -> None:
        self._depths = [d for d, f in enumerate(self.frames)
                        if not (self.hide_runtime and f.kind == "runtime")]
        notes = stack_notes(self.frames)
        shown = frozenset(notes)
        self.clear_options()
        self.add_options([Option(frame_text(d, self.frames[d], shown, self.halt_hint))
                          for d in self._depths])
        if self._depths:
            nearest = min(range(len(self._depths)),
                          key=lambda i: abs(self._depths[i] - select_depth))
            self.highlighted = nearest
        title = f"2 Stack of goroutine {self.goid}" if self.goid else "2 Stack"
        self.border_title = title + (" (runtime hidden)" if self.hide_runtime else "")
        self._notes = notes
        self._set_subtitle()

    def set_blocked(self, text: str) -> None:
        self.blocked = text
        self._set_subtitle()

    def _set_subtitle(self) -> None:
        notes = [note_text(n, self.halt_hint) for n in self._notes]
        self.border_subtitle = " · ".join(p for p in [self.blocked, *notes] if p)

    @property
    def selected_depth(self) -> int:
        if self.highlighted is None or not self._depths:
            return 0
        return self._depths[self.highlighted]

    def action_toggle_runtime(self) -> None:
        self.hide_runtime = not self.hide_runtime
        self._fill(self.selected_depth)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        depth = self._depths[event.option_index]
        self.post_message(FrameSelected(self.goid, depth, self.frames[depth]))
