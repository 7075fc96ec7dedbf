"""Attach -> first goroutine list painted, at 10k goroutines: gotui (live reader, TUI
headless) vs Delve (dlv attach + ListGoroutines), same target, same run.

    .venv/bin/python bench/attach_bench.py [--goroutines 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gotui.backends.delve.backend import DelveBackend  # noqa: E402
from gotui.backends.factory import attach_session  # noqa: E402
from gotui.tui.app import GotuiApp  # noqa: E402

from tests import gofixtures  # noqa: E402


async def gotui_first_paint(pid: int) -> float:
    t0 = time.perf_counter()
    session = attach_session(pid)
    app = GotuiApp(session, refresh_interval=3600)  # type: ignore[arg-type]
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await session.start()
            while not len(app.index.data):
                await pilot.pause(0.005)
            await pilot.pause()  # the frame that shows them
            return time.perf_counter() - t0
    finally:
        await session.close()


async def delve_list(pid: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    backend = DelveBackend.for_pid(pid)
    await backend.start()
    t1 = time.perf_counter()
    try:
        await backend.raw_goroutines()
        t2 = time.perf_counter()
    finally:
        await backend.detach()
    return t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--goroutines", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    exe = gofixtures.build("basic")
    with gofixtures.run(exe, "-sleep", str(args.goroutines)) as target:
        paint = [asyncio.run(gotui_first_paint(target.pid)) for _ in range(args.runs)]
        dl = [asyncio.run(delve_list(target.pid)) for _ in range(args.runs)]
        assert gofixtures.wait_untraced(target.pid)
    attach = statistics.median(a for a, _ in dl)
    listing = statistics.median(b for _, b in dl)
    g = statistics.median(paint)
    print("| goroutines | gotui attach -> first paint | dlv attach | dlv ListGoroutines | "
          "Delve total / gotui |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {args.goroutines:,} | {g * 1000:.0f} ms | {attach * 1000:.0f} ms | "
          f"{listing * 1000:.0f} ms | {(attach + listing) / g:.1f}x |")


if __name__ == "__main__":
    main()
