"""eBPF overhead benchmark (run as root): `.venv/bin/python bench/ebpf_bench.py`.

1. Throughput of a channel ping-pong and of an HTTP server (its own loopback load
   generator) untraced, with the default probe set (created/exited), and with deep
   mode (blocked/unblocked on scheduler paths) without and with the overhead guard.
2. Per-hit cost of a conditional tracepoint whose condition is false, vs a Delve
   conditional breakpoint with the same false condition, on the same tight loop.
Prints a markdown table. Numbers vary with the machine: run it, don't assert it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gotui.backends.ebpf.trace import Tracer  # noqa: E402

from tests import gofixtures  # noqa: E402

DLV = "/root/go/bin/dlv"
SAMPLES = 6  # RATE lines (0.5 s each) per measurement


class Rates:
    """Reads the fixture's "RATE n" lines in a thread, with the time each arrived."""

    def __init__(self, target: gofixtures.Target) -> None:
        self.lines: list[tuple[float, float]] = []
        self.target = target
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.target.proc.stdout is not None
        for line in self.target.proc.stdout:
            if line.startswith("RATE"):
                self.lines.append((time.monotonic(), float(line.split()[1])))

    def measure(self, n: int = SAMPLES) -> float:
        """Median of the next n lines after one settling line."""
        start = time.monotonic()
        while sum(t > start for t, _ in self.lines) < n + 1:
            time.sleep(0.1)
        return statistics.median([r for t, r in self.lines if t > start][1 : n + 1])


@contextlib.contextmanager
def traced(pid: int, **kw: object) -> Iterator[Tracer]:
    """A tracer whose events are drained by a thread, as `gotui trace` would."""
    tracer = Tracer(pid, **kw)  # type: ignore[arg-type]
    tracer.start()
    stop = threading.Event()
    guard_events: list[str] = []

    def drain() -> None:
        while not stop.is_set():
            guard_events.extend(e.message for e in tracer.poll(0.1) if e.type == "guard")

    th = threading.Thread(target=drain, daemon=True)
    th.start()
    try:
        yield tracer
    finally:
        stop.set()
        th.join()
        tracer.close()


def throughput_rows(name: str, fixture: str, args: list[str]) -> list[tuple[str, float, float]]:
    exe = gofixtures.build(fixture, optimize=True)
    rows = []
    with gofixtures.run(exe, *args, "-every", "500ms") as target:
        rates = Rates(target)
        base = rates.measure()
        with traced(target.pid):
            rows.append((f"{name}: default probe set", base, rates.measure()))
        base = rates.measure()
        with traced(target.pid, deep=True, budget=100.0):
            rows.append((f"{name}: deep, guard off", base, rates.measure()))
        base = rates.measure()
        with traced(target.pid, deep=True):
            time.sleep(1.0)  # let the guard back off
            rows.append((f"{name}: deep, guard on (3 %)", base, rates.measure()))
    return rows


def ebpf_per_hit() -> tuple[float, float, float]:
    exe = gofixtures.build("ebpf_args")
    with gofixtures.run(exe, "-spin", "-every", "500ms") as target:
        rates = Rates(target)
        base = rates.measure()
        with traced(target.pid, lifecycle=False, budget=100.0) as tracer:
            tracer.add_tracepoint("main.spin", "n < 0")
            probed = rates.measure()
            per_hit_ns = tracer.per_hit_ns
    return base, probed, per_hit_ns


class _Rpc:
    def __init__(self, addr: tuple[str, int]) -> None:
        self.sock = socket.create_connection(addr, timeout=60)
        self.file = self.sock.makefile("rb")
        self.ids = itertools.count(1)

    def send(self, method: str, params: dict) -> None:
        msg = {"method": f"RPCServer.{method}", "params": [params], "id": next(self.ids)}
        self.sock.sendall(json.dumps(msg).encode() + b"\n")

    def recv(self) -> dict:
        return json.loads(self.file.readline())

    def call(self, method: str, params: dict) -> dict:
        self.send(method, params)
        return self.recv()


def delve_per_hit() -> tuple[float, float] | None:
    if not Path(DLV).exists():
        return None
    exe = gofixtures.build("ebpf_args")
    with gofixtures.run(exe, "-spin", "-every", "500ms") as target:
        rates = Rates(target)
        base = rates.measure()
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        dlv = subprocess.Popen([DLV, "attach", str(target.pid), "--headless", "--api-version=2",
                                f"--listen=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    rpc = _Rpc(("127.0.0.1", port))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            rpc.call("CreateBreakpoint", {"Breakpoint": {"functionName": "main.spin",
                                                          "Cond": "n < 0"}})
            rpc.send("Command", {"name": "continue"})
            probed = rates.measure(4)
            rpc.send("Command", {"name": "halt"})
            rpc.recv()
            rpc.recv()
            rpc.call("Detach", {"Kill": False})
        finally:
            dlv.kill()
            dlv.wait()
        return base, probed


def main() -> None:
    rows = throughput_rows("chan ping-pong (round trips/s)", "ebpf_pingpong", [])
    rows += throughput_rows("HTTP server (requests/s)", "ebpf_http", ["-clients", "4"])
    print("| workload | untraced | traced | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for label, base, traced_rate in rows:
        print(f"| {label} | {base:,.0f} | {traced_rate:,.0f} | {traced_rate / base:.3f} |")
    base, probed, calib = ebpf_per_hit()
    ebpf_ns = (1 / probed - 1 / base) * 1e9
    print()
    print("| per hit, condition false (main.spin loop) | calls/s untraced | calls/s traced "
          "| cost per hit | vs eBPF |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| eBPF conditional tracepoint | {base:,.0f} | {probed:,.0f} | {ebpf_ns / 1000:.1f} us "
          f"| 1.0 |")
    dlv = delve_per_hit()
    if dlv is None:
        print("| Delve conditional breakpoint | - | - | dlv not installed | - |")
    else:
        dbase, dprobed = dlv
        dlv_ns = (1 / dprobed - 1 / dbase) * 1e9
        print(f"| Delve conditional breakpoint | {dbase:,.0f} | {dprobed:,.0f} | "
              f"{dlv_ns / 1000:.1f} us | {dlv_ns / ebpf_ns:.0f}x |")
    print(f"\ncalibrated uprobe hit cost (libc loop in the tracer): {calib / 1000:.1f} us")


if __name__ == "__main__":
    main()
