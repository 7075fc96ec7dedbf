"""Every way out removes every probe and BPF program: close(), an exception, and a
SIGKILLed tracer process (BCC's perf_event uprobes go away with their fds)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from gotui.backends.ebpf.trace import Tracer
from gotui.backends.model import GotuiError

from tests import gofixtures
from tests.ebpf.conftest import alive_and_untraced, collect

ROOT = Path(__file__).resolve().parent.parent.parent
UPROBE_EVENTS = Path("/sys/kernel/tracing/uprobe_events")
OUR_PROGS = ("on_created", "on_exited", "on_blocked", "on_unblocked", "on_calibrate", "on_tp_0")


def our_programs() -> set[int]:
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return {p["id"] for p in json.loads(out) if p.get("name") in OUR_PROGS}


def uprobes_of(pid_exe: str) -> list[str]:
    return [ln for ln in UPROBE_EVENTS.read_text().splitlines() if pid_exe in ln]


def test_close_and_exceptions_remove_everything(need_bpf: None) -> None:
    exe = gofixtures.build("basic")
    before_progs = our_programs()
    before_events = UPROBE_EVENTS.read_text()
    with gofixtures.run(exe) as target:
        with Tracer(target.pid, deep=True) as tracer:
            tracer.add_tracepoint("main.hot", "i >= 0")
            assert len(our_programs() - before_progs) >= 5
            assert [e for e in collect(tracer, 1) if e.type == "tracepoint"]
        assert our_programs() <= before_progs
        with pytest.raises(GotuiError), Tracer(target.pid) as tracer:
            tracer.add_tracepoint("main.hot", "nope == 1")
        assert our_programs() <= before_progs
        assert UPROBE_EVENTS.read_text() == before_events
        assert alive_and_untraced(target.pid) and gofixtures.making_progress(target.pid)


def test_sigkilled_tracer_leaves_nothing(need_bpf: None) -> None:
    exe = gofixtures.build("basic")
    before_progs = our_programs()
    before_events = UPROBE_EVENTS.read_text()
    script = textwrap.dedent("""
        import sys, time
        from gotui.backends.ebpf.trace import Tracer
        t = Tracer(int(sys.argv[1]), deep=True)
        t.start()
        t.add_tracepoint("main.hot", "i >= 0")
        n = 0
        while n < 5:
            n += sum(e.type == "tracepoint" for e in t.poll(0.1))
        print("ATTACHED", flush=True)
        time.sleep(600)
    """)
    with gofixtures.run(exe) as target:
        tracer = subprocess.Popen([sys.executable, "-c", script, str(target.pid)], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert tracer.stdout is not None
            assert tracer.stdout.readline().strip() == "ATTACHED"
            assert len(our_programs() - before_progs) >= 5
        finally:
            os.kill(tracer.pid, signal.SIGKILL)
            tracer.wait(timeout=30)
        assert our_programs() <= before_progs
        assert UPROBE_EVENTS.read_text() == before_events
        assert alive_and_untraced(target.pid) and gofixtures.making_progress(target.pid)
