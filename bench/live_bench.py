"""Live reader vs Delve on the `live_stall` fixture with 1k / 10k / 100k sleeping goroutines.

Run: .venv/bin/python bench/live_bench.py [--sizes 1000,10000,100000] [--runs 5]
[--no-delve] (the live reader only: a before/after comparison in a minute)

For each size it measures, on one running target:
  - gotui live snapshot (all goroutines, symbolised, channels): median wall and CPU time,
    including the young-generation GC collection of the objects it made (snapshot()
    defers it) and freeing the previous snapshot; the first snapshot of a new reader
    (nothing cached yet) and later ones (unchanged g's reused) separately;
  - Delve: attach + ListGoroutines (all, paged) + detach over raw JSON-RPC;
  - the target's own longest stall: the fixture's ticker (1 ms period) keeps its
    longest tick gap in main.maxGapNs, read with the live memory reader and reset by
    SIGUSR1 before each phase: `rounds` times (live snapshots; an idle window as long:
    the noise floor; a window as long where gotui burns CPU without reading the target:
    what sharing the CPUs alone costs), then Delve attach+list+detach.
Prints a markdown table. Never asserts anything.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gotui.backends.live.reader import LiveReader  # noqa: E402
from gotui.backends.model import Snapshot  # noqa: E402

from tests import gofixtures  # noqa: E402

DLV = os.environ.get("GOTUI_DLV", "/root/go/bin/dlv")


def read_var(reader: LiveReader, name: str) -> int:
    addr = reader.facts.symbol(name)
    v = reader.mem.read_u64(addr + reader.bias) if addr is not None else None
    return -1 if v is None else v


def max_gap_ns(reader: LiveReader) -> int:
    return read_var(reader, "main.maxGapNs")


def reset_gap(reader: LiveReader) -> None:
    """SIGUSR1: the fixture sets main.maxGapNs back to 0; wait until it has."""
    before = read_var(reader, "main.resets")
    os.kill(reader.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while read_var(reader, "main.resets") == before and time.monotonic() < deadline:
        time.sleep(0.002)


class DelveClient:
    """The few JSON-RPC v2 calls the bench needs, over a plain socket."""

    def __init__(self, pid: int) -> None:
        self.proc = subprocess.Popen(
            [DLV, "attach", str(pid), "--headless", "--api-version=2",
             "--listen=127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = re.search(r"listening at: ([\d.]+):(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"dlv did not start: {line.strip()}")
        self.sock = socket.create_connection((m.group(1), int(m.group(2))))
        self.file = self.sock.makefile("rwb")
        self.ids = 0

    def call(self, method: str, params: dict) -> dict:
        self.ids += 1
        self.file.write(json.dumps({"method": f"RPCServer.{method}", "params": [params],
                                    "id": self.ids}).encode() + b"\n")
        self.file.flush()
        reply = json.loads(self.file.readline())
        if reply.get("error"):
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def list_all(self) -> int:
        n, start = 0, 0
        while True:
            res = self.call("ListGoroutines", {"Start": start, "Count": 0})
            n += len(res["Goroutines"])
            start = res["Nextg"]
            if start < 0:
                return n

    def detach(self) -> None:
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            self.call("Detach", {"Kill": False})
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the kernel detaches its tracee
            self.proc.wait()
        self.sock.close()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed_snapshot(reader: LiveReader) -> tuple[Snapshot, float, float]:
    """(snapshot, wall s, cpu s) of one snapshot. snapshot() pauses the cyclic GC while
    it builds: the young collection its objects cost right after counts as part of it."""
    w0, c0 = time.perf_counter(), time.process_time()
    snap = reader.snapshot()
    gc.collect(0)
    return snap, time.perf_counter() - w0, time.process_time() - c0


def first_snapshot_cpu(reader: LiveReader) -> float:
    """CPU s of a new reader's first snapshot (binary facts shared: nothing else cached)."""
    fresh = LiveReader(reader.pid, facts=reader.facts)
    try:
        return timed_snapshot(fresh)[2]
    finally:
        fresh.close()


def bench_size(exe: Path, n: int, runs: int, rounds: int, delve: bool = True
               ) -> dict[str, float]:
    with gofixtures.run(exe, "-sleep", str(n), timeout=300) as t:
        reader = LiveReader(t.pid)
        time.sleep(0.5)
        walls, cpus, count, rss, traced = [], [], 0, 0.0, 0
        firsts = []
        for _ in range(3):
            firsts.append(first_snapshot_cpu(reader))
        gaps_live, gaps_idle, gaps_busy = [], [], []
        for _ in range(rounds):  # live window, then an idle window as long (noise floor)
            reset_gap(reader)
            p0 = time.perf_counter()
            for _ in range(runs):
                snap, wall, cpu = timed_snapshot(reader)
                walls.append(wall)
                cpus.append(cpu)
                count = len(snap.goroutines)
                traced = max(traced, gofixtures.tracer_pid(t.pid))
            gaps_live.append(max_gap_ns(reader))
            live_phase = time.perf_counter() - p0
            rss = max(rss, rss_mb())  # the last snapshot is still alive here
            del snap
            reset_gap(reader)
            time.sleep(live_phase)
            gaps_idle.append(max_gap_ns(reader))
            reset_gap(reader)  # control: burn our CPU as long, without reading the target
            end = time.perf_counter() + live_phase
            while time.perf_counter() < end:
                sum(range(10000))
            gaps_busy.append(max_gap_ns(reader))

        dcount, dattach, dlist, dtotal, gap_delve = 0, 0.0, 0.0, 0.0, 0
        if delve:
            reset_gap(reader)
            t0 = time.perf_counter()
            dlv = DelveClient(t.pid)
            dattach = time.perf_counter() - t0
            try:
                l0 = time.perf_counter()
                dcount = dlv.list_all()
                dlist = time.perf_counter() - l0
            finally:
                dlv.detach()
            dtotal = time.perf_counter() - t0
            gofixtures.wait_untraced(t.pid)
            time.sleep(0.5)  # let the ticker wake up and record the gap
            gap_delve = max_gap_ns(reader)
        reader.close()
    return {"n": n, "count": count, "live_wall": statistics.median(walls),
            "live_cpu": statistics.median(cpus), "live_cpu_best": min(cpus),
            "first_cpu": statistics.median(firsts),
            "rss": rss, "traced": traced,
            "dlv_count": dcount, "dlv_attach": dattach, "dlv_list": dlist,
            "dlv_total": dtotal, "gap_delve": gap_delve,
            "gap_idle": statistics.median(gaps_idle), "gap_idle_max": max(gaps_idle),
            "gap_live": statistics.median(gaps_live), "gap_live_max": max(gaps_live),
            "gap_busy": statistics.median(gaps_busy), "gap_busy_max": max(gaps_busy)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=5, help="snapshots per round")
    ap.add_argument("--rounds", type=int, default=3, help="live/idle window pairs")
    ap.add_argument("--no-delve", action="store_true", help="live reader only (quicker)")
    args = ap.parse_args()
    exe = gofixtures.build("live_stall", optimize=True)
    rows = [bench_size(exe, int(s), args.runs, args.rounds, not args.no_delve)
            for s in args.sizes.split(",")]
    ms = 1e3
    print(f"load average at end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    print()
    print("| goroutines | live snapshot (median wall / cpu, best cpu; first snapshot cpu) | Delve ListGoroutines "
          "(attach / list / total) | Delve list ÷ live | target's longest tick gap: "
          "idle / gotui busy, no reads / during live (median, max of rounds) / during Delve "
          "| TracerPid during live "
          "| gotui RSS |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['count']} (dlv {r['dlv_count']}) "
              f"| {r['live_wall'] * ms:.0f} ms / {r['live_cpu'] * ms:.0f} ms, "
              f"{r['live_cpu_best'] * ms:.0f} ms; first {r['first_cpu'] * ms:.0f} ms "
              f"| {r['dlv_attach'] * ms:.0f} / {r['dlv_list'] * ms:.0f} / "
              f"{r['dlv_total'] * ms:.0f} ms "
              f"| {r['dlv_list'] / r['live_wall']:.1f}x "
              f"| {r['gap_idle'] / 1e6:.1f} ({r['gap_idle_max'] / 1e6:.1f}) / "
              f"{r['gap_busy'] / 1e6:.1f} ({r['gap_busy_max'] / 1e6:.1f}) / "
              f"{r['gap_live'] / 1e6:.1f} ({r['gap_live_max'] / 1e6:.1f}) / "
              f"{r['gap_delve'] / 1e6:.1f} ms "
              f"| {r['traced']} | {r['rss']:.0f} MB |")
    print()
    print(f"peak RSS of this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
