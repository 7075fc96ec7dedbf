"""The eBPF helper: the whole BCC side of a session (compile, attach, poll, the overhead
guard, tracepoints) in a process of its own, so that gotui's never loads libbcc and
clang (backends/ebpf/feed.py spawns it and relays).

    python -I -m gotui.backends.ebpf.helper --pid PID --parent PPID [--deep] [--budget B]

stdout: JSON lines, {"events": [Event...]} batches, {"running": bool} once the probes
are attached, {"reply": id, "result": ...} / {"reply": id, "error": "..."}. stdin: JSON
lines {"id": n, "op": "add_tracepoint" | "remove_tracepoint", "args": {...}}; EOF (gotui
closed it, or is gone) makes it detach everything and exit, as do SIGTERM, SIGINT and
SIGHUP. It dies with gotui: PR_SET_PDEATHSIG, set first thing; if gotui died before
that, the parent check exits at once. Dying any way (even SIGKILL) removes its probes:
they are perf_event fds, which the kernel closes with the process. The compile runs at
a lower priority, so it does not compete with gotui for a CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import signal
import sys
import threading
from typing import Any

PR_SET_PDEATHSIG = 1
COMPILE_NICENESS = 10


def die_with_parent(parent: int) -> None:
    """SIGKILL when the thread that spawned us ends (gotui's feed thread, or gotui)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # gone before the line above: nobody would kill us
        os._exit(1)


class Output:
    """stdout lines, from the loop's thread and the commands' replies alike."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.broken = threading.Event()

    def write(self, line: bytes) -> None:
        with self._lock:
            try:
                sys.stdout.buffer.write(line)
                sys.stdout.buffer.flush()
            except (OSError, ValueError):
                self.broken.set()  # gotui is gone: stop

    def json(self, obj: dict[str, Any]) -> None:
        self.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")


def read_commands(loop: Any, out: Output) -> None:
    """stdin -> the loop's command queue, until EOF (then stop the loop)."""
    for raw in sys.stdin.buffer:
        try:
            msg = json.loads(raw)
            n, op, args = int(msg["id"]), str(msg["op"]), dict(msg.get("args") or {})
        except (ValueError, KeyError, TypeError):
            continue

        def done(result: Any, error: str | None, n: int = n) -> None:
            out.json({"reply": n, "error": error} if error is not None
                     else {"reply": n, "result": result})

        from gotui.backends.ebpf.feed import COMMANDS

        if op in COMMANDS:
            loop.commands.put((op, args, done))
        else:
            done(None, f"unknown command {op!r}")
    loop.stop.set()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {__name__}")
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--parent", type=int, required=True)
    ap.add_argument("--deep", action="store_true")
    ap.add_argument("--budget", type=float, default=0.03)
    opts = ap.parse_args(argv)
    die_with_parent(opts.parent)
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, niceness + COMPILE_NICENESS)

    from gotui.backends.ebpf.feed import FeedLoop, event_line
    from gotui.backends.ebpf.trace import Tracer

    out = Output()

    def compiled() -> None:
        with contextlib.suppress(OSError):  # gotui's priority again: the per-hit cost
            os.setpriority(os.PRIO_PROCESS, 0, niceness)  # is measured next, then polls

    def make_tracer(pid: int, **kw: Any) -> Tracer:
        tracer = Tracer(pid, **kw)
        tracer.compiled = compiled
        return tracer

    loop = FeedLoop(make_tracer, opts.pid, deep=opts.deep, budget=opts.budget,
                    send=lambda events: out.write(event_line(events)) if events else None,
                    started=lambda: out.json({"running": True}))
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: loop.stop.set())
    threading.Thread(target=read_commands, args=(loop, out), daemon=True).start()
    threading.Thread(target=lambda: (out.broken.wait(), loop.stop.set()), daemon=True).start()
    try:
        loop.run()
    finally:
        out.json({"running": False})
    return 0


if __name__ == "__main__":
    sys.exit(main())
