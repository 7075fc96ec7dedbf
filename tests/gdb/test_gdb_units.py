"""Unit tests of the gdb backend's pure parts: MI/JSON conversion, hit conditions."""

from __future__ import annotations

from typing import Any

import pytest
from gotui.backends.gdb import convert
from gotui.backends.gdb.backend import _breakpoint, _ignore_count
from gotui.backends.model import GotuiError


def raw(pc: int, function: str, file: str = "", line: int = 0, lib: str = "",
        off: int = 0) -> list[Any]:
    return [pc, function, file, line, lib, off]


DUMP: dict[str, Any] = {
    "goroutines": [
        {"id": 7, "status": 3, "wait_reason": "", "waitsince": 0, "gopc": 0x10,
         "startpc": 0x20, "parent_id": 1, "thread": 101, "locked_thread": 0,
         "go_frames": [raw(0x30, "runtime.systemstack_switch"), raw(0x31, "runtime.cgocall"),
                       raw(0x32, "main.sleepy", "/m.go", 9), raw(0x33, "runtime.goexit")],
         "go_statement": raw(0x10, "main.main", "/m.go", 3),
         "start": raw(0x20, "main.sleepy", "/m.go", 8), "waiting": []},
        {"id": 8, "status": 4, "wait_reason": "chan receive", "waitsince": 5, "gopc": 0,
         "startpc": 0, "parent_id": 1, "thread": 0, "locked_thread": 0,
         "go_frames": [raw(0x40, "runtime.gopark"), raw(0x41, "main.recv", "/m.go", 20)],
         "go_statement": None, "start": None,
         "waiting": [{"chan": 0xC000, "len": 1, "cap": 4, "closed": 0, "is_select": 0,
                      "elemsize": 8}]},
    ],
    "threads": [
        {"lwp": 101, "num": 2, "frames": [
            raw(0x7F00, "nanosleep", "", 0, "/lib/libc.so.6", 0x15),
            raw(0x50, "c_sleep", "/c.c", 4), raw(0x60, "runtime.asmcgocall"),
            raw(0x31, "runtime.cgocall")]},
    ],
}


def test_goroutines_from_dump_stitch_and_block() -> None:
    gs = {g.id: g for g in convert.goroutines(DUMP, live_clock=False)}
    g7 = gs[7]
    assert g7.status == "syscall" and g7.thread_id == 101 and g7.wait_reason == ""
    assert [f.function for f in g7.stack] == ["nanosleep", "c_sleep", "runtime.asmcgocall",
                                              "runtime.cgocall", "main.sleepy",
                                              "runtime.goexit"]
    assert g7.stack[0].note == "nanosleep+0x15 (libc.so.6)"
    assert g7.current.function == "nanosleep" and g7.user_current.function == "main.sleepy"
    assert g7.go_statement.function == "main.main" and g7.start.line == 8
    g8 = gs[8]
    assert g8.wait_reason == "chan receive" and g8.wait_ns == 0  # no clock for cores
    assert g8.blocked_on is not None and (g8.blocked_on.chan, g8.blocked_on.op) == \
        ("0xc000", "recv")
    [ch] = convert.channels(DUMP, list(gs.values()))
    assert (ch.addr, ch.len, ch.cap, ch.closed, ch.receivers) == ("0xc000", 1, 4, False, [8])
    assert convert.goroutines(DUMP, live_clock=False, stacks=False)[0].stack == []


def test_hit_conditions_map_to_ignore_counts() -> None:
    assert _ignore_count("") == 0
    assert _ignore_count("> 5") == 5
    assert _ignore_count(">= 5") == 4
    with pytest.raises(GotuiError, match="hit conditions"):
        _ignore_count("% 3")


def test_breakpoint_from_mi() -> None:
    bp = _breakpoint({"number": "3", "func": "main.hot", "fullname": "/src/main.go",
                      "line": "39", "cond": "i == 5", "enabled": "n", "times": "2",
                      "addr": "0x4f3284"})
    assert (bp.id, bp.function, bp.file, bp.line, bp.cond, bp.enabled, bp.total_hits,
            bp.addrs) == (3, "main.hot", "/src/main.go", 39, "i == 5", False, 2, [0x4F3284])
