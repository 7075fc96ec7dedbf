"""`gotui attach` loads the lifecycle probes in a real terminal; SIGTERM and SIGKILL of
gotui leave no probe and no BPF program behind, and the target running untraced.
(q is covered in-process by test_session_feed.py.) `--no-ebpf` loads nothing and
says so in one line."""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from tests import gofixtures
from tests.e2e.conftest import GOTUI
from tests.e2e.terminal import attach, quit_dialog_enter
from tests.ebpf.conftest import alive_and_untraced, wait_for
from tests.ebpf.test_cleanup import UPROBE_EVENTS, our_programs


@pytest.fixture
def need_tmux() -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed on this machine (make setup installs it)")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_signalled_gotui_leaves_no_probes(need_bpf: None, need_tmux: None,
                                          sig: signal.Signals) -> None:
    exe = gofixtures.build("basic")
    before_progs = our_programs()
    before_events = UPROBE_EVENTS.read_text()
    with gofixtures.run(exe) as target, attach(GOTUI, target.pid, ebpf=True) as tui:
        tui.wait_for("RUNNING", timeout=60)
        tui.wait_for("eBPF ~", timeout=60)  # the status line once probes are attached
        assert len(our_programs() - before_progs) >= 2
        os.kill(tui.pid, sig)
        assert wait_for(lambda: not (our_programs() - before_progs), 20), \
            f"BPF programs left after {sig.name}"
        assert UPROBE_EVENTS.read_text() == before_events
        assert alive_and_untraced(target.pid) and gofixtures.making_progress(target.pid)


def test_no_ebpf_flag_loads_nothing_and_says_so(need_tmux: None) -> None:
    exe = gofixtures.build("basic")
    before_progs = our_programs() if shutil.which("bpftool") else set()
    with gofixtures.run(exe) as target, attach(GOTUI, target.pid, "--no-ebpf", ebpf=True) as tui:
        tui.wait_for("eBPF off: disabled by --no-ebpf", timeout=60)
        tui.wait_for("main.receiver", timeout=60)
        if shutil.which("bpftool"):
            assert our_programs() <= before_progs
        quit_dialog_enter(tui)
        assert tui.wait_exit(timeout=30) == 0
