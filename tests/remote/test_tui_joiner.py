"""The TUI runs unchanged on a RemoteSession (a joiner's view of a shared session)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gotui.backends.remote.client import join
from gotui.tui.app import GotuiApp

from tests.remote.conftest import make_host

WIDE = (160, 48)


async def until(pilot: Any, cond: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"never happened: {what}")


def notes(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_viewer_tui_shows_the_host_and_refuses_to_drive() -> None:
    h = await make_host(count=7)
    viewer = await join(h.url, h.server.viewer_token)
    app = GotuiApp(viewer, refresh_interval=0.2)
    try:
        async with app.run_test(size=WIDE) as pilot:
            await until(pilot, lambda: len(app.index.data) == 7, "the host's goroutines")
            await pilot.press("c")  # continue: a viewer may not
            await until(pilot, lambda: any("read-only" in n for n in notes(app)),
                        "the read-only notice")
            assert not h.session.state.running and "cont" not in h.stop.calls
            # the driver continues: the viewer's TUI follows the host's state
            driver = await join(h.url, h.server.driver_token)
            await driver.cont()
            await until(pilot, lambda: app.state.running, "RUNNING in the viewer's TUI")
            h.live.spawn(50)
            await until(pilot, lambda: len(app.index.data) == 8, "a new goroutine")
            await driver.close()
    finally:
        await viewer.close()
        await h.server.close()
        await h.session.close()


async def test_driver_tui_halts_the_host() -> None:
    h = await make_host(count=3)
    await h.session.cont()
    driver = await join(h.url, h.server.driver_token)
    app = GotuiApp(driver, refresh_interval=0.2)
    try:
        async with app.run_test(size=WIDE) as pilot:
            await until(pilot, lambda: len(app.index.data) == 3, "the host's goroutines")
            await until(pilot, lambda: app.state.running, "RUNNING")
            await pilot.press("h")
            await until(pilot, lambda: not h.session.state.running, "the host target halted")
            await until(pilot, lambda: not app.state.running, "HALTED in the driver's TUI")
    finally:
        await driver.close()
        await h.server.close()
        await h.session.close()
