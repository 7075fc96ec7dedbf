"""A headless share never leaves the target halted with nobody at the wheel.

If the target is halted (a breakpoint, a halt, a step) and no driver is connected, it
is resumed after `delay` seconds; viewers are told when the countdown starts, and when
it fires. A driver taking the wheel, or the target running again, cancels it. Only
headless shares need this: at a TUI host, the person at the host is always the driver.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from gotui.backends.session import Session


class UnattendedResume:
    def __init__(self, session: Session, delay: float,
                 announce: Callable[[str], None]) -> None:
        self.session = session
        self.delay = delay
        self.announce = announce
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> bool:
        return self._task is not None and not self._task.done()

    def _halted(self) -> bool:
        s = self.session
        return (s.has_stop_backend and not s.state.running and not s.state.exited
                and not s.post_mortem)

    def update(self, driver_present: bool) -> None:
        """Call on every change of the run state or of who drives."""
        if self._halted() and not driver_present:
            if not self.pending:
                self.announce(f"nobody drives and the target is halted: it will be "
                              f"resumed in {self.delay:g} s unless a driver takes the wheel")
                self._task = asyncio.get_running_loop().create_task(self._countdown())
        elif self.pending:
            self.cancel()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _countdown(self) -> None:
        await asyncio.sleep(self.delay)
        self._task = None  # done counting: the resume below must not cancel itself
        if not self._halted():
            return
        self.announce(f"nobody drove for {self.delay:g} s: resuming the target")
        with contextlib.suppress(Exception):  # a failure is published by the session
            await self.session.cont()
