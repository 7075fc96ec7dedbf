"""Screenshots of the TUI on the real demo service (tests/fixtures/demo) into screenshots/.

    .venv/bin/python tools/screenshots.py

Starts (or reuses) the demo on 127.0.0.1:8089, attaches a real Session per shot, drives
GotuiApp headless with Textual's Pilot as a user would, and saves demo-*.svg. Every
session closes with resume; at the end the demo must be running and untraced.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gotui.backends.demo import source_dir, start_demo  # noqa: E402
from gotui.backends.factory import attach_session  # noqa: E402
from gotui.backends.model import GotuiError  # noqa: E402
from gotui.backends.session import Session  # noqa: E402
from gotui.tui.app import GotuiApp  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

from tests.gofixtures import tracer_pid  # noqa: E402

OUT = ROOT / "screenshots"
DEMO_ADDR = "127.0.0.1:8089"
DEMO_DIR = ROOT / ".cache" / "demo"  # the one `make demo` uses
LEAK_FUNCTION = "main.leakyFetch"
BREAK_AFTER = "requests.Add(1)"  # first line of profileHandler after userID is parsed

Drive = Callable[[GotuiApp, Pilot[None]], Awaitable[None]]


async def until(pilot: Pilot[None], ready: Callable[[], bool], what: str,
                timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise GotuiError(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.1)


async def live_view(app: GotuiApp, pilot: Pilot[None], group_presses: int) -> None:
    """Wait for the first live list, group it, let 2-3 refreshes go by."""
    await until(pilot, lambda: len(app.index.data) > 0, "live goroutines")
    await pilot.press(*["G"] * group_presses)
    await pilot.pause(2.5)  # refresh_interval is 1 s
    # grouping keeps the cursor on goroutine 1, in the last group: go to the top, where
    # the largest group (the leak) is, and onto its first member (with the cursor on a
    # header the next refresh puts it back on goroutine 1)
    await pilot.press("home", "down")
    await pilot.pause(1.2)


def leak_group_count(app: GotuiApp) -> int:
    return max((n for key, n in app.index.groups if "leakLoop" in key), default=0)


async def drive_live_narrow(app: GotuiApp, pilot: Pilot[None]) -> None:
    await live_view(app, pilot, group_presses=2)  # none -> location -> go statement
    if leak_group_count(app) == 0:
        raise GotuiError(f"no go-statement group for the leak: {app.index.groups[:5]}")


async def drive_live_wide(app: GotuiApp, pilot: Pilot[None]) -> None:
    await live_view(app, pilot, group_presses=2)
    leaked = [g.id for g in app.index.data.live.values() if g.user_current.function == LEAK_FUNCTION]
    if not leaked:
        raise GotuiError("no leaked goroutine in the live list")
    await pilot.press("g", *str(min(leaked)), "enter")
    await until(pilot, lambda: str(app.stack_view.border_subtitle).startswith("recv chan"),
                "the channel the leaked goroutine blocks on")
    main_go = str(source_dir(DEMO_DIR) / "main.go")
    await until(pilot, lambda: app.source_view.path == main_go, "source of main.leakyFetch")
    await pilot.pause(0.5)


def variables_text(app: GotuiApp) -> str:
    return " ".join(str(node.label) for node in app.variables_view.root.children
                    for node in [node, *node.children])


async def drive_breakpoint(app: GotuiApp, pilot: Pilot[None]) -> None:
    main_go = source_dir(DEMO_DIR) / "main.go"
    lines = main_go.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.strip() == BREAK_AFTER)
    await until(pilot, lambda: len(app.index.data) > 0, "live goroutines")
    await pilot.press("b")
    await pilot.pause(0.3)
    app.screen.query_one("#bp-location").value = f"{main_go}:{line}"  # type: ignore[attr-defined]
    app.screen.query_one("#bp-cond").value = "userID == 42"  # type: ignore[attr-defined]
    await pilot.press("enter")  # submit: attaches Delve on demand, target resumes
    await until(pilot, lambda: not app.state.running and app.state.current is not None
                and app.state.current.line == line, "HALTED at the breakpoint", 60)
    await until(pilot, lambda: app.source_view.path == str(main_go), "source of the handler")
    await until(pilot, lambda: "userID" in variables_text(app), "locals of the handler")
    await until(pilot, lambda: len(app.breakpoints.items) > 0, "the breakpoint list")
    await until(pilot, lambda: not app.header.busy, "the halted goroutine list")
    await until(pilot, lambda: getattr(app.goroutine_pane.list.current_goroutine, "id", 0)
                == app.state.current_goroutine, "the list cursor on the halted goroutine", 10)
    view = app.source_view
    top = round(view.scroll_offset.y)
    if not top < view.current <= top + view.scrollable_content_region.height:
        print(f"UI: the source pane shows lines {top + 1}.. but the current line is "
              f"{view.current}", file=sys.stderr)
    await pilot.pause(0.5)


async def drive_ansi(app: GotuiApp, pilot: Pilot[None]) -> None:
    await live_view(app, pilot, group_presses=3)  # ... -> start function


async def drive_findings(app: GotuiApp, pilot: Pilot[None]) -> None:
    await live_view(app, pilot, group_presses=2)
    await pilot.press("8")  # findings: the leak needs a few refreshes of history
    table = app.query_one("#pane-findings")
    await until(pilot, lambda: table.row_count > 0, "a finding", 30)  # type: ignore[attr-defined]


async def drive_channels(app: GotuiApp, pilot: Pilot[None]) -> None:
    await live_view(app, pilot, group_presses=2)
    await pilot.press("7")
    table = app.query_one("#pane-channels")
    await until(pilot, lambda: table.row_count > 0, "a channel", 30)  # type: ignore[attr-defined]


async def shoot(pid: int, name: str, size: tuple[int, int], drive: Drive,
                ansi: bool = False) -> None:
    session: Session = attach_session(pid)
    try:
        await session.start()
        app = GotuiApp(session, refresh_interval=1.0, keymap_path="/nonexistent/keymap.toml",
                       ansi=ansi)
        async with app.run_test(size=size) as pilot:
            await drive(app, pilot)
            app.save_screenshot(filename=name, path=str(OUT))
    finally:
        await session.close(resume=True)
    print(OUT / name)


def prepare_terminal() -> None:
    """A 256-colour terminal, as most users have (an ansi shot asks for ANSI itself),
    and the output folder."""
    os.environ.update(TERM="xterm-256color", COLORTERM="truecolor")
    os.environ.pop("NO_COLOR", None)
    OUT.mkdir(exist_ok=True)


async def main() -> None:
    prepare_terminal()
    pid = start_demo(DEMO_ADDR, DEMO_DIR)
    print(f"demo pid {pid}")
    try:
        await shoot(pid, "demo-live-80x24.svg", (80, 24), drive_live_narrow)
        await shoot(pid, "demo-live-160x48.svg", (160, 48), drive_live_wide)
        await shoot(pid, "demo-breakpoint-160x48.svg", (160, 48), drive_breakpoint)
        await shoot(pid, "demo-ansi-80x24.svg", (80, 24), drive_ansi, ansi=True)
        await shoot(pid, "demo-findings-80x24.svg", (80, 24), drive_findings)
        await shoot(pid, "demo-channels-160x48.svg", (160, 48), drive_channels)
    finally:
        deadline = time.monotonic() + 10
        while tracer_pid(pid) != 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert tracer_pid(pid) == 0, f"demo {pid} is still traced"
        print(f"demo {pid} running and untraced")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except GotuiError as exc:
        sys.exit(f"screenshots: {exc}")
