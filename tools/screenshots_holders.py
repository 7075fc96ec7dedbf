"""Screenshots of lock holders from a real run, into screenshots/:

- holders-blocking-160x48.svg: the Blocking pane (7) on tests/fixtures/holders, each
  lock with its holder rows (exact: seen taking it by eBPF, when root + BCC; the
  RWMutex readers inferred from their stacks).
- holders-why-160x48.svg: `w` on a goroutine of the lock-order deadlock: its chain.
- holders-findings-160x48.svg: the Findings pane (8): the deadlock proof first.

    .venv/bin/python tools/screenshots_holders.py

The fixture is started with -start-on-signal: the eBPF tracker attaches first, then
the fixture takes its locks (only hand-overs seen while watching are exact).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gotui.backends.ebpf.loader import unavailable_reason  # noqa: E402
from gotui.backends.factory import attach_session  # noqa: E402
from gotui.tui.app import GotuiApp  # noqa: E402
from gotui.tui.screens.why import WhyScreen  # noqa: E402
from gotui.tui.widgets.channels import ChannelsTable, HolderRow  # noqa: E402
from gotui.tui.widgets.findings import FindingsTable  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

from tests import gofixtures  # noqa: E402
from tests.holders_truth import holders_fixture, start  # noqa: E402
from tools.screenshots import OUT, prepare_terminal, until  # noqa: E402


async def blocking(app: GotuiApp, pilot: Pilot[None]) -> None:
    await pilot.press("7")
    table = app.query_one(ChannelsTable)
    await until(pilot, lambda: sum(isinstance(r, HolderRow) for r in table.table_rows) >= 8,
                "holder rows", 30)
    at = next(i for i, r in enumerate(table.table_rows) if isinstance(r, HolderRow))
    table.move_cursor(row=at)
    await pilot.pause(1.0)


async def why(app: GotuiApp, pilot: Pilot[None], goid: int) -> None:
    await pilot.press("1")
    app.goroutine_pane.list.jump_to(goid)
    await until(pilot, lambda: app.selection.goid == goid, "the goroutine selected")
    await pilot.press("w")
    await until(pilot, lambda: isinstance(app.screen, WhyScreen), "the chain")
    await pilot.pause(0.5)


async def findings(app: GotuiApp, pilot: Pilot[None]) -> None:
    await pilot.press("8")
    table = app.query_one(FindingsTable)
    await until(pilot, lambda: any(f.kind == "deadlock" for f in table.items), "findings", 30)
    await pilot.pause(1.0)


async def main() -> None:
    prepare_terminal()
    exact = unavailable_reason() is None
    with holders_fixture("go1.26", True, on_signal=exact) as t:
        session = attach_session(t.pid)
        tracker = None
        if exact:
            from gotui.backends.ebpf.holders import HolderTracker

            tracker = HolderTracker(t.pid)
            tracker.start()
            session.live.exact = tracker  # type: ignore[union-attr]
            truth = start(t)
        else:
            from tests.holders_truth import read_truth

            truth = read_truth(t)
        deadlocked = next(x for x in truth if x["name"] == "transfer-a")["holders"][0]
        try:
            await session.start()
            app = GotuiApp(session, refresh_interval=1.0,
                           keymap_path="/nonexistent/keymap.toml")
            async with app.run_test(size=(160, 48)) as pilot:
                await until(pilot, lambda: len(app.index.data) > 0, "live goroutines")
                await blocking(app, pilot)
                app.save_screenshot(filename="holders-blocking-160x48.svg", path=str(OUT))
                await findings(app, pilot)
                app.save_screenshot(filename="holders-findings-160x48.svg", path=str(OUT))
                await why(app, pilot, deadlocked)
                app.save_screenshot(filename="holders-why-160x48.svg", path=str(OUT))
        finally:
            await session.close(resume=True)
        assert gofixtures.tracer_pid(t.pid) == 0
    print(OUT / "holders-blocking-160x48.svg")


if __name__ == "__main__":
    asyncio.run(main())
