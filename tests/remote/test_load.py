"""Load: 20 viewers joined to `gotui share --headless` on a 100k-goroutine target.

For GOTUI_LOAD_SECONDS (default 30) the viewers read everything the host sends (one
more joins once everyone has a snapshot: a joiner's wait when one is published). Then:
no viewer was dropped (each still answers a ping and got updates after its first
snapshot; the host keeps its pulls to a tenth of a core: at 100k every 2-5 s), the
host's RSS stayed bounded and did not keep growing after the warm-up, and the target
was never stalled by the live path: the fixture's ticker (1 ms period) records its own
longest gap (main.maxGapNs, reset by SIGUSR1 after warm-up), and a stop-the-world read
of 100k goroutines would make it seconds long.

The viewers do not decode the big snapshot texts (that would take the CPU the host
needs on this 2-core machine): they read each message's head only.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import psutil
import pytest
from gotui.backends.live.reader import LiveReader
from gotui.backends.remote.compression import client_deflate
from websockets.asyncio.client import ClientConnection, connect

from bench.live_bench import max_gap_ns, reset_gap
from tests import gofixtures

pytestmark = [pytest.mark.integration]

GOTUI = gofixtures.ROOT / ".venv" / "bin" / "gotui"
GOROUTINES = 100_000
VIEWERS = 20
SECONDS = float(os.environ.get("GOTUI_LOAD_SECONDS", "30"))
RSS_LIMIT = 1 << 30
MAX_GAP_NS = 1_000_000_000
HEAD = re.compile(r'^\{"type":"(\w+)"(?:,"full":(true|false),"seq":(\d+)(?:,"base":\d+)?'
                  r'(?:,"parts":(\d+))?)?')


@dataclass
class Viewer:
    ws: ClientConnection
    joined: float
    first_snapshot_s: float = -1.0  # from connect to the last part of the first snapshot
    first_snapshot_bytes: int = 0
    snapshots: int = 0
    bytes: int = 0
    last_snapshot_at: float = 0.0
    types: dict[str, int] = field(default_factory=dict)

    async def read(self) -> None:
        parts_left = 0
        size = 0
        async for raw in self.ws:
            assert isinstance(raw, str)
            self.bytes += len(raw)
            m = HEAD.match(raw[:120])
            kind = m.group(1) if m else "?"
            self.types[kind] = self.types.get(kind, 0) + 1
            if kind == "snapshot":
                parts_left = int(m.group(4) or 1) - 1 if m else 0
                size = len(raw)
            elif kind == "snapshot_part":
                parts_left -= 1
                size += len(raw)
            else:
                continue
            if parts_left == 0:
                self.snapshots += 1
                self.last_snapshot_at = time.monotonic()
                if self.first_snapshot_s < 0:
                    self.first_snapshot_s = self.last_snapshot_at - self.joined
                    self.first_snapshot_bytes = size


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


async def run_load(url: str, token: str, host_pid: int, reader: LiveReader) -> dict[str, object]:
    async def join(name: str) -> Viewer:
        ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}",
                                                    "X-Gotui-User": name},
                           max_size=None, ping_interval=20, ping_timeout=20,
                           compression=None, extensions=[client_deflate()])
        assert ws.response is not None
        assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
        return Viewer(ws, time.monotonic())

    viewers = [await join(f"viewer{i}") for i in range(VIEWERS)]
    tasks = [asyncio.create_task(v.read()) for v in viewers]
    late: Viewer | None = None  # one more joins once a snapshot is published
    start = time.monotonic()
    end = start + SECONDS
    samples: list[tuple[float, int]] = []
    warm_at = 0.0
    while time.monotonic() < end:
        await asyncio.sleep(1.0)
        samples.append((time.monotonic() - start, rss(host_pid)))
        if not warm_at and all(v.first_snapshot_s >= 0 for v in viewers):
            warm_at = time.monotonic() - start
            reset_gap(reader)  # the stall window starts once everyone is in
        elif warm_at and late is None:
            late = await join("late")
            tasks.append(asyncio.create_task(late.read()))
        crashed = [t for t in tasks if t.done()]
        assert not crashed, f"viewer connection ended: {crashed[0].exception()!r}"
    gap = max_gap_ns(reader)
    assert warm_at, "not every viewer got a first snapshot within the run"
    assert late is not None and late.first_snapshot_s >= 0, "the late joiner got nothing"
    for v in [*viewers, late]:  # still connected: a ping round trip
        await asyncio.wait_for(await v.ws.ping(), timeout=20)
        await v.ws.close()
    for t in tasks:
        await t
    warm = [r for t, r in samples if t >= warm_at]
    half = len(warm) // 2
    return {"viewers": viewers, "late_s": late.first_snapshot_s, "samples": samples, "warm_at": warm_at, "gap_ns": gap,
            "rss_first_half": max(warm[:half] or warm), "rss_second_half": max(warm[half:]),
            "rss_max": max(r for _, r in samples)}


@pytest.fixture(scope="module")
def big_target() -> Iterator[gofixtures.Target]:
    exe = gofixtures.build("live_stall", optimize=True)
    with gofixtures.run(exe, "-sleep", str(GOROUTINES), timeout=120) as target:
        yield target


def test_twenty_viewers_on_100k_goroutines(big_target: gofixtures.Target) -> None:
    host = subprocess.Popen([str(GOTUI), "share", str(big_target.pid), "--listen",
                             "127.0.0.1:0", "--headless"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    reader = LiveReader(big_target.pid)
    try:
        assert host.stdout is not None
        info = json.loads(host.stdout.readline())
        out = asyncio.run(run_load(info["url"], info["viewer_token"], host.pid, reader))
        assert host.poll() is None, "the host died"
    finally:
        reader.close()
        host.terminate()
        host.wait(timeout=30)
    viewers: list[Viewer] = out["viewers"]  # type: ignore[assignment]
    firsts = sorted(v.first_snapshot_s for v in viewers)
    mb = 1 << 20
    print(f"\nload: {VIEWERS} viewers, {GOROUTINES} goroutines, {SECONDS:.0f} s; "
          f"warm after {out['warm_at']:.1f} s; first snapshot per viewer "
          f"{firsts[0]:.1f}..{firsts[-1]:.1f} s (a late joiner: {out['late_s']:.2f} s), "
          f"{viewers[0].first_snapshot_bytes / mb:.1f} MB; "
          f"snapshots per viewer {min(v.snapshots for v in viewers)}.."
          f"{max(v.snapshots for v in viewers)}; bytes per viewer "
          f"{sum(v.bytes for v in viewers) / VIEWERS / mb:.0f} MB; host RSS max "
          f"{out['rss_max'] / mb:.0f} MB (warm halves {out['rss_first_half'] / mb:.0f} / "
          f"{out['rss_second_half'] / mb:.0f} MB); target's longest tick gap "
          f"{out['gap_ns'] / 1e6:.1f} ms")
    assert out["rss_max"] < RSS_LIMIT, f"host RSS {out['rss_max']} bytes"
    assert out["rss_second_half"] <= out["rss_first_half"] * 1.25 + 64 * mb, \
        "host RSS keeps growing after warm-up"
    assert 0 <= out["gap_ns"] < MAX_GAP_NS, \
        f"target stalled {out['gap_ns'] / 1e6:.0f} ms while shared"
    assert all(v.snapshots >= 2 for v in viewers), "a viewer got no update after the first"
