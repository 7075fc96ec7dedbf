"""The main screen's repaint timer, without Textual's late frame.

Textual repaints a screen from a timer (at most MAX_FPS a second), paused while nothing
needs a repaint. In textual 8.2 that Timer, once behind its schedule (after any pause,
or a paint longer than what was left of its frame), sets its next tick one interval too
far (`count = int((now - start) / interval + 1)` then `start + (count + 1) * interval`):
the next paint waits 17-33 ms instead of at most 17. A paste at 100k goroutines paints
twice (the prompt opening, then the filtered rows), and in about a third of them the
rows waited ~25 ms with nothing else to do (traced: the filter done at 31 ms, the paint
at 57 ms).

FrameTimer paints as soon as it is resumed, provided one interval has passed since the
last paint began: never more often than Textual would, never later."""

from __future__ import annotations

from asyncio import sleep
from time import monotonic as get_time

from textual.screen import UPDATE_PERIOD, Screen
from textual.timer import EventTargetGone, Timer


class FrameTimer(Timer):
    async def _run(self) -> None:
        count = 0
        while self._repeat is None or count < self._repeat:
            await self._active.wait()
            began = get_time()
            count += 1
            try:
                await self._tick(next_timer=began, count=count)
            except EventTargetGone:
                break
            await sleep(max(0.0, began + self._interval - get_time()))


def screen_update_timer(screen: Screen[object]) -> Timer:
    """What `Screen._update_timer` makes the first time it is asked, as a FrameTimer
    (Textual keeps it in the name-mangled `_Screen__update_timer`)."""
    timer: Timer | None = screen._Screen__update_timer  # type: ignore[attr-defined]
    if timer is None:
        timer = FrameTimer(screen, UPDATE_PERIOD, name="screen_update",
                           callback=screen._on_timer_update, pause=True)
        timer._start()
        screen._timers.add(timer)
        screen._Screen__update_timer = timer  # type: ignore[attr-defined]
    return timer
