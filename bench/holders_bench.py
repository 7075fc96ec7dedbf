"""Lock holders: how often they are right (the accuracy table) and what they cost.

Run: .venv/bin/python bench/holders_bench.py [--sizes 10000,100000] [--runs 5]
     [--no-accuracy] [--no-cost]

Accuracy: the `holders` fixture (holders known by construction) on Go 1.19, 1.26 and
1.27, debug and optimized builds, read live, halted (Delve; debug builds) and live
with exact eBPF tracking; per basis, holders right / wrong / missing, precision and
recall. Cost: the same fixture with N more parked goroutines; the live snapshot's
median CPU time with holder inference on and off (the difference is what holders add
per refresh), first snapshot and steady state. Prints markdown. Never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gotui.backends.ebpf.loader import unavailable_reason  # noqa: E402
from gotui.backends.live.reader import LiveReader  # noqa: E402

from tests import gofixtures  # noqa: E402
from tests.holders_truth import (  # noqa: E402
    Table,
    delve_snapshot,
    holders_fixture,
    live_snapshot,
    read_truth,
    score,
    start,
)

TOOLCHAINS = ("go1.19", "go1.26", "go1.27")


def accuracy() -> None:
    tables = {"live": Table(), "halted (Delve)": Table(), "live + eBPF": Table()}
    ebpf = unavailable_reason() is None
    for tc in TOOLCHAINS:
        for opt in (False, True):
            with holders_fixture(tc, opt) as t:
                truth = read_truth(t)
                tables["live"].add(score(truth, live_snapshot(t.pid)))
                if not opt:
                    tables["halted (Delve)"].add(score(truth, delve_snapshot(t.pid, tc)))
            if ebpf:
                from gotui.backends.ebpf.holders import HolderTracker

                with holders_fixture(tc, opt, on_signal=True) as t:
                    tracker = HolderTracker(t.pid, budget=1.0)
                    tracker.start()
                    try:
                        truth = start(t)
                        tables["live + eBPF"].add(score(truth, live_snapshot(t.pid, tracker)))
                    finally:
                        tracker.close()
    for name, table in tables.items():
        print(f"\n{name} (Go 1.19/1.26/1.27 x debug/optimized; halted: debug builds)\n")
        print(table.markdown())


def cost(sizes: list[int], runs: int) -> None:
    print("\n| goroutines | snapshot CPU, holders off | holders on (steady) | "
          "added per refresh | added while walking new stacks (worst) | first snapshot with "
          "holders | holders found |")
    print("|---|---|---|---|---|---|---|")
    exe = gofixtures.build("holders", optimize=True)
    for n in sizes:
        with gofixtures.run(exe, "-extra", str(n), ready="TRUTH", timeout=300) as t:
            time.sleep(1.0)
            on = LiveReader(t.pid)
            c0 = time.process_time()
            on.snapshot()
            first = time.process_time() - c0
            off = LiveReader(t.pid, facts=on.facts)
            off._infer_holders = lambda snap: None  # type: ignore[method-assign]
            off.snapshot()
            cpu_on, cpu_off, found = [], [], 0
            for _ in range(runs):
                for reader, out in ((off, cpu_off), (on, cpu_on)):
                    c0 = time.process_time()
                    snap = reader.snapshot()
                    out.append(time.process_time() - c0)
                    if reader is on:
                        found = sum(1 for lk in snap.locks if lk.holders)
            skipped = on._holders.skipped if on._holders is not None else ""
            # steady: the last half (at 100k the first refreshes still walk new stacks)
            half = len(cpu_on) // 2
            a, b = statistics.median(cpu_off[half:]), statistics.median(cpu_on[half:])
            filling = max(cpu_on[:half]) - statistics.median(cpu_off[:half])
            print(f"| {n + 40} | {a * 1e3:.0f} ms | {b * 1e3:.0f} ms | {(b - a) * 1e3:+.0f} ms "
                  f"| {filling * 1e3:+.0f} ms | {first * 1e3:.0f} ms | {found}{' (' + skipped + ')' if skipped else ''} |")
            on.close()
            off.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--no-accuracy", action="store_true")
    ap.add_argument("--no-cost", action="store_true")
    args = ap.parse_args()
    if not args.no_accuracy:
        accuracy()
    if not args.no_cost:
        cost([int(s) for s in args.sizes.split(",")], args.runs)


if __name__ == "__main__":
    main()
