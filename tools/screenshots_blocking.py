"""Screenshots of the Blocking (7) and Findings (8) panes into screenshots/:

- demo-blocking-160x48.svg, demo-blocking-80x24.svg: the demo service read live: its
  channels with waiters, the contenders' mutex (from the runtime's semaphore table),
  then the IO wait / sleep / cgo groups.
- blocking-blocking-160x48.svg, blocking-findings-160x48.svg: tests/fixtures/blocking
  (one goroutine per way to block): the pane, and the findings naming the channel and
  mutex deadlock cycles, the nil-channel waits and the growing leak.

    .venv/bin/python tools/screenshots_blocking.py

Same rules as tools/screenshots.py: real sessions driven with Textual's Pilot; every
target is running and untraced at the end.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gotui.backends.demo import start_demo  # noqa: E402
from gotui.tui.app import GotuiApp  # noqa: E402
from gotui.tui.widgets.channels import ChannelsTable  # noqa: E402
from gotui.tui.widgets.findings import FindingsTable  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

from tests import gofixtures  # noqa: E402
from tests.gofixtures import tracer_pid  # noqa: E402
from tools.screenshots import DEMO_ADDR, DEMO_DIR, live_view, shoot, until  # noqa: E402


async def drive_blocking(app: GotuiApp, pilot: Pilot[None]) -> None:
    await live_view(app, pilot, group_presses=2)
    await pilot.press("7")
    table = app.query_one(ChannelsTable)
    await until(pilot, lambda: bool(table.groups_shown), "lock and other groups", 30)
    await pilot.pause(1.2)


async def drive_findings(app: GotuiApp, pilot: Pilot[None]) -> None:
    await live_view(app, pilot, group_presses=2)
    await pilot.press("8")
    table = app.query_one(FindingsTable)
    await until(pilot, lambda: any(f.kind == "leak" for f in table.items), "the leak", 30)


async def main() -> None:
    pid = start_demo(DEMO_ADDR, DEMO_DIR)
    print(f"demo pid {pid}")
    await shoot(pid, "demo-blocking-160x48.svg", (160, 48), drive_blocking)
    await shoot(pid, "demo-blocking-80x24.svg", (80, 24), drive_blocking)
    with gofixtures.run(gofixtures.build("blocking"), "-leak-every", "300ms") as t:
        await shoot(t.pid, "blocking-blocking-160x48.svg", (160, 48), drive_blocking)
        await shoot(t.pid, "blocking-findings-160x48.svg", (160, 48), drive_findings)
        assert gofixtures.wait_untraced(t.pid, 10)
    assert tracer_pid(pid) == 0, f"demo {pid} is still traced"
    print(f"demo {pid} running and untraced")


if __name__ == "__main__":
    asyncio.run(main())
