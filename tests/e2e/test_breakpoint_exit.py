"""Leaving while a breakpoint is armed on a hot function (main.hot runs every ms, its
condition is never true, so Delve traps and resumes it all the time): the target must
come out untraced, running, alive, and with its code as in the binary (no int3 left)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tests.e2e.terminal import quit_dialog_enter, traced_by_dlv
from tests.gofixtures import Target, making_progress, tracer_pid, wait_untraced
from tests.tmux import TmuxSession

pytestmark = [pytest.mark.e2e, pytest.mark.integration,
              pytest.mark.usefixtures("need_tmux", "need_dlv")]

HOT = "main.hot"


def code_in_file_and_memory(pid: int, exe: Path, function: str) -> tuple[bytes, bytes]:
    """The bytes of `function` in the executable and in the process (non-PIE binary)."""
    with exe.open("rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        assert symtab is not None, "fixture built without a symbol table"
        [sym] = symtab.get_symbol_by_name(function)
        addr, size = sym["st_value"], sym["st_size"]
        text = elf.get_section_by_name(".text")
        f.seek(text["sh_offset"] + addr - text["sh_addr"])
        in_file = f.read(size)
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(addr)
        in_memory = mem.read(size)
    return in_file, in_memory


def breakpoint_seen(target: Target, within: float = 5.0) -> bool:
    """Delve takes its int3 out for a moment each time it steps the target past it, so
    look a few times."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        in_file, in_memory = code_in_file_and_memory(target.pid, target.exe, HOT)
        if in_file != in_memory:
            return True
        time.sleep(0.05)
    return False


def type_slowly(tui: TmuxSession, text: str) -> None:
    """Type into a form field and wait until it shows. (A burst of keys typed across
    fields is tested in tests/tui/test_forms.py; here each step is checked on screen.)"""
    tui.send_text(text)
    tui.wait_for(text, timeout=10)
    time.sleep(0.3)


@pytest.fixture
def armed_tui(gotui: Path, basic_target: Target) -> Iterator[TmuxSession]:
    with TmuxSession([str(gotui), "attach", str(basic_target.pid), "--delve", "--no-ebpf"]) as tui:
        tui.wait_for("RUNNING")
        tui.wait_for("main.receiver")
        tui.send_keys("b")
        tui.wait_for("New breakpoint")
        type_slowly(tui, HOT)
        tui.send_keys("Tab")
        type_slowly(tui, "i < 0")
        location_line = next(ln for ln in tui.capture().splitlines() if HOT in ln)
        assert "i < 0" not in location_line, "the condition went into the location field"
        tui.send_keys("Enter")
        tui.wait_gone("New breakpoint", timeout=15)
        assert breakpoint_seen(basic_target), "no breakpoint instruction in main.hot"
        assert traced_by_dlv(basic_target.pid, tui.pid)
        assert making_progress(basic_target.pid), "a false condition must not stop it"
        yield tui


EXITS: dict[str, Callable[[TmuxSession], None]] = {
    "q-enter": quit_dialog_enter,
    "SIGTERM": lambda tui: os.kill(tui.pid, signal.SIGTERM),
    "SIGKILL-gotui": lambda tui: os.kill(tui.pid, signal.SIGKILL),
    "terminal-closed": lambda tui: tui.close(),
}


@pytest.mark.parametrize("way_out", list(EXITS))
def test_exit_with_hot_breakpoint(way_out: str, armed_tui: TmuxSession,
                                  basic_target: Target) -> None:
    pid = basic_target.pid
    EXITS[way_out](armed_tui)
    assert wait_untraced(pid, timeout=15), f"still traced by {tracer_pid(pid)}"
    assert making_progress(pid, within=5.0), "target not running"
    time.sleep(1.0)  # a stray int3 or SIGTRAP would have killed it by now
    assert basic_target.proc.poll() is None, "target died after the release"
    in_file, in_memory = code_in_file_and_memory(pid, basic_target.exe, HOT)
    assert in_memory == in_file, "breakpoint instructions left in main.hot"
