"""Screenshots of stacks that cross cgo into screenshots/:

- cgo-core-160x48.svg: `gotui core` (Delve) on a gcore of tests/fixtures/cgo_callback,
  on the goroutine that C called back into: Go frames, crosscall2 and the C caller
  (read from the locked M's g0 stack), then the Go frames of the cgo call.
- cgo-live-160x48.svg: the live view (no stop) of tests/fixtures/cgo_flags on the
  goroutine blocked in the -O2 -fomit-frame-pointer library: C frames from its thread.

    .venv/bin/python tools/screenshots_cgo.py       (as root: gcore, /proc/<pid>/mem)

Same rules as tools/screenshots.py: real sessions driven with Textual's Pilot; the
fixtures are untraced when shot and killed at the end; no dlv is left behind.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gotui.backends.factory import attach_session, core_session  # noqa: E402
from gotui.backends.session import Session  # noqa: E402
from gotui.tui.app import GotuiApp  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

from tests import gofixtures  # noqa: E402
from tools.screenshots import OUT, prepare_terminal, until  # noqa: E402


def on_goroutine(start: str, frame: str) -> object:
    async def drive(app: GotuiApp, pilot: Pilot[None]) -> None:
        await until(pilot, lambda: any(g.start.function == start for g in app.index.data.live.values()),
                    f"goroutine {start}", 30)
        goid = next(g.id for g in app.index.data.live.values() if g.start.function == start)
        await pilot.press("g", *str(goid), "enter")
        await until(pilot, lambda: any(f.function.removeprefix("C.") == frame
                                       for f in app.stack_view.frames), f"frame {frame}", 30)
        await pilot.pause(1.0)
        # runtime frames collapsed, the C frame selected (its source shows on the right)
        view = app.stack_view
        view.action_toggle_runtime()
        depth = next(d for d, f in enumerate(view.frames)
                     if f.function.removeprefix("C.") == frame)
        view.highlighted = view._depths.index(depth)
        await pilot.pause(0.3)

    return drive


async def shoot(session: Session, name: str, drive: object) -> None:
    try:
        await session.start()
        app = GotuiApp(session, refresh_interval=1.0, keymap_path="/nonexistent/keymap.toml")
        async with app.run_test(size=(160, 48)) as pilot:
            await drive(app, pilot)  # type: ignore[operator]
            app.save_screenshot(filename=name, path=str(OUT))
    finally:
        await session.close(resume=True)
    print(OUT / name)


async def main() -> None:
    prepare_terminal()
    exe = gofixtures.build("cgo_callback")
    with tempfile.TemporaryDirectory() as tmp:
        with gofixtures.run(exe, env={"MALLOC_ARENA_MAX": "1"}) as t:
            subprocess.run(["gcore", "-o", f"{tmp}/core", str(t.pid)], check=True,
                           capture_output=True, timeout=120)
            assert gofixtures.wait_untraced(t.pid)
            core = f"{tmp}/core.{t.pid}"
        await shoot(core_session(str(exe), core), "cgo-core-160x48.svg",
                    on_goroutine("main.callbackNoFP", "c_call_back_nofp"))
    with gofixtures.run(gofixtures.build("cgo_flags")) as t:
        await shoot(attach_session(t.pid), "cgo-live-160x48.svg",
                    on_goroutine("main.inNoFP", "nofp_inner"))
        assert gofixtures.wait_untraced(t.pid)


if __name__ == "__main__":
    asyncio.run(main())
