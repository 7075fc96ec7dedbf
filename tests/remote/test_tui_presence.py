"""Presence, follow mode and hand-off in the TUI, over real websockets."""

from __future__ import annotations

from typing import Any

from gotui.backends.notices import DriverSelected
from gotui.backends.remote.client import join
from gotui.backends.remote.server import HOST
from gotui.tui.app import GotuiApp
from gotui.tui.widgets.presence import PresenceBar

from tests.remote.conftest import make_host
from tests.remote.test_tui_joiner import WIDE, notes, until


def presence_line(app: Any) -> str:
    bar = app.query_one(PresenceBar)
    return str(bar.render()) if bar.display else ""


async def test_joiner_sees_presence_follows_the_driver_and_gets_the_wheel() -> None:
    h = await make_host(count=7)  # headless: the first driver-token client drives
    driver = await join(h.url, h.server.driver_token, user="alice")
    # the driver token, joined second: watches until it is handed the wheel
    viewer = await join(h.url, h.server.driver_token, user="bob")
    app = GotuiApp(viewer, refresh_interval=0.2)
    try:
        async with app.run_test(size=WIDE) as pilot:
            await until(pilot, lambda: len(app.index.data) == 7, "the host's goroutines")
            await until(pilot, lambda: "you: viewer" in presence_line(app), "presence line")
            line = presence_line(app)
            # names are shown as self-declared (quoted), with the token each joined with
            assert 'driver: "alice"' in line and "2 joined" in line, line
            assert '"bob" (driver token)' in line, line

            await pilot.press("F")  # share.follow
            await until(pilot, lambda: any(c["follow"] for c in h.server.clients()),
                        "follow mode at the server")
            assert "(following)" in presence_line(app)
            await driver.select(5, "stack")
            await until(pilot, lambda: app.selection.goid == 5, "the driver's goroutine")
            await until(pilot, lambda: app.active_pane == "stack", "the driver's pane")

            await pilot.press("D")  # share.request_drive
            await until(pilot, lambda: viewer.client_id in h.server.requests, "the request")
            await until(pilot, lambda: "asks to drive" in presence_line(app), "request shown")
            await driver.grant_drive(viewer.client_id)
            await until(pilot, lambda: "you: driver" in presence_line(app), "the wheel")
            assert h.server.driver == viewer.client_id
            await pilot.press("c")  # the new driver resumes the (halted) target
            await until(pilot, lambda: "cont" in h.stop.calls, "continue from the new driver")
    finally:
        await driver.close()
        await viewer.close()
        await h.server.close()
        await h.session.close()


async def test_driver_tui_sends_its_selection_to_followers() -> None:
    h = await make_host(count=7)
    driver = await join(h.url, h.server.driver_token)
    follower = await join(h.url, h.server.viewer_token)
    selects: list[dict[str, Any]] = []
    follower.subscribe(lambda n: selects.append({"goroutine": n.goroutine, "pane": n.pane})
                       if isinstance(n, DriverSelected) else None)
    await follower.follow(True)
    app = GotuiApp(driver, refresh_interval=0.2)
    try:
        async with app.run_test(size=WIDE) as pilot:
            await until(pilot, lambda: len(app.index.data) == 7, "the host's goroutines")
            await until(pilot, lambda: "you: driver" in presence_line(app), "driving")
            await pilot.press("down", "down")
            await until(pilot, lambda: app.selection.goid > 0 and any(
                s["goroutine"] == app.selection.goid for s in selects), "selection sent")
            await pilot.press("2")  # the stack pane
            await until(pilot, lambda: any(s["pane"] == "stack" for s in selects),
                        "pane sent")
    finally:
        await follower.close()
        await driver.close()
        await h.server.close()
        await h.session.close()


async def test_host_tui_is_prompted_and_grants_with_ctrl_g() -> None:
    h = await make_host(count=3, host_drives=True)
    app = GotuiApp(h.session, refresh_interval=0.2)
    app.share.server = h.server
    viewer = await join(h.url, h.server.driver_token, user="carol")
    try:
        async with app.run_test(size=WIDE) as pilot:
            await until(pilot, lambda: "sharing" in presence_line(app), "presence at the host")
            assert "driver: you" in presence_line(app)
            await viewer.request_drive()
            await until(pilot, lambda: any("asks to drive" in n for n in notes(app)),
                        "the host's prompt")
            await pilot.press("ctrl+g")  # share.grant_drive
            await until(pilot, lambda: h.server.driver == viewer.client_id, "handed over")
            await until(pilot, lambda: 'driver: "carol"' in presence_line(app), "shown")
            await pilot.press("ctrl+g")  # nobody asks: the host takes it back
            await until(pilot, lambda: h.server.driver == HOST, "taken back")
    finally:
        await viewer.close()
        await h.server.close()
        await h.session.close()
