"""A probe set: one compiled BPF program, the uprobes that run its functions, its
per-probe hit counters and its ring buffer.

Uprobes are attached by address (link-time vaddr, which BCC turns into a file offset),
so stripped binaries work, and only for the target pid. BCC creates them through
perf_event_open: they go away when their fds close, including when gotui is killed.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gotui.backends.ebpf.guard import calibrate
from gotui.backends.ebpf.loader import compile_program
from gotui.backends.model import GotuiError


@dataclass
class Probe:
    key: str  # unique in a tracer: "created", "exited", "blocked", "unblocked", "tp1"...
    probe_id: int  # index in this set's hit counter array
    fn_name: str  # BPF function
    addrs: list[int]
    where: str = ""  # human description, e.g. "runtime.goexit0 entry"
    attached: bool = False
    optional: bool = False  # detachable by the guard without losing the default view
    extra: dict[str, Any] = field(default_factory=dict)


class ProbeSet:
    def __init__(self, text: str, exe: str, pid: int, probes: list[Probe],
                 on_record: Callable[[bytes], None]) -> None:
        self.exe = exe
        self.pid = pid
        self.probes = probes
        self.bpf: Any = compile_program(text)
        self._on_record = on_record
        self._lost_seen = 0
        self.bpf[b"events"].open_ring_buffer(self._callback)

    def _callback(self, _ctx: Any, data: Any, size: int) -> int:
        self._on_record(ctypes.string_at(data, size))
        return 0

    def attach(self, probe: Probe) -> None:
        if probe.attached:
            return
        done = []
        try:
            for addr in probe.addrs:
                self.bpf.attach_uprobe(name=self.exe.encode(), addr=addr,
                                       fn_name=probe.fn_name.encode(), pid=self.pid)
                done.append(addr)
        except Exception as e:
            for addr in done:
                self._detach_addr(addr)
            raise GotuiError(f"cannot attach a uprobe at {probe.where or probe.key} "
                             f"({e})") from e
        probe.attached = True

    def detach(self, probe: Probe) -> None:
        if not probe.attached:
            return
        for addr in probe.addrs:
            self._detach_addr(addr)
        probe.attached = False

    def _detach_addr(self, addr: int) -> None:
        try:
            self.bpf.detach_uprobe(name=self.exe.encode(), addr=addr, pid=self.pid)
        except Exception:
            pass  # already gone (target exited)

    def hits(self, probe: Probe) -> int:
        return int(self.bpf[b"hits"][ctypes.c_int(probe.probe_id)].value)

    def calibrate(self, probe_id: int) -> float | None:
        """Per-hit cost in ns of this program's counting probe `on_calibrate` (id
        `probe_id`) on libc's labs() in this process; None when it could not be measured."""
        me = os.getpid()
        probe = Probe("calibrate", probe_id, "on_calibrate", [])
        try:
            return calibrate(
                lambda: self.bpf.attach_uprobe(name=b"c", sym=b"labs",
                                               fn_name=b"on_calibrate", pid=me),
                lambda: self.bpf.detach_uprobe(name=b"c", sym=b"labs", pid=me),
                lambda: self.hits(probe))
        except Exception:
            return None

    def new_lost(self) -> int:
        """Failed ring buffer reserves since the last call."""
        total = sum(int(v) for v in self.bpf[b"lost"][ctypes.c_int(0)])
        delta, self._lost_seen = total - self._lost_seen, total
        return delta

    def poll(self, timeout_ms: int) -> None:
        self.bpf.ring_buffer_poll(timeout_ms)

    def close(self) -> None:
        for p in self.probes:
            self.detach(p)
        try:
            self.bpf.cleanup()
        except Exception:
            pass
