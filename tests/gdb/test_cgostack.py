"""Unit tests of backends/cgostack.py: classification, C frame naming, stitching.

The frame lists are the shapes measured on tests/fixtures/cgo_callback (Go 1.26):
gdb's native thread backtraces and Delve's goroutine stacks."""

from __future__ import annotations

import os
from pathlib import Path

from gotui.backends.cgostack import (
    BOUNDARY_NOTE,
    RawFrame,
    clean,
    library_for_pc,
    make_frame,
    read_maps,
    stitch,
)
from gotui.backends.model import NEEDS_STOP_NOTE, Frame, frame_kind

from tests import gofixtures


def F(function: str, pc: int) -> Frame:  # noqa: N802 - reads like a table row
    return Frame(function=function, pc=pc, kind=frame_kind(function.removeprefix("C.")
                                                           if function.startswith("C.")
                                                           else function))


SYSCALL_GO = [F("runtime.systemstack_switch", 0x48A7C8), F("runtime.cgocall", 0x484C7F),
              F("main._Cfunc_c_sleep_nofp", 0x4C141A), F("main.sleepNoFP", 0x4C15EB),
              F("runtime.goexit", 0x48C401)]
C_PART = [F("__GI___clock_nanosleep", 0x7F0000001000), F("__sleep", 0x7F0000002000),
          F("c_inner_nofp", 0x4C1A99), F("c_sleep_nofp", 0x4C1AB9),
          F("runtime.asmcgocall", 0x48C0A4)]


def names(frames: list[Frame]) -> list[str]:
    return [f.function for f in frames]


def test_make_frame_kinds_and_notes() -> None:
    boundary = make_frame(RawFrame(0x48C0A4, "runtime.asmcgocall", "asm_amd64.s", 995))
    assert boundary.kind == "cgo" and boundary.note == BOUNDARY_NOTE
    with_line = make_frame(RawFrame(0x4C1A99, "c_inner_nofp", "/src/nofp.c", 10))
    assert (with_line.kind, with_line.note, with_line.line) == ("c", "", 10)
    no_debug = make_frame(RawFrame(0x7F01, "nanosleep", "", 0, "/lib/x86_64-linux-gnu/libc.so.6",
                                   0x13))
    assert no_debug.kind == "c" and no_debug.note == "nanosleep+0x13 (libc.so.6)"
    unknown = make_frame(RawFrame(0x7F02, "", "", 0, "/usr/lib/libfoo.so", 0))
    assert unknown.function == "0x7f02" and unknown.note == "0x7f02 (libfoo.so)"
    assert make_frame(RawFrame(0x1, "main.main", "/src/main.go", 3)).kind == "go"


def test_stitch_goroutine_in_cgo_call_gdb_shape() -> None:
    # gdb (with gdbside's unwinder) already continues into the Go frames
    native = C_PART + SYSCALL_GO[1:]
    out = stitch(SYSCALL_GO, native)
    assert names(out) == names(C_PART) + names(SYSCALL_GO[1:])


def test_stitch_fills_delve_gap_after_asmcgocall() -> None:
    # Delve: `? -1 0x0` after asmcgocall, and cgocall/_Cfunc frames missing
    delve = C_PART + [Frame(function="", file="?", line=-1, pc=0),
                      F("main.sleepNoFP", 0x4C15EB), F("runtime.goexit", 0x48C401)]
    out = stitch(SYSCALL_GO, delve)
    assert names(out) == names(C_PART) + names(SYSCALL_GO[1:])
    assert all(f.pc for f in out)


def test_stitch_callback_parked_on_locked_thread() -> None:
    go = [F("runtime.gopark", 1), F("runtime.chanrecv1", 2), F("main.goCallback", 3),
          F("runtime.cgocallbackg", 4), F("runtime.cgocallback", 5), F("crosscall2", 6),
          Frame(function="0x1", pc=1)]  # frame-pointer walk runs off into g0's stack
    locked_thread = [F("runtime.futex", 10), F("runtime.stoplockedm", 11),
                     F("runtime.mcall", 12), F("crosscall2", 6), F("goCallback", 13),
                     F("c_call_back_fp", 14), F("runtime.asmcgocall", 15),
                     F("runtime.cgocall", 16), F("main.callbackFP", 17),
                     F("runtime.goexit", 18)]
    out = stitch(go, locked_thread)
    assert names(out) == ["runtime.gopark", "runtime.chanrecv1", "main.goCallback",
                          "runtime.cgocallbackg", "runtime.cgocallback", "crosscall2",
                          "goCallback", "c_call_back_fp", "runtime.asmcgocall",
                          "runtime.cgocall", "main.callbackFP", "runtime.goexit"]
    kinds = [f.kind for f in out]
    assert kinds[:3] == ["runtime", "runtime", "go"] and kinds[6:8] == ["c", "c"]


def test_stitch_running_go_prefers_native_and_keeps_go_tail() -> None:
    go = [F("main.work", 0x10), F("main.loop", 0x20), F("runtime.goexit", 0x30)]
    native = [F("main.inner", 0x5), F("main.work", 0x10)]  # unwind stopped early
    assert names(stitch(go, native)) == ["main.inner", "main.work", "main.loop",
                                         "runtime.goexit"]


def test_stitch_without_native_or_unrelated_native() -> None:
    go = [F("runtime.gopark", 1), F("main.f", 2), F("runtime.goexit", 3)]
    assert stitch(go, []) == go
    parked_thread = [F("runtime.futex", 9), F("runtime.mcall", 8), Frame(function="", pc=0)]
    assert stitch(go, parked_thread) == go


def test_clean_drops_unwound_garbage() -> None:
    frames = [F("c_f", 1), Frame(function="", file="?", line=-1, pc=0), F("main.g", 2)]
    assert names(clean(frames)) == ["c_f", "main.g"]


def test_library_for_pc_from_proc_maps() -> None:
    maps = read_maps(os.getpid())
    libc = next(m for m in maps if "libc" in m.path)
    assert library_for_pc(maps, libc.start + 1) == libc.path
    assert library_for_pc(maps, 1) == ""


def test_every_executable_mapping_is_read_through_map_files(basic_exe: Path) -> None:
    """Also a non-PIE Go binary at 0x400000, which /proc/<pid>/maps prints zero-padded
    (00400000-...) and map_files names without padding (400000-...)."""
    with gofixtures.run(basic_exe) as t:
        maps = read_maps(t.pid)
        exe = [m for m in maps if m.path == str(basic_exe)]
        assert exe and exe[0].start < 0x10000000  # the padded case
        for m in maps:
            assert m.source == f"/proc/{t.pid}/map_files/{m.start:x}-{m.end:x}", m
            assert os.path.samefile(m.source, m.path), m


def test_cfi_rules_of_c_with_and_without_frame_pointers() -> None:
    """fp.c keeps rbp (CFA from rbp), nofp.c is -O2 -fomit-frame-pointer (CFA from
    rsp); crosscall2's rule comes from Go's .debug_frame, with rbp at CFA-16."""
    from gotui.backends import cfi

    from tests import gofixtures

    tab = cfi.table(str(gofixtures.build("cgo_callback")))
    fp_lo, fp_hi = tab.symbols["c_call_back_fp"]
    nofp_lo, nofp_hi = tab.symbols["c_call_back_nofp"]
    body = [tab.rule(pc) for pc in range(fp_lo + 4, fp_hi - 2)]
    assert any(r is not None and r.cfa_reg == cfi.RBP for r in body)
    nofp = [tab.rule(pc) for pc in range(nofp_lo, nofp_hi - 1)]
    assert all(r is not None and r.cfa_reg == cfi.RSP and not r.go for r in nofp)
    lo, hi = tab.symbols["crosscall2"]
    inside = tab.rule(lo + (hi - lo) // 2)
    assert inside is not None and inside.go and inside.cfa_offset > 16
    assert inside.rbp_offset == -16
    assert tab.rule(0) is None


def test_cfi_unwind_walks_a_fake_stack_and_stops() -> None:
    from gotui.backends import cfi

    from tests import gofixtures

    tab = cfi.table(str(gofixtures.build("cgo_callback")))
    lo, hi = tab.symbols["c_call_back_nofp"]
    pc = next(p for p in range(lo, hi) if (r := tab.rule(p)) and r.cfa_offset == 16)
    sp = 0x10000
    stack = {sp + 8: 0x4242}  # CFA = sp + 16: the return address at CFA - 8
    frames = cfi.unwind(stack.get, lambda _pc: (tab, 0), pc, sp, 0, lambda p: p == 0x4242)
    assert [(f.pc, f.sp) for f in frames] == [(pc, sp), (0x4242, sp + 16)]
    # memory that cannot be read ends the walk instead of inventing frames
    assert len(cfi.unwind({}.get, lambda _pc: (tab, 0), pc, sp, 0, lambda p: False)) == 1
    assert tab.symbol_at(lo + 3) == ("c_call_back_nofp", 3)


def test_live_c_frames_need_a_stop_when_the_thread_is_not_readable() -> None:
    import os

    from gotui.backends.live.cgo_thread import with_c_frames
    from gotui.backends.model import Frame

    go = [Frame("runtime.cgocall", kind="cgo"), Frame("main.f", kind="go")]
    out = with_c_frames(os.getpid(), 999_999_999, "/nonexistent", go)
    assert [f.function for f in out] == ["runtime.cgocall", "main.f"]
    assert NEEDS_STOP_NOTE in out[0].note and go[0].note == ""
    parked = [Frame("runtime.gopark", kind="runtime")]
    assert with_c_frames(os.getpid(), 1, "/nonexistent", parked) == parked
