"""Write the README's TUI screenshots from the fake target into screenshots/.

    .venv/bin/python -m tests.tui.save_screenshots
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from gotui.backends.model import Breakpoint
from gotui.tui.app import GotuiApp

from tests.tui.conftest import FIXED_NOW
from tests.tui.fakes import STABLE_ENV, UNSET_ENV, FakeStop, make_session

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "screenshots"

# (file name, terminal size, keys, ansi)
SHOTS = [
    ("tui-fake-80x24.svg", (80, 24), ["G", "G"], False),
    ("tui-fake-halted-80x24.svg", (80, 24), ["h", "4"], False),
    ("tui-fake-160x48.svg", (160, 48), ["G", "h", "g", "5", "enter", "e", *"id", "enter", "escape"], False),
    ("tui-fake-ansi-80x24.svg", (80, 24), ["slash", *"status:waiting chan", "enter"], True),
    ("tui-fake-filter-80x24.svg", (80, 24), ["slash", *"main.wor"], False),  # prompt open
    ("tui-fake-help-80x24.svg", (80, 24), ["question_mark"], False),
]


async def shoot(name: str, size: tuple[int, int], keys: list[str], ansi: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        session = make_session(Path(tmp), n=2000)
        stop = session.stop
        assert isinstance(stop, FakeStop)
        await stop.create_breakpoint(Breakpoint(file=stop.live.source, line=22, cond="j > 1",
                                                hit_cond="> 5", total_hits=12))
        await stop.create_breakpoint(Breakpoint(function="main.worker", hit_cond_per_g=True))
        app = GotuiApp(session, refresh_interval=30, keymap_path="/nonexistent/keymap.toml",
                       ansi=ansi, clock=lambda: FIXED_NOW, start_session=True)
        async with app.run_test(size=size) as pilot:
            for _ in range(100):
                if len(app.index.data) and app.stack_view.goid:
                    break
                await pilot.pause(0.05)
            for key in keys:
                await pilot.press(key)
                await pilot.pause(0.1)
            await pilot.pause(0.5)
            app.save_screenshot(name, str(OUT))
    print(OUT / name)


async def main() -> None:
    os.environ.update(STABLE_ENV)  # as in the tests: else TERM=xterm means the ANSI theme
    for name in UNSET_ENV:
        os.environ.pop(name, None)
    time.tzset()
    OUT.mkdir(exist_ok=True)
    for shot in SHOTS:
        await shoot(*shot)


if __name__ == "__main__":
    asyncio.run(main())
