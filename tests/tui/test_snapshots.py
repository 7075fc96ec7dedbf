"""SVG snapshots of the app over the fake target (fixed clock, fixed halt time, UTC,
a 30 s refresh so no timer refresh lands inside a test).

Regenerate with `pytest tests/tui/test_snapshots.py --snapshot-update` and look at
the SVGs in tests/tui/__snapshots__/ before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from gotui.backends.model import Breakpoint
from gotui.tui.app import GotuiApp
from textual.pilot import Pilot

from tests.tui.conftest import make_app
from tests.tui.fakes import FakeStop, make_session

SnapCompare = Callable[..., bool]


async def settle(pilot: Pilot[None], cond: Callable[[], bool]) -> None:
    """Wait until the screen shows what the snapshot is of; never screenshot a screen
    that did not get there."""
    for _ in range(200):
        if cond():
            break
        await pilot.pause(0.05)
    else:
        raise AssertionError("the screen never reached the state this snapshot is of")
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()


def loaded(app: GotuiApp) -> Callable[[], bool]:
    return lambda: (len(app.index.data) > 0 and app.main.panes_ready.is_set()
                    and app.stack_view.goid != 0)


def halted(app: GotuiApp) -> Callable[[], bool]:
    return lambda: (not app.state.running and app.source_view.current == 21
                    and app.variables_view.root.children != []
                    and "args" in str(app.variables_view.root.children[0].label))


def scenario(app: GotuiApp, keys: list[str], cond: Callable[[GotuiApp], Callable[[], bool]],
             before: Callable[[GotuiApp], Awaitable[None]] | None = None,
             ) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot, loaded(app))
        if before is not None:
            await before(app)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.05)
        await settle(pilot, cond(app))

    return run_before


async def with_breakpoints(app: GotuiApp) -> None:
    stop = app.session.stop
    assert isinstance(stop, FakeStop)
    await stop.create_breakpoint(Breakpoint(file=app.session.live.source, line=22,  # type: ignore[union-attr]
                                            cond="j > 1", hit_cond="> 5"))
    await stop.create_breakpoint(Breakpoint(function="main.worker", hit_cond_per_g=True,
                                            enabled=False, total_hits=3))


def test_running_80x24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = make_app(make_session(tmp_path), refresh_interval=30)
    assert snap_compare(app, terminal_size=(80, 24),
                        run_before=scenario(app, [], lambda a: loaded(a)))


def test_halted_source_80x24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = make_app(make_session(tmp_path), refresh_interval=30)
    assert snap_compare(app, terminal_size=(80, 24),
                        run_before=scenario(app, ["h", "4"], halted))


def test_halted_grouped_160x48(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = make_app(make_session(tmp_path), refresh_interval=30)
    assert snap_compare(app, terminal_size=(160, 48),
                        run_before=scenario(app, ["G", "G", "h"], halted, with_breakpoints))


def test_running_ansi_80x24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = make_app(make_session(tmp_path), ansi=True, refresh_interval=30)
    assert snap_compare(app, terminal_size=(80, 24),
                        run_before=scenario(app, ["G"], lambda a: loaded(a)))


def test_quit_dialog_160x48(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = make_app(make_session(tmp_path), refresh_interval=30)
    assert snap_compare(app, terminal_size=(160, 48),
                        run_before=scenario(app, ["h", "q"], lambda a: lambda: True))
