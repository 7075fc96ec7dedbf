"""The `holders` fixture run and scored against the truth it prints: shared by
tests/test_holders.py and bench/holders_bench.py (the accuracy table)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gotui.backends.live.holders import lock_objects
from gotui.backends.live.locks import FALLBACK
from gotui.backends.live.reader import LiveReader
from gotui.backends.model import Lock, Snapshot

from tests import gofixtures


@dataclass
class Run:
    target: gofixtures.Target
    truth: list[dict[str, Any]]


def read_truth(t: gofixtures.Target, timeout: float = 30) -> list[dict[str, Any]]:
    assert t.proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = t.ready_line
    while not line.startswith("TRUTH") and time.monotonic() < deadline:
        line = t.proc.stdout.readline().strip()
    assert line.startswith("TRUTH"), line
    return json.loads(line.split(" ", 1)[1])


@contextmanager
def holders_fixture(toolchain: str, optimize: bool, *, on_signal: bool = False
                    ) -> Iterator[gofixtures.Target]:
    exe = gofixtures.build("holders", toolchain=toolchain, optimize=optimize)
    args = ("-start-on-signal",) if on_signal else ()
    with gofixtures.run(exe, *args, ready="WAITING" if on_signal else "TRUTH") as t:
        yield t


def start(t: gofixtures.Target) -> list[dict[str, Any]]:
    """SIGUSR2 to a fixture started with -start-on-signal; its truth once parked."""
    os.kill(t.pid, signal.SIGUSR2)
    return read_truth(t)


def live_snapshot(pid: int, exact: object = None) -> Snapshot:
    reader = LiveReader(pid)
    reader.exact = exact  # type: ignore[assignment]
    try:
        reader.snapshot()
        time.sleep(0.2)
        return reader.snapshot()
    finally:
        reader.exact = None
        reader.close()


async def _delve(pid: int, check_go_version: bool) -> Snapshot:
    """What `gotui snapshot --source delve` shows: halted by Delve, read by the live reader."""
    from gotui.backends.factory import take_snapshot

    return await take_snapshot(pid, source="delve", check_go_version=check_go_version)


def delve_snapshot(pid: int, toolchain: str) -> Snapshot:
    return asyncio.run(_delve(pid, check_go_version=toolchain != "go1.19"))


@dataclass
class Scored:
    name: str
    truth: list[int]
    holders: list[int]
    basis: str
    found: bool  # a lock of the snapshot matched the truth's

    @property
    def right(self) -> int:
        return len(set(self.holders) & set(self.truth))

    @property
    def wrong(self) -> int:
        return len(set(self.holders) - set(self.truth))

    @property
    def missing(self) -> int:
        return len(set(self.truth) - set(self.holders))


def _matching(truth: dict[str, Any], locks: list[Lock]) -> list[Lock]:
    addr = int(truth["addr"], 16)
    return [lk for lk in locks
            if any(a == addr and k == truth["kind"] for a, k in lock_objects(lk, FALLBACK))]


def score(truth: list[dict[str, Any]], snap: Snapshot) -> list[Scored]:
    out = []
    for t in truth:
        locks = _matching(t, snap.locks)
        holders = sorted({h for lk in locks for h in lk.holders})
        bases = {lk.holders_basis for lk in locks if lk.holders}
        basis = "exact" if bases == {"exact"} else "inferred" if bases else "unknown"
        out.append(Scored(t["name"], sorted(t["holders"]), holders, basis, bool(locks)))
    return out


@dataclass
class Table:
    """right / wrong / missing holders per basis over many runs."""

    rows: dict[str, list[int]] = field(default_factory=dict)

    def add(self, scored: list[Scored]) -> None:
        for s in scored:
            row = self.rows.setdefault(s.basis, [0, 0, 0])
            row[0] += s.right
            row[1] += s.wrong
            row[2] += s.missing

    def markdown(self) -> str:
        lines = ["| basis | right | wrong | missing | precision | recall |", "|---|---|---|---|---|---|"]
        for basis in ("exact", "inferred", "unknown"):
            r, w, m = self.rows.get(basis, [0, 0, 0])
            if not r + w + m:
                continue
            prec = f"{r / (r + w):.0%}" if r + w else "—"
            rec = f"{r / (r + m):.0%}" if r + m else "—"
            lines.append(f"| {basis} | {r} | {w} | {m} | {prec} | {rec} |")
        tr, tw, tm = (sum(v[i] for v in self.rows.values()) for i in range(3))
        lines.append(f"| all | {tr} | {tw} | {tm} | "
                     f"{tr / (tr + tw):.0%} | {tr / (tr + tm):.0%} |" if tr + tw and tr + tm
                     else "| all | 0 | 0 | 0 | — | — |")
        return "\n".join(lines)
