"""The always-visible header: target, RUNNING / HALTED, goroutine count, refresh state."""

from __future__ import annotations

import time
from collections.abc import Callable

from gotui.backends.model import TargetInfo, TargetState
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


def duration(seconds: float) -> str:
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s // 60 % 60:02d}m"


def state_text(state: TargetState, now: float) -> tuple[str, str]:
    """(label, style) for the execution state."""
    if state.exited:
        status = "" if state.exit_status is None else f" (status {state.exit_status})"
        return f" EXITED{status} ", "bold white on red"
    if state.running:
        return " RUNNING ", "bold black on green"
    if state.stop_reason == "core":
        return " CORE (post-mortem) ", "bold white on magenta"
    label = " HALTED"
    if state.halted_since:
        since = time.strftime("%H:%M:%S", time.localtime(state.halted_since))
        label += f" since {since}, for {duration(now - state.halted_since)}"
    return label + " ", "bold white on red"


class HeaderBar(Widget):
    """Two lines: target identity + state; goroutine count + refresh state."""

    DEFAULT_CSS = """
    HeaderBar { dock: top; height: 2; background: $panel; color: $text; padding: 0 1; }
    """

    info: reactive[TargetInfo] = reactive(TargetInfo, always_update=True)
    state: reactive[TargetState] = reactive(TargetState, always_update=True)
    goroutines: reactive[int] = reactive(0)
    refresh_label: reactive[str] = reactive("")
    busy: reactive[str] = reactive("")

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs: str) -> None:
        super().__init__(**kwargs)
        self.clock = clock

    def on_mount(self) -> None:
        # the "for Ns" part of HALTED ages every second
        self.set_interval(1.0, self.refresh)

    def render(self) -> Text:
        info = self.info
        exe = info.exe.rsplit("/", 1)[-1] or "?"
        label, style = state_text(self.state, self.clock())
        top = Text(no_wrap=True, overflow="ellipsis")
        top.append(label, style=style)
        top.append(f" pid {info.pid} ", style="bold")
        top.append(f"{exe} ")
        if info.go_version:
            top.append(f"{info.go_version} ", style="dim")
        top.append(f"[{info.backend or 'none'}]", style="italic")
        bottom = Text(no_wrap=True, overflow="ellipsis")
        bottom.append(f"{self.goroutines} goroutines", style="bold")
        bottom.append(f" · refresh: {self.refresh_label}")
        if not self.state.running and self.state.stop_reason not in ("", "core"):
            bottom.append(f" · stopped: {self.state.stop_reason}")
        if self.busy:
            bottom.append(f" · {self.busy}…", style="italic")
        return Text("\n", no_wrap=True).join([top, bottom])
