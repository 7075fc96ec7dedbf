"""Screenshots of goroutines the Go runtime proved leaked, into screenshots/:

- leaked-goroutines-160x48.svg: tests/fixtures/blocking built with Go 1.27 after its
  goroutine leak detector ran (the fixture runs the `goroutineleak` profile on SIGUSR2):
  the list grouped by user location (the first frame of the program's own code), the
  leaked goroutines' status in red.
- leaked-findings-160x48.svg: the Findings pane: the leak proofs.

    .venv/bin/python tools/screenshots_leaked.py

Same rules as tools/screenshots.py: real sessions driven with Textual's Pilot; the
target is running and untraced at the end.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gotui.tui.app import GotuiApp  # noqa: E402
from gotui.tui.widgets.findings import FindingsTable  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

from tests import gofixtures  # noqa: E402
from tools.screenshots import prepare_terminal, shoot, until  # noqa: E402


async def drive_list(app: GotuiApp, pilot: Pilot[None]) -> None:
    await until(pilot, lambda: any(g.status == "leaked" for g in app.index.data.live.values()),
                "leaked goroutines")
    await pilot.press("G")  # group: user location
    await pilot.pause(1.5)
    await pilot.press("home", "down")
    await pilot.pause(1.2)


async def drive_findings(app: GotuiApp, pilot: Pilot[None]) -> None:
    await drive_list(app, pilot)
    await pilot.press("8")
    table = app.query_one(FindingsTable)
    await until(pilot, lambda: any(f.proof for f in table.items), "the leak proofs", 30)


def run_leak_detector(t: gofixtures.Target) -> None:
    os.kill(t.pid, signal.SIGUSR2)
    assert t.proc.stdout is not None
    fd = t.proc.stdout.fileno()
    data = b""
    while b"LEAKCHECK" not in data:
        ready, _, _ = select.select([fd], [], [], 20)
        assert ready, "the fixture did not run its leak detector"
        data += os.read(fd, 1 << 16)
    print(data.decode().strip())


async def main() -> None:
    prepare_terminal()
    exe = gofixtures.build("blocking", toolchain="go1.27")
    with gofixtures.run(exe, "-leak-every", "200ms", "-leak-max", "12") as t:
        await asyncio.sleep(3)  # all 12 leaked goroutines started
        run_leak_detector(t)
        await shoot(t.pid, "leaked-goroutines-160x48.svg", (160, 48), drive_list)
        await shoot(t.pid, "leaked-findings-160x48.svg", (160, 48), drive_findings)
        assert gofixtures.wait_untraced(t.pid, 10)


if __name__ == "__main__":
    asyncio.run(main())
