"""The stack and source panes on their own, in a small app."""

from __future__ import annotations

from gotui.backends.model import Frame
from gotui.tui.widgets.source_view import SourceView
from gotui.tui.widgets.stack_view import StackView
from textual.app import App, ComposeResult

WALK = "frame-pointer walk"


class StackApp(App[None]):
    CSS = "StackView { width: 60; height: 12; border: round $accent; }"

    def compose(self) -> ComposeResult:
        yield StackView()


def long_stack() -> list[Frame]:
    fn = "github.com/example/project/internal/server.(*Handler).serveConnection"
    frames = [Frame(f"{fn}{d}", "/home/user/project/internal/server/handler.go", 100 + d,
                    0x1000 + d, "go", WALK) for d in range(5)]
    return [*frames, Frame("", "", 0, 0x9999, "c", "libc.so.6+0x12")]


async def test_long_frames_take_one_line_and_a_shared_note_is_said_once() -> None:
    app = StackApp()
    async with app.run_test(size=(80, 20)) as pilot:
        stack = app.query_one(StackView)
        stack.set_blocked("recv chan 0xc000020060")
        stack.show(7, long_stack())
        await pilot.pause()
        assert stack.virtual_size.height == 6  # one line per frame, no wrapping
        lines = [stack.render_line(y).text for y in range(6)]
        assert all(WALK not in line for line in lines)
        assert all(line.rstrip().endswith("…") for line in lines[:5])
        assert "libc.so.6+0x12" in lines[5]  # a frame's own note stays on its line
        assert stack.border_subtitle == f"recv chan 0xc000020060 · {WALK}"
        stack.show(8, long_stack()[:1])  # a single frame keeps its note inline
        await pilot.pause()
        assert stack.border_subtitle == "recv chan 0xc000020060"


class SourceApp(App[None]):
    CSS = "SourceView { height: 10; }"

    def compose(self) -> ComposeResult:
        yield SourceView()


SOURCE_LINES = [f"line {n}" for n in range(1, 201)]


async def test_source_centers_on_a_line_far_below_the_previous_content() -> None:
    app = SourceApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(SourceView)
        view.show("/src/main.go", [], 0)  # "no source": no scrollbar at the last layout
        await pilot.pause()
        view.show("/src/main.go", SOURCE_LINES, 120)
        await pilot.pause()
        top = view.scroll_offset.y
        assert top < 119 < top + view.scrollable_content_region.height
        assert abs((top + 5) - 119) <= 1  # centred, not merely in view
        view.show("/src/other.go", SOURCE_LINES[:8], 3)  # and back to a short file
        view.show("/src/main.go", SOURCE_LINES, 150)  # before any layout in between
        await pilot.pause()
        top = view.scroll_offset.y
        assert top < 149 < top + view.scrollable_content_region.height
