"""Every way out of the gdb backend leaves the target untraced and running."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from gotui.backends.gdb import GdbBackend

from tests import gofixtures
from tests.gdb.conftest import attached

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]


def assert_released(pid: int) -> None:
    assert gofixtures.wait_untraced(pid, timeout=10), "target still traced"
    assert gofixtures.making_progress(pid), "target not making progress"


async def wait_running(b: GdbBackend) -> None:
    for _ in range(250):
        if (await b.state()).running:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("target never reported running")


async def test_detach_while_halted(basic_target: gofixtures.Target) -> None:
    b = await attached(basic_target.pid)
    assert gofixtures.tracer_pid(basic_target.pid) == b.gdb_pid
    await b.detach()
    assert_released(basic_target.pid)
    await b.detach()  # idempotent


async def test_detach_while_running(basic_target: gofixtures.Target) -> None:
    b = await attached(basic_target.pid)
    task = asyncio.create_task(b.cont())
    await wait_running(b)
    await b.detach()
    assert_released(basic_target.pid)
    await asyncio.wait_for(task, 10)


async def test_detach_with_kill_ends_the_target(basic_target: gofixtures.Target) -> None:
    b = await attached(basic_target.pid)
    await b.detach(kill=True)
    assert basic_target.proc.wait(timeout=10) != 0


async def test_sigkill_of_gdb(basic_target: gofixtures.Target) -> None:
    b = await attached(basic_target.pid)
    os.kill(b.gdb_pid, signal.SIGKILL)
    assert_released(basic_target.pid)
    await b.detach()  # no error: gdb is already gone
    assert_released(basic_target.pid)


@pytest.mark.parametrize("mode", ["halted", "running"])
def test_sigkill_of_the_python_driver(basic_target: gofixtures.Target, mode: str) -> None:
    driver = subprocess.Popen(
        [sys.executable, "-m", "tests.gdb.gdb_driver", str(basic_target.pid), mode],
        cwd=gofixtures.ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert driver.stdout is not None
        line = driver.stdout.readline()
        assert line.startswith("ATTACHED"), line
        gdb_pid = int(line.split()[1])
        assert gofixtures.tracer_pid(basic_target.pid) == gdb_pid
        driver.kill()
        driver.wait(timeout=10)
        assert_released(basic_target.pid)
        with pytest.raises(ProcessLookupError):  # gdb followed its parent out
            for _ in range(100):
                os.kill(gdb_pid, 0)
                time.sleep(0.05)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
