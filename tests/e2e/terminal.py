"""Driving `gotui attach` in a tmux terminal: the steps several e2e tests share."""

from __future__ import annotations

from pathlib import Path

import psutil

from tests.tmux import TmuxSession


def attach(gotui: Path, pid: int, *flags: str, term: str = "xterm-256color",
           env: dict[str, str] | None = None, ebpf: bool = False) -> TmuxSession:
    """An 80x24 terminal (not yet started) running `gotui attach <pid> [flags]`.

    eBPF is off unless `ebpf`: its start compiles BPF programs (~5 s of CPU on a 2-core
    machine), and its own exit paths are tested in tests/ebpf/test_tui_exit.py."""
    off = [] if ebpf else ["--no-ebpf"]
    return TmuxSession([str(gotui), "attach", str(pid), *off, *flags], term=term, env=env)


def quit_dialog_enter(tui: TmuxSession) -> None:
    """q, then Enter on the dialog's default choice (resume and detach)."""
    tui.send_keys("q")
    tui.wait_for("Leave gotui?", timeout=10)
    tui.send_keys("Enter")


def dlv_child(gotui_pid: int) -> psutil.Process:
    for child in psutil.Process(gotui_pid).children(recursive=True):
        if child.name() == "dlv":
            return child
    raise AssertionError(f"no dlv child under gotui pid {gotui_pid}")


def traced_by_dlv(target_pid: int, gotui_pid: int) -> bool:
    """TracerPid names the tracing thread, which need not be dlv's main thread."""
    from tests.gofixtures import tracer_pid

    return tracer_pid(target_pid) in {t.id for t in dlv_child(gotui_pid).threads()}
