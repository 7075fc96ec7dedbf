"""A Session halted under Delve shows one stack across cgo: C frames, the boundary,
then the Go frames Delve loses (stitched from the goroutine's own saved state)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gotui.backends import factory

from tests import gofixtures
from tests.needs import requires_dlv

pytestmark = [
    pytest.mark.integration,
    requires_dlv,
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


async def test_halted_stack_of_a_parked_callback_has_the_c_frames_in_the_middle() -> None:
    """C calls back into Go, which parks: Go frames above, then crosscall2 and the C
    caller (Delve leaves them out; read from the locked M's g0 stack), then the Go
    frames that made the cgo call. For C with and without frame pointers."""
    exe = gofixtures.build("cgo_callback")
    with gofixtures.run(exe) as target:
        session = factory.attach_session(target.pid)
        await session.start()
        try:
            await session.halt()
            snap = await session.snapshot()
            stacks = {}
            for start in ("main.callbackFP", "main.callbackNoFP"):
                g = next(g for g in snap.goroutines if g.start.function == start)
                stacks[start] = await session.stack(g.id)
        finally:
            await session.close()
        assert gofixtures.wait_untraced(target.pid) and gofixtures.making_progress(target.pid)
    for start, c_caller in (("main.callbackFP", "c_call_back_fp"),
                            ("main.callbackNoFP", "c_call_back_nofp")):
        frames = stacks[start]
        names = [f.function.removeprefix("C.") for f in frames]
        assert names.index("main.goCallback") < names.index("runtime.cgocallback") \
            < names.index("crosscall2") < names.index(c_caller) \
            < names.index("runtime.asmcgocall") < names.index(start)
        assert names[-2:] == [start, "runtime.goexit"]
        assert frames[names.index(c_caller)].kind == "c"
        assert frames[names.index("crosscall2")].kind == "cgo"
        assert frames[names.index("main.goCallback")].kind == "go"


async def test_live_stack_of_a_goroutine_in_c_reads_the_c_frames_without_a_stop() -> None:
    """No debugger: the thread blocked in C (sleep) is read from
    /proc/<pid>/task/<tid>/syscall + CFI, for C with and without frame pointers."""
    exe = gofixtures.build("cgo_callback")
    with gofixtures.run(exe) as target:
        session = factory.attach_session(target.pid)
        await session.start()
        try:
            snap = await session.snapshot()
            stacks = {}
            for start in ("main.sleepFP", "main.sleepNoFP"):
                g = next(g for g in snap.goroutines if g.start.function == start)
                assert g.thread_id > 0
                stacks[start] = (g.thread_id, await session.stack(g.id))
            assert not session.has_stop_backend
            assert gofixtures.tracer_pid(target.pid) == 0
        finally:
            await session.close()
    for start, inner in (("main.sleepFP", "c_inner_fp"), ("main.sleepNoFP", "c_inner_nofp")):
        tid, frames = stacks[start]
        names = [f.function for f in frames]
        assert names.index("sleep") < names.index(inner) < names.index(
            "runtime.asmcgocall.abi0") < names.index(start)
        assert names[-1] == "runtime.goexit"
        libc = frames[names.index("sleep")]
        assert libc.kind == "c" and libc.note.startswith("sleep+0x") and "libc" in libc.note
        assert f"thread {tid}" in libc.note and "best-effort" in libc.note


async def test_live_c_frames_read_the_library_mapped_not_the_file_now_on_disk(
        tmp_path: Path) -> None:
    """A library upgraded under a running service: the target runs a private copy of
    libc that is then replaced on disk by another file. The C frames come from the
    mapped file (/proc/<pid>/map_files), so libc's `sleep` is still named."""
    libc = Path("/lib/x86_64-linux-gnu/libc.so.6")
    if not libc.exists():
        pytest.skip(f"{libc} not found on this machine")
    copy = tmp_path / "libc.so.6"
    shutil.copy(libc, copy)
    exe = gofixtures.build("cgo_callback")
    with gofixtures.run(exe, env={"LD_LIBRARY_PATH": str(tmp_path)}) as target:
        maps = Path(f"/proc/{target.pid}/maps").read_text()
        assert str(copy) in maps  # it runs our copy
        copy.unlink()
        shutil.copy("/bin/ls", copy)  # the "upgrade": another ELF file at that path
        session = factory.attach_session(target.pid)
        await session.start()
        try:
            snap = await session.snapshot()
            g = next(g for g in snap.goroutines if g.start.function == "main.sleepFP")
            names = [f.function for f in await session.stack(g.id)]
        finally:
            await session.close()
    assert names.index("sleep") < names.index("c_inner_fp") < names.index("main.sleepFP")
