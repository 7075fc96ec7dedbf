"""FrameTimer (tui/frame_timer.py): a repaint as soon as it is asked for, once a frame
has passed since the last one began; Textual's Timer waits one frame too many once it
is behind. On a fake clock: no wall-clock time is asserted."""

from __future__ import annotations

import asyncio

import pytest
from gotui.tui import frame_timer
from gotui.tui.frame_timer import FrameTimer
from textual.app import App

FRAME = 1 / 60


class Target:
    """What a timer ticks for (held by a weak reference)."""




async def run(monkeypatch: pytest.MonkeyPatch, paints: list[float],
              resumes: list[float]) -> tuple[list[float], list[float]]:
    """Paints lasting `paints` seconds each, asked for at `resumes` (fake times):
    when each paint began, and each sleep the timer asked for."""
    clock = [0.0]
    began: list[float] = []
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds
        await asyncio.sleep(0)

    monkeypatch.setattr(frame_timer, "get_time", lambda: clock[0])
    monkeypatch.setattr(frame_timer, "sleep", fake_sleep)
    target = Target()

    def paint() -> None:
        began.append(clock[0])
        clock[0] += paints[len(began) - 1]
        timer.pause()  # as Screen._on_timer_update does

    timer = FrameTimer(target, FRAME, callback=paint, pause=True)
    async with App[None]().run_test():  # (a tick looks at the running app)
        timer._start()
        for at in resumes:
            await asyncio.sleep(0)
            clock[0] = max(clock[0], at)
            timer.resume()
            for _ in range(5):
                await asyncio.sleep(0)
        assert timer._task is not None and not timer._task.done()  # (no error ended it)
        timer.stop()
    return began, slept


async def test_a_repaint_asked_for_after_a_long_paint_comes_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the prompt's paint takes 15 ms; the filtered rows ask for a paint at 20 ms
    began, slept = await run(monkeypatch, [0.015, 0.010], [0.0, 0.020])
    assert began == [0.0, 0.020]  # Textual's Timer: at 15 ms + one to two frames
    assert slept[0] == pytest.approx(FRAME - 0.015)


async def test_repaints_are_never_closer_than_a_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    began, _ = await run(monkeypatch, [0.002, 0.002, 0.002], [0.0, 0.005, 0.006])
    assert began[1] == pytest.approx(FRAME)  # asked for at 5 ms: waits out the frame
    assert began[2] - began[1] >= FRAME - 1e-9
