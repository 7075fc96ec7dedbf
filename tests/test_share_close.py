"""Shutting down a shared session after a signal: the pieces behind the fix for
`gotui share --headless` staying attached after SIGINT/SIGTERM/SIGHUP (the end-to-end
check is tests/e2e/test_reliability.py::test_headless_signals_with_breakpoint)."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from gotui.tui import cli

from tests.remote.conftest import make_host

HANG_S = 10.0  # upper bound for something that must finish; a hang detector, not a timing


async def test_server_close_when_the_pull_loop_is_woken_at_the_same_time() -> None:
    """The snapshot loop waits for its wake-up event with a timeout. Setting it and
    cancelling the loop in the same tick is what a state change during close does;
    with asyncio.wait_for on Python 3.11 the cancel was swallowed and close() waited
    for the loop forever."""
    host = await make_host(interval=60.0)  # the loop then sits in its wait
    try:
        async with asyncio.timeout(HANG_S):
            while host.server.published < 1:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        host.server.snapshots.wake()
        closing = asyncio.ensure_future(host.server.close())
        done, _ = await asyncio.wait({closing}, timeout=HANG_S)
        if not done:
            for task in list(host.server._tasks):  # let the loop end for teardown
                task.cancel()
        assert done, "ShareServer.close() hung on its snapshot loop"
    finally:
        await host.session.close()


class _StuckServer:
    def __init__(self) -> None:
        self.never = asyncio.Event()
        self.closing: asyncio.Task[Any] | None = None

    async def close(self) -> None:
        self.closing = asyncio.current_task()
        await self.never.wait()


async def test_close_server_gives_up_on_a_stuck_close() -> None:
    server = _StuckServer()
    await asyncio.wait_for(cli.close_server(server), HANG_S)
    assert server.closing is not None and not server.closing.done()
    server.never.set()
    await server.closing


async def test_close_server_reports_no_error() -> None:
    class Failing:
        async def close(self) -> None:
            raise OSError("socket already gone")

    await cli.close_server(Failing())  # the target's release comes next: no raise


@pytest.mark.parametrize("sig", cli.EXIT_SIGNALS)
async def test_exit_signals_calls_leave_and_arms_the_watchdog(
        sig: signal.Signals, monkeypatch: pytest.MonkeyPatch) -> None:
    armed: list[bool] = []
    monkeypatch.setattr(cli, "arm_exit_watchdog", lambda: armed.append(True))
    loop = asyncio.get_running_loop()
    got: asyncio.Future[str] = loop.create_future()
    before = signal.getsignal(sig)
    with cli.exit_signals(loop, got.set_result):
        os.kill(os.getpid(), sig)
        assert await asyncio.wait_for(got, HANG_S) == sig.name
    assert armed == [True]
    assert signal.getsignal(sig) is before
