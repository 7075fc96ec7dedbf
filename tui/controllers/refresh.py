"""The live refresh: when to take a snapshot, one hop off the event loop to make
everything it shows (tui/refresh_model.py), and one step to show it.

Keys first: the event loop only starts a refresh and applies a finished RefreshView
(swap the index's data and view, redraw the visible rows, update the panes that show);
the snapshot and all the work on it run in worker threads. The user's key presses
change the list's view on the loop meanwhile; a RefreshView built for another view is
re-viewed on the loop when it lands (C-level passes over compact lists).

Quiet first: a refresh that falls due while the user is pressing keys waits until
input has been quiet for INPUT_QUIET, at most one interval (a key that lands during a
refresh waits for its parts that cannot step aside: at 100k goroutines, tens of ms).
A refresh someone asks for (a halt, ctrl+r, `p`) starts at once.

Adaptive interval: a refresh that costs more than ADAPTIVE_SHARE of its interval (CPU
time of the process while it ran) stretches the interval to the next step that keeps
within the share, and the header says so (`live every 3s (adaptive)`); it shrinks
back when refreshes get cheaper. `+` / `-` set the interval the user wants, and it
stays: no stretching after that, it is their choice.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from gotui.backends import yielding
from gotui.backends.heap import return_freed_memory
from gotui.backends.model import Snapshot
from gotui.backends.session import LIVE_READ_SHARE, LIVE_STEPS, LIVE_WARMUP, live_step
from gotui.tui.controllers import widgets_may_be_gone
from gotui.tui.refresh_model import RefreshModel

if TYPE_CHECKING:
    from gotui.tui.app import GotuiApp

MIN_INTERVAL, MAX_INTERVAL = LIVE_STEPS[0], LIVE_STEPS[-1]  # what `+`/`-` may choose
ADAPTIVE_SHARE = LIVE_READ_SHARE  # the most of one core the live refresh may take
SHRINK_HEADROOM = 0.75  # back to a shorter step once the cost fits it with room
INPUT_POLL = 0.005  # s between looks at whether input is still being handled
INPUT_QUIET = 1.0  # s without input before a due refresh starts (at most one interval late)


def put_off(since_input: float, late: float, interval: float) -> float:
    """How much longer a due refresh waits: until input has been quiet for INPUT_QUIET,
    but never more than `interval` after it fell due (`late` seconds ago)."""
    if since_input >= INPUT_QUIET or late >= interval:
        return 0.0
    return min(INPUT_QUIET - since_input, interval - late)


def with_the_rest(cost: float, cycle_cpu: float, cycle_wall: float) -> float:
    """A refresh's cost counting what the app spends between refreshes when no key is
    pressed (timers, paints, collections: at 100k a refresh of 80 ms every 1 s left the
    app at 11 % of a core): the refresh gets the share left by that, but never less
    than half of it (so a busy app does not stretch its refreshes without end)."""
    rest = max(cycle_cpu - cost, 0.0) / cycle_wall if cycle_wall > 0 else 0.0
    return cost * ADAPTIVE_SHARE / max(ADAPTIVE_SHARE - rest, ADAPTIVE_SHARE / 2)


async def input_first() -> None:
    """A finished refresh is shown after the input being handled is painted (a key
    never waits behind a refresh's redraw), but never later than yielding.MAX_STEP."""
    waited = 0.0
    while yielding.input_pending() and waited < yielding.MAX_STEP:
        await asyncio.sleep(INPUT_POLL)
        waited += INPUT_POLL


class RefreshController:
    def __init__(self, app: GotuiApp, model: RefreshModel, interval: float,
                 first: Snapshot | None = None) -> None:
        self.app = app
        self.model = model
        self.first = first  # read before the app started: the first refresh shows it
        self.shown: Snapshot | None = None  # the last one shown
        self.chosen = min(max(interval, MIN_INTERVAL), MAX_INTERVAL)  # what the user asked
        self.interval = self.chosen  # what runs now
        self.adaptive = True  # False once the user picked an interval with + / -
        self.paused = False
        self.in_flight = False
        self.cost = 0.0  # CPU seconds of a refresh (smoothed)
        self.refreshes = 0
        self._timer: object | None = None
        self._due_at: float | None = None  # when the refresh being put off fell due
        self._cycle_from: tuple[float, float] | None = None  # last refresh's start: cpu, wall
        self._last_error = ""

    # ------------------------------------------------------------ when
    def start(self) -> None:
        self._schedule()

    def _schedule(self) -> None:
        self._due_at = None
        timer = self._timer
        if timer is not None:
            timer.stop()  # type: ignore[attr-defined]
        self._timer = self.app.set_timer(self.interval, self._tick)

    def _tick(self) -> None:
        yielding.settle()
        now = time.monotonic()
        if self._due_at is None:
            self._due_at = now
        wait = put_off(yielding.since_input(), now - self._due_at, self.interval)
        if wait > 0:
            self._timer = self.app.set_timer(wait, self._tick)
            return
        self._schedule()
        state = self.app.state
        # (a tick during a refresh is skipped: refreshes never run back to back by
        # themselves, only when something asked for a fresh view meanwhile)
        if state.running and not self.paused and not state.exited and not self.in_flight:
            self.refresh()

    def refresh(self) -> None:
        """Take a snapshot and show it; if one is on the way, another one after it (it
        may have been taken before what made us ask: a halt, ctrl+r)."""
        if self.app.closing:
            return
        if self.in_flight:
            self.again = True
            return
        self.again = False
        self.in_flight = True
        self.app.run_worker(self._refresh, group="refresh")

    def _newer_snapshot(self, halted: bool) -> Snapshot | None:
        """A snapshot someone else read since ours (the share server, pulling for its
        viewers): shown as is, the target is not read twice."""
        last = self.app.session.last_snapshot
        if (halted or last is None or last is self.shown or self.shown is None
                or last.taken_at <= self.shown.taken_at):
            return None
        return last

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        self.app.update_refresh_label()
        if not self.paused:
            self.refresh()

    def faster(self) -> None:
        self._choose(max(MIN_INTERVAL, self.interval / 2))

    def slower(self) -> None:
        self._choose(min(MAX_INTERVAL, self.interval * 2))

    def _choose(self, seconds: float) -> None:
        self.chosen = self.interval = seconds
        self.adaptive = False
        self._schedule()
        self.app.update_refresh_label()

    def label(self) -> str:
        """The interval part of the header's refresh label."""
        text = f"live every {self.interval:g}s"
        return text + " (adaptive)" if self.interval > self.chosen else text

    def _adapt(self, cost: float) -> None:
        self.refreshes += 1
        if self.refreshes <= LIVE_WARMUP:
            return
        self.cost = cost if not self.cost else (self.cost + cost) / 2
        if not self.adaptive:
            return
        need = self.cost / ADAPTIVE_SHARE
        step = live_step(max(self.chosen, need))
        if step > self.interval or (step < self.interval
                                    and need <= SHRINK_HEADROOM * live_step(need)):
            if step != self.interval:
                self.interval = step
                self._schedule()
                self.app.update_refresh_label()

    # ------------------------------------------------------------ the work
    async def _refresh(self) -> None:
        started, wall = time.process_time(), time.monotonic()
        since, self._cycle_from = self._cycle_from, (started, wall)
        try:
            done = await self._take_and_show()
        finally:
            self.in_flight = False
        if done:
            if not yielding.input_pending():
                return_freed_memory()  # a few ms at 1M goroutines; never ahead of a key
            cost = time.process_time() - started
            if since is not None and yielding.since_input() > wall - since[1]:
                cost = with_the_rest(cost, started - since[0], wall - since[1])
            self._adapt(cost)
        if self.again:
            self.refresh()

    @widgets_may_be_gone
    async def _take_and_show(self) -> bool:
        """One refresh; False if it failed (the error is shown once)."""
        app = self.app
        halted = not app.state.running
        header = app.main.header
        if halted:
            header.busy = header.busy or "listing goroutines"
        try:
            snap, self.first = self.first, None
            if snap is None or halted:
                snap = self._newer_snapshot(halted) or await app.session.snapshot()
            if snap is self.shown and not halted:
                return True  # a joiner's: the host sent nothing new since
            self.shown = snap
            first = not self.model.data.live
            touched = app.selection.goid
            parked = app.ebpf_view.model.parked_at
            view = await asyncio.to_thread(self.model.build, snap, app.index.settings,
                                           touched, not first, dict(parked) if parked else None)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            if message != self._last_error:
                self._last_error = message
                app.notify(f"refresh: {message}", severity="error", timeout=8)
            return False
        finally:
            if halted and header.busy == "listing goroutines":
                header.busy = ""
        self._last_error = ""
        await input_first()
        if app.closing:
            return False
        app.show_refresh(view)
        if not view.analysed:  # the list painted first; the rest follows
            painted = asyncio.Event()
            app.call_after_refresh(painted.set)
            await painted.wait()
            await app.main.mount_panes()
            await app.first_paint_done()
            view = await asyncio.to_thread(self.model.analyse, view, touched)
            if app.closing:
                return False
            app.show_refresh(view)
        return True
