"""Goroutine states over time: one row per state (waits split by major reason), one
column per second, the count drawn as a block height. Heights carry the value, so
the chart reads the same in 16 colours and with NO_COLOR."""

from __future__ import annotations

import math

from gotui.tui.lifecycle_model import TIMELINE_ROWS, LifecycleModel
from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
ROW_STYLES = {"running": "green", "runnable": "yellow", "syscall": "cyan",
              "chan recv": "blue", "chan send": "blue", "select": "magenta",
              "sync": "red", "sleep": "white", "IO wait": "cyan", "GC": "bright_black",
              "other wait": "white"}
LABEL_WIDTH = 11
COUNT_WIDTH = 6


def cell(value: int, peak: int) -> str:
    """A block whose height is `value` relative to `peak`; any value > 0 shows."""
    if value <= 0 or peak <= 0:
        return " "
    return BLOCKS[max(1, min(8, math.ceil(8 * value / peak)))]


def timeline_lines(columns: list[dict[str, int] | None], max_rows: int | None = None
                   ) -> list[Text]:
    """Rows with any goroutine in the window, each `label count cells`; the count is the
    newest observed one, the cells scale to the row's own peak (shown at the end)."""
    rows = [r for r in TIMELINE_ROWS if any(c and c.get(r) for c in columns)]
    if max_rows is not None and len(rows) > max_rows:
        peaks = {r: max((c or {}).get(r, 0) for c in columns) for r in rows}
        keep = set(sorted(rows, key=lambda r: -peaks[r])[:max_rows])
        rows = [r for r in rows if r in keep]
    out = []
    latest = next((c for c in reversed(columns) if c is not None), {})
    for row in rows:
        peak = max((c or {}).get(row, 0) for c in columns)
        style = ROW_STYLES.get(row, "")
        line = Text(no_wrap=True, overflow="crop")
        line.append(f"{row:<{LABEL_WIDTH}}", style=style)
        line.append(f"{latest.get(row, 0):>{COUNT_WIDTH}} ", style="bold")
        line.append("".join(" " if c is None else cell(c.get(row, 0), peak) for c in columns),
                    style=style)
        line.append(f" ≤{peak}", style="dim")
        out.append(line)
    return out


class TimelineView(Widget):
    """Drawn from a LifecycleModel by `show(model, now)`."""

    DEFAULT_CSS = "TimelineView { height: auto; min-height: 2; max-height: 11; }"

    def __init__(self, **kwargs: str) -> None:
        super().__init__(**kwargs)
        self.lines: list[Text] = []
        self.note = ""

    def show(self, model: LifecycleModel, now: float) -> None:
        width = max(10, self.size.width - LABEL_WIDTH - COUNT_WIDTH - 1 - 7)
        rows = max(1, (self.parent.size.height if self.parent else 20) // 2 - 1)
        self.lines = timeline_lines(model.timeline_columns(now, width), max_rows=min(9, rows))
        source = "from eBPF events (deep)" if model.deep else "from snapshots, 1 s resolution"
        self.note = f"states, last {width} s (1 column = 1 s), {source}"
        self.refresh(layout=True)

    def render(self) -> Text:
        head = Text(self.note, style="dim", no_wrap=True, overflow="ellipsis")
        if not self.lines:
            return Text.assemble(head, "\n", Text("no observations yet", style="dim"))
        return Text("\n", no_wrap=True).join([head, *self.lines])
