"""C libraries built with real compiler flags, blocked in sleep(), seen by every source.

tests/fixtures/cgo_flags: fp (-O2 -fno-omit-frame-pointer -g), nofp (-O2
-fomit-frame-pointer -g), nodebug (-O2 -fomit-frame-pointer -g0). Each view must give
one stack: libc's sleep, the library's two C frames, the cgo boundary, then the Go
frames; C frames with file:line where there is debug info, `name+0xoff (library)`
where there is none. The live reader reads them without stopping anything."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from gotui.backends import factory
from gotui.backends.model import Frame

from tests import gofixtures
from tests.needs import requires_dlv

pytestmark = [pytest.mark.integration]
LIBS = {"main.inFP": "fp", "main.inNoFP": "nofp", "main.inNoDebug": "nodebug"}


@pytest.fixture(scope="module")
def target() -> Iterator[gofixtures.Target]:
    with gofixtures.run(gofixtures.build("cgo_flags")) as t:
        yield t


async def stacks_from(pid: int, backend: str) -> dict[str, list[Frame]]:
    session = factory.attach_session(pid, backend="gdb" if backend == "gdb" else "delve")
    await session.start()
    try:
        if backend != "live":
            st = await session.halt()
            assert not st.running, f"{backend} did not halt"
        snap = await session.snapshot()
        out = {}
        for g in snap.goroutines:
            if g.start.function in LIBS:
                out[g.start.function] = await session.stack(g.id)
        if backend == "live":
            assert not session.has_stop_backend
            assert gofixtures.tracer_pid(pid) == 0
        return out
    finally:
        await session.close()
        assert gofixtures.wait_untraced(pid) and gofixtures.making_progress(pid)


def check(start: str, frames: list[Frame], *, lines: bool) -> None:
    lib = LIBS[start]
    names = [f.function.removeprefix("C.") for f in frames]
    i_sleep = max(i for i, n in enumerate(names) if n.endswith("sleep") and "nano" not in n)
    i_inner, i_outer = names.index(f"{lib}_inner"), names.index(f"{lib}_outer")
    i_asm = next(i for i, n in enumerate(names) if n.startswith("runtime.asmcgocall"))
    assert i_sleep < i_inner < i_outer < i_asm < names.index(f"cgo_flags/{lib}.Sleep") \
        < names.index(start) < len(names) - 1
    assert names[-1] == "runtime.goexit"
    assert frames[i_sleep].kind == "c" and frames[i_inner].kind == "c"
    assert frames[i_asm].kind == "cgo" and frames[i_asm].note == "cgo boundary"
    inner = frames[i_inner]
    if lines and lib != "nodebug":
        assert inner.file.endswith(f"{lib}/lib.c") and inner.line > 0
    else:
        assert not inner.file and inner.note.startswith(f"{lib}_inner+0x")
        assert "(cgo_flags)" in inner.note


async def test_live_reader_reads_the_c_frames_without_a_stop(
        target: gofixtures.Target) -> None:
    stacks = await stacks_from(target.pid, "live")
    assert set(stacks) == set(LIBS)
    for start, frames in stacks.items():
        check(start, frames, lines=False)
        libc = next(f for f in frames if f.function == "sleep")
        assert libc.note.startswith("sleep+0x") and "(libc.so.6)" in libc.note
        assert "best-effort" in libc.note


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")
async def test_gdb_stitches_every_library(target: gofixtures.Target) -> None:
    stacks = await stacks_from(target.pid, "gdb")
    assert set(stacks) == set(LIBS)
    for start, frames in stacks.items():
        check(start, frames, lines=True)


@requires_dlv
async def test_delve_stacks_keep_c_frames_without_debug_info(
        target: gofixtures.Target) -> None:
    """Delve names C frames without DWARF "" (and gotui's stitching used to drop them):
    they come back from the thread's registers + CFI."""
    stacks = await stacks_from(target.pid, "delve")
    assert set(stacks) == set(LIBS)
    for start, frames in stacks.items():
        check(start, frames, lines=True)
    nodebug = stacks["main.inNoDebug"]
    inner = next(f for f in nodebug if f.function == "nodebug_inner")
    assert "registers (CFI)" in inner.note


async def test_live_snapshot_with_stacks_has_the_c_frames(target: gofixtures.Target) -> None:
    snap = await factory.take_snapshot(target.pid, source="live", stacks=True)
    assert snap.target_paused_ns == 0 and gofixtures.tracer_pid(target.pid) == 0
    by_start = {g.start.function: g for g in snap.goroutines}
    for start in LIBS:
        check(start, by_start[start].stack, lines=False)
