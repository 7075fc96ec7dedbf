"""A Session halted under Delve shows one stack across cgo: C frames, the boundary,
then the Go frames Delve loses (stitched from the goroutine's own saved state)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backends import factory
from tests import gofixtures

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/root/go/bin/dlv").exists() and shutil.which("dlv") is None,
                       reason="dlv is not installed"),
]


async def test_halted_stack_of_a_goroutine_in_c_has_go_frames_below() -> None:
    exe = gofixtures.build("cgo_callback")
    with gofixtures.run(exe) as target:
        session = factory.attach_session(target.pid)
        await session.start()
        try:
            await session.halt()
            snap = await session.snapshot()
            g = next(g for g in snap.goroutines if g.start.function == "main.sleepNoFP")
            frames = await session.stack(g.id)
        finally:
            await session.close()
        assert gofixtures.wait_untraced(target.pid)
    names = [f.function.removeprefix("C.") for f in frames]
    kinds = [f.kind for f in frames]
    assert "c_sleep_nofp" in names
    i = names.index("runtime.asmcgocall")
    assert kinds[i] == "cgo"
    assert "c" in kinds[:i]
    assert names[i + 1:] == ["runtime.cgocall", "main._Cfunc_c_sleep_nofp", "main.sleepNoFP",
                             "runtime.goexit"]
