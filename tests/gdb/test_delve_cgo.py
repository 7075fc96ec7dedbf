"""What Delve returns for stacks across cgo, and what backends.cgostack fills in.

Measured on tests/fixtures/cgo_callback (Go 1.26, dlv 1.27): for a goroutine blocked in
C, Delve's stack has a bogus frame (pc 0, no function) right after runtime.asmcgocall,
and may skip runtime.cgocall and the _Cfunc_ stub. stitch(go_part, delve_frames) repairs
it from the goroutine's own Go frames (here taken from gdb, as the live reader's
g.sched walk would give them)."""

from __future__ import annotations

import shutil

import pytest
from gotui.backends.cgostack import ASMCGOCALL, stitch
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.model import Frame

from tests import gofixtures
from tests.gdb.conftest import attached
from tests.needs import requires_dlv

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed"),
    requires_dlv,
]


def names(frames: list[Frame]) -> list[str]:
    return [f.function.removeprefix("C.") for f in frames]


def go_part(frames: list[Frame]) -> list[Frame]:
    """Frames below runtime.asmcgocall: what a g.sched walk yields."""
    i = next(i for i, f in enumerate(frames) if f.function in ASMCGOCALL)
    return frames[i + 1:]


async def test_stitch_repairs_delve_stacks_of_goroutines_in_c(
        cgo_target: gofixtures.Target) -> None:
    gdb = await attached(cgo_target.pid)
    try:
        by_gdb = {g.id: g for g in (await gdb.snapshot(stacks=True)).goroutines}
    finally:
        await gdb.detach()
    assert gofixtures.wait_untraced(cgo_target.pid)

    dlv = DelveBackend.for_pid(cgo_target.pid, check_go_version=False)
    await dlv.start()
    try:
        by_dlv = {g.id: g for g in (await dlv.snapshot(stacks=True)).goroutines}
    finally:
        await dlv.detach()
    assert gofixtures.wait_untraced(cgo_target.pid)

    for start in ("main.sleepNoFP", "main.sleepFP"):
        g = next(g for g in by_gdb.values() if g.start.function == start)
        delve_stack = by_dlv[g.id].stack
        assert "runtime.asmcgocall" in names(delve_stack)
        repaired = stitch(go_part(g.stack), delve_stack)
        assert all(f.pc and f.function for f in repaired)
        tail = names(repaired)[names(repaired).index("runtime.asmcgocall"):]
        assert tail == names(g.stack)[names(g.stack).index("runtime.asmcgocall"):]
        assert "runtime.cgocall" in tail and tail[-1] == "runtime.goexit"
