"""Every row of the performance table (issue 14, README "Measured"): gotui vs Delve on
the same target in the same run, as ratios. Run as root:

    .venv/bin/python bench/run.py [--rows attach,refresh,halted,million,rss]
                                  [--million 1000000] [--runs 5] [--delve-timeout 300]

Rows (target: the live_stall fixture with N sleeping goroutines; "stall" is the
target's own longest tick gap, read from its main.maxGapNs, see live_bench.py):
  attach   10k: `gotui attach --no-ebpf` in tmux 80x24, from the command's start to a
           goroutine row on screen, vs `dlv attach` + ListGoroutines over JSON-RPC
  refresh  100k: CPU of one steady live refresh vs Delve's ListGoroutines (the target
           halted throughout)
  halted   10k and 100k: how long `gotui snapshot --source delve` stops the target
           (its stall, and what gotui reports) vs Delve's ListGoroutines alone and
           Delve's attach + list + detach stall
  million  1M (or --million N): live refresh CPU and wall, the target's stall during it,
           the reader's RSS; `snapshot --source delve`; Delve's list if it ends
           within --delve-timeout
  rss      100k: RSS of gotui's process and of its eBPF helper, `gotui attach` with
           eBPF on in tmux, after the probes are attached and 20 s of refreshes
Numbers vary with the machine and its load (printed): run it, never assert it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gotui.backends.live.reader import LiveReader  # noqa: E402
from live_bench import (  # noqa: E402
    DelveClient,
    first_snapshot_cpu,
    max_gap_ns,
    reset_gap,
    rss_mb,
    timed_snapshot,
)

from tests import gofixtures  # noqa: E402
from tests.tmux import TmuxSession  # noqa: E402

GOTUI = [str(ROOT / ".venv" / "bin" / "gotui")]
LIST_ROW = re.compile(r"│\s+\d+ (waiting|running|runnable|syscall)")  # a goroutine row
PROBES_ON = "eBPF ~"  # the status line once the probes are attached (tests/ebpf)


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


@dataclass
class Row:
    what: str
    gotui: str
    delve: str
    ratio: str
    goal: str
    met: str


@dataclass
class Bench:
    runs: int
    million: int
    delve_timeout: float
    gotui: list[str] = field(default_factory=lambda: list(GOTUI))
    rows: list[Row] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        self.rows.append(Row(*cells))
        log("  ->", " | ".join(cells))


@contextlib.contextmanager
def target(n: int) -> Iterator[tuple[gofixtures.Target, LiveReader]]:
    exe = gofixtures.build("live_stall", optimize=True)
    with gofixtures.run(exe, "-sleep", str(n), timeout=900) as t:
        reader = LiveReader(t.pid)
        try:
            yield t, reader
        finally:
            reader.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms"


def stalled(reader: LiveReader, action: Callable[[], object]) -> tuple[object, float]:
    """action's result, and the target's longest stall (s) while it ran."""
    reset_gap(reader)
    result = action()
    time.sleep(0.3)  # the ticker wakes and records the gap
    return result, max_gap_ns(reader) / 1e9


# ----------------------------------------------------------------- measurements

def delve_attach_list(pid: int, timeout: float | None = None) -> tuple[float, float, int]:
    """(attach s, ListGoroutines s, goroutines) of a bare `dlv attach`, then detach.
    Timeout: dlv is killed (the kernel releases the target) and list is inf."""
    t0 = time.perf_counter()
    dlv = DelveClient(pid)
    t1 = time.perf_counter()
    dlv.sock.settimeout(timeout)
    try:
        n = dlv.list_all()
        t2 = time.perf_counter()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dlv.proc.pid, 9)
        dlv.proc.wait()
        gofixtures.wait_untraced(pid, 30)
        return t1 - t0, float("inf"), 0
    dlv.detach()
    gofixtures.wait_untraced(pid, 30)
    return t1 - t0, t2 - t1, n


def gotui_halted(gotui: list[str], pid: int) -> float:
    """target_paused_ns (s) that `gotui snapshot --source delve` reports."""
    out = subprocess.run([*gotui, "snapshot", str(pid), "--source", "delve", "--format",
                          "json"], capture_output=True, text=True, check=True, timeout=900)
    return json.loads(out.stdout)["target_paused_ns"] / 1e9


def live_refresh(reader: LiveReader, runs: int) -> tuple[float, float, float, float]:
    """(first cpu, median cpu, median wall, RSS MB): a fresh reader's first snapshot,
    then `runs` steady ones (each with the young-generation GC it causes)."""
    first = first_snapshot_cpu(reader)
    reader.snapshot()
    cpus, walls = [], []
    for _ in range(runs):
        snap, wall, cpu = timed_snapshot(reader)
        walls.append(wall)
        cpus.append(cpu)
    rss = rss_mb()
    del snap
    return first, statistics.median(cpus), statistics.median(walls), rss


def paint_seconds(gotui: list[str], pid: int) -> float:
    """Command start -> a goroutine row on the screen of an 80x24 tmux."""
    tui = TmuxSession([*gotui, "attach", str(pid), "--no-ebpf"], width=80, height=24)
    t0 = time.perf_counter()
    with tui:
        tui.wait_for(LIST_ROW, timeout=120, interval=0.005)
        took = time.perf_counter() - t0
        tui.send_keys("q")
        with contextlib.suppress(Exception):
            tui.wait_for("Leave gotui?", timeout=10)
            tui.send_keys("Enter")
            tui.wait_exit(timeout=30)
    gofixtures.wait_untraced(pid, 30)
    return took


def process_rss_mb(proc: psutil.Process) -> float:
    return proc.memory_info().rss / 2**20


def attached_rss(gotui: list[str], pid: int, ebpf: bool, seconds: float = 20.0
                 ) -> tuple[float, float, float]:
    """(gotui's peak RSS MB, its eBPF helpers' peak RSS MB, s from start to probes on),
    `gotui attach` (with eBPF, or --no-ebpf) in tmux 160x48, sampled for `seconds`."""
    tui = TmuxSession([*gotui, "attach", str(pid), *([] if ebpf else ["--no-ebpf"])],
                      width=160, height=48)
    t0 = time.perf_counter()
    probes_on = 0.0
    with tui:
        tui.wait_for(LIST_ROW, timeout=120)
        if ebpf:
            tui.wait_for(PROBES_ON, timeout=180)
            probes_on = time.perf_counter() - t0
        me = psutil.Process(tui.pid)
        peak, helper_peak = 0.0, 0.0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            peak = max(peak, process_rss_mb(me))
            helpers = [c for c in me.children(recursive=True)
                       if "gotui.backends.ebpf.helper" in " ".join(c.cmdline())]
            helper_peak = max(helper_peak, sum(process_rss_mb(h) for h in helpers))
            time.sleep(0.5)
        tui.send_keys("q")
        with contextlib.suppress(Exception):
            tui.wait_for("Leave gotui?", timeout=10)
            tui.send_keys("Enter")
            tui.wait_exit(timeout=30)
    return peak, helper_peak, probes_on


# ----------------------------------------------------------------- rows

def row_attach(b: Bench) -> None:
    log("attach -> painted list, 10k goroutines")
    with target(10_000) as (t, _reader):
        paint = [paint_seconds(b.gotui, t.pid) for _ in range(b.runs)]
        dlv = [delve_attach_list(t.pid) for _ in range(b.runs)]
    g = statistics.median(paint)
    d = statistics.median(a + lst for a, lst, _ in dlv)
    b.add("`gotui attach` → list painted, tmux 80x24, 10k, --no-ebpf",
          f"{ms(g)} (min {ms(min(paint))})", f"dlv attach + ListGoroutines {ms(d)}",
          f"{g / d:.2f}x Delve", "≤ 0.5 s and ≤ 0.8x", _met(g <= 0.5 and g <= 0.8 * d))


def row_refresh(b: Bench) -> None:
    log("steady live refresh, 100k goroutines")
    with target(100_000) as (t, reader):
        first, cpu, wall, _ = live_refresh(reader, b.runs)
        _, lst, n = delve_attach_list(t.pid)
    b.add(f"steady live refresh CPU, 100k ({n:,} in Delve)",
          f"{ms(cpu)} cpu / {ms(wall)} wall (first {ms(first)})",
          f"ListGoroutines {ms(lst)}, halted", f"{lst / cpu:,.0f}x cheaper",
          "≤ 100 ms (≥ 80x)", _met(cpu <= 0.1))


def row_halted(b: Bench, n: int) -> None:
    log(f"halted snapshot, {n:,} goroutines")
    with target(n) as (t, reader):
        ours = [stalled(reader, lambda: gotui_halted(b.gotui, t.pid)) for _ in range(b.runs)]
        (dlv_attach, dlv_list, _), dlv_stall = stalled(
            reader, lambda: delve_attach_list(t.pid))  # type: ignore[misc]
    stall = statistics.median(s for _, s in ours)
    reported = statistics.median(float(r) for r, _ in ours)  # type: ignore[arg-type]
    goal = dlv_list if n <= 10_000 else 1.0
    b.add(f"`gotui snapshot --source delve`, {n // 1000}k: target stopped",
          f"{ms(stall)} (reports {ms(reported)}; attach included)",
          f"ListGoroutines {ms(dlv_list)}; attach+list+detach stops it {ms(dlv_stall)}",
          f"{stall / dlv_list:.2f}x Delve's list",
          "≤ Delve's list" if n <= 10_000 else "≤ 1 s", _met(stall <= goal))


def row_million(b: Bench) -> None:
    n = b.million
    log(f"{n:,} goroutines")
    with target(n) as (t, reader):
        target_mb = process_rss_mb(psutil.Process(t.pid))
        (first, cpu, wall, rss), stall = stalled(
            reader, lambda: live_refresh(reader, max(2, b.runs // 2)))  # type: ignore[misc]
        (_, halted_stall) = stalled(reader, lambda: gotui_halted(b.gotui, t.pid))
        _, lst, got = delve_attach_list(t.pid, timeout=b.delve_timeout)
    delve = (f"ListGoroutines {ms(lst)} ({got:,})" if lst != float("inf")
             else f"ListGoroutines did not end within {b.delve_timeout:.0f} s")
    b.add(f"{n:,} goroutines (target RSS {target_mb:,.0f} MB)",
          f"refresh {ms(cpu)} cpu / {ms(wall)} wall (first {ms(first)}); reader RSS "
          f"{rss:,.0f} MB; target stall during refreshes {ms(stall)}; "
          f"snapshot --source delve stops it {ms(halted_stall)}; key → paint not measured",
          delve, f"{lst / cpu:,.0f}x" if lst != float("inf") else "-",
          "refresh ≤ 1 s, RSS ≤ 1.5 GB, never stalled", _met(cpu <= 1 and rss <= 1536))


def row_rss(b: Bench) -> None:
    log("gotui RSS with eBPF on, 100k goroutines")
    with target(100_000) as (t, _reader):
        gotui, helper, probes_on = attached_rss(b.gotui, t.pid, ebpf=True)
        without, _, _ = attached_rss(b.gotui, t.pid, ebpf=False)
    b.add("gotui RSS, 100k, eBPF on", f"{gotui:,.0f} MB (eBPF helper: {helper:,.0f} MB; "
          f"probes on {probes_on:.1f} s after start; gotui --no-ebpf: {without:,.0f} MB)",
          "-", "-", "≤ 400 MB, no compile before the first paint", _met(gotui <= 400))


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="attach,refresh,halted,million,rss")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--million", type=int, default=1_000_000)
    ap.add_argument("--delve-timeout", type=float, default=300.0)
    args = ap.parse_args()
    b = Bench(args.runs, args.million, args.delve_timeout)
    for name in args.rows.split(","):
        if name == "halted":
            row_halted(b, 10_000)
            row_halted(b, 100_000)
        else:
            globals()[f"row_{name}"](b)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; bench peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB\n")
    print("| what | gotui | Delve, same target, same run | ratio | goal | met |")
    print("|---|---|---|---|---|---|")
    for r in b.rows:
        print(f"| {r.what} | {r.gotui} | {r.delve} | {r.ratio} | {r.goal} | {r.met} |")


if __name__ == "__main__":
    main()
