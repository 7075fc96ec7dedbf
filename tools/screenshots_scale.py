"""Screenshots of the TUI at scale: live_stall with 100k sleeping goroutines, read live,
into screenshots/scale-*.svg (the adaptive refresh interval in the header; the list
grouped by the program's own location).

    .venv/bin/python tools/screenshots_scale.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gotui.backends.factory import attach_session  # noqa: E402
from gotui.tui.app import GotuiApp  # noqa: E402

from tests import gofixtures  # noqa: E402
from tools.screenshots import OUT, prepare_terminal, until  # noqa: E402

GOROUTINES = 100_000


async def shoot(pid: int, size: tuple[int, int], keys: list[str], name: str) -> None:
    session = attach_session(pid)
    app = GotuiApp(session, refresh_interval=1.0, keymap_path="/nonexistent/keymap.toml")
    try:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: len(app.index.data) >= GOROUTINES, "100k goroutines",
                        timeout=120)
            await until(pilot, lambda: app.main.panes_ready.is_set(), "every pane")
            await until(pilot, lambda: "adaptive" in app.header.refresh_label,
                        "the adaptive interval", timeout=120)
            for key in keys:
                await pilot.press(key)
                await pilot.pause(0.3)
            await pilot.pause(1.0)
            app.save_screenshot(str(OUT / name))
            print(f"saved {OUT / name}")
    finally:
        await session.close()


async def main() -> None:
    prepare_terminal()
    exe = gofixtures.build("live_stall", optimize=True)
    with gofixtures.run(exe, "-sleep", str(GOROUTINES), "-gc", timeout=120) as target:
        await shoot(target.pid, (120, 30), [], "scale-100k-adaptive-120x30.svg")
        await shoot(target.pid, (80, 24), ["G"], "scale-100k-grouped-80x24.svg")
        assert gofixtures.wait_untraced(target.pid)


if __name__ == "__main__":
    asyncio.run(main())
