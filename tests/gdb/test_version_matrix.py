"""Stitched cgo stacks on other Go releases (runtime layouts and asm differ)."""

from __future__ import annotations

import shutil

import pytest

from tests import gofixtures
from tests.gdb.conftest import attached

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

EXPECTED = {
    "main.sleepNoFP": ["c_inner_nofp", "c_sleep_nofp", "runtime.asmcgocall",
                       "main._Cfunc_c_sleep_nofp", "main.sleepNoFP", "runtime.goexit"],
    "main.sleepFP": ["c_inner_fp", "c_sleep_fp", "runtime.asmcgocall",
                     "main._Cfunc_c_sleep_fp", "main.sleepFP", "runtime.goexit"],
    "main.callbackFP": ["main.goCallback", "runtime.cgocallback", "crosscall2",
                        "c_call_back_fp", "runtime.asmcgocall", "runtime.cgocall",
                        "main.callbackFP", "runtime.goexit"],
    "main.callbackNoFP": ["main.goCallback", "runtime.cgocallback", "crosscall2",
                          "c_call_back_nofp", "runtime.asmcgocall", "runtime.cgocall",
                          "main.callbackNoFP", "runtime.goexit"],
}


def in_order(stack: list[str], wanted: list[str]) -> bool:
    it = iter(stack)
    return all(any(name == w for name in it) for w in wanted)


@pytest.mark.parametrize("toolchain", ["go1.19", "go1.27"])
async def test_cgo_stacks_on_other_go_versions(toolchain: str) -> None:
    gofixtures.need_toolchain(toolchain)
    exe = gofixtures.build("cgo_callback", toolchain=toolchain)
    with gofixtures.run(exe) as target:
        b = await attached(target.pid)
        try:
            snap = await b.snapshot(stacks=True)
        finally:
            await b.detach()
        assert gofixtures.wait_untraced(target.pid)
    assert snap.go_version.startswith(toolchain)
    by_start = {g.start.function: [f.function for f in g.stack] for g in snap.goroutines}
    for start, wanted in EXPECTED.items():
        assert in_order(by_start[start], wanted), (start, by_start[start])
