"""Found in the audit: a driver's text reached gdb's MI channel unchecked.

A driver may drive the target but is not root on the host. An expression, condition or
location with a newline ended the MI command and started another line, which gdb takes
as a CLI command: `shell ...` ran as root (real gdb, real target)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from gotui.backends.gdb import GdbBackend
from gotui.backends.model import Breakpoint, GotuiError

from tests import gofixtures

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb missing")]


@pytest.fixture
async def gdb(target: gofixtures.Target) -> AsyncIterator[GdbBackend]:
    b = GdbBackend.for_pid(target.pid)
    await b.start()  # gdb holds the target halted after the attach
    try:
        yield b
    finally:
        await b.detach()


async def test_driver_text_never_becomes_a_gdb_command(gdb: GdbBackend,
                                                       tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    shell = f"shell touch {marker} #"
    attempts = [
        lambda: gdb.eval(f"1\n{shell}"),
        lambda: gdb.create_breakpoint(Breakpoint(function=f"main.hot\n{shell}")),
        lambda: gdb.create_breakpoint(Breakpoint(function="main.hot", cond=f"i > 1\n{shell}")),
    ]
    for attempt in attempts:
        with pytest.raises(GotuiError):
            await attempt()
        assert not marker.exists()
    bp = await gdb.create_breakpoint(Breakpoint(function="main.hot"))
    bp.cond = f"i > 1\n{shell}"
    with pytest.raises(GotuiError):
        await gdb.amend_breakpoint(bp)
    assert not marker.exists()
    # ordinary text still works
    assert (await gdb.eval("1+1")).value == "2"
