"""The `blocking` fixture (one goroutine per way to block) seen by the live reader and by
Delve: the Blocking pane's rows, the snapshot JSON, the findings, the goroutine dump
(parsed by panicparse, compared with the Go runtime's own dump of the same process).

One running fixture for the whole module: four live snapshots (the leak grows between
them), one `gotui snapshot --format goroutine-dump`, one dlv attach (Delve's own
snapshot), one halted view (`snapshot --source delve`: the live reader while Delve holds
the target stopped, backends/halted.py), then SIGUSR1 makes the fixture write
runtime.Stack(all)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gotui.backends.analysis import blocking_groups, findings
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.factory import take_snapshot
from gotui.backends.formats import to_goroutine_dump, to_json_text
from gotui.backends.live.reader import LiveReader
from gotui.backends.model import Goroutine, Snapshot, snapshot_from_json, to_json
from gotui.tui.widgets.channels import ChannelRow, channel_rows

from tests import gofixtures
from tests.delve.conftest import dlv_path

pytestmark = pytest.mark.integration

HEADER = re.compile(r"^goroutine (\d+) \[([^\]]+)\]:$", re.M)
GOTUI = gofixtures.ROOT / ".venv" / "bin" / "gotui"
PP = Path(os.environ.get("GOPATH", str(Path.home() / "go"))) / "bin" / "pp"


@dataclass
class Views:
    live: list[Snapshot]  # oldest first, 0.3 s apart
    live_dump: str  # `gotui snapshot --format goroutine-dump` (live reader)
    delve: Snapshot | None  # None when dlv is not installed
    halted: Snapshot | None  # the halted view, with stacks; None without dlv
    runtime_dump: str  # runtime.Stack(all) written by the fixture itself
    untraced_after_delve: bool


def _read_runtime_dump(t: gofixtures.Target, timeout: float = 20) -> str:
    os.kill(t.pid, signal.SIGUSR1)
    assert t.proc.stdout is not None
    fd = t.proc.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while b"END DUMP" not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            data += chunk
    text = data.decode(errors="replace")
    assert "BEGIN DUMP" in text and "END DUMP" in text, text[-500:]
    return text.split("BEGIN DUMP\n", 1)[1].split("END DUMP", 1)[0]


async def _delve_snapshot(pid: int) -> Snapshot:
    b = DelveBackend.for_pid(pid)
    await b.start()
    try:
        return await b.snapshot(stacks=True)
    finally:
        await b.detach()


@pytest.fixture(scope="module")
def views() -> Iterator[Views]:
    exe = gofixtures.build("blocking")
    with gofixtures.run(exe, "-leak-every", "50ms") as t:
        reader = LiveReader(t.pid)
        live = []
        for _ in range(4):
            live.append(reader.snapshot())
            time.sleep(0.3)
        reader.close()
        dump = subprocess.run([str(GOTUI), "snapshot", str(t.pid), "--format",
                               "goroutine-dump"], capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, check=True).stdout
        delve = halted = None
        if dlv_path() is not None:
            delve = asyncio.run(_delve_snapshot(t.pid))
            halted = asyncio.run(take_snapshot(t.pid, source="delve", stacks=True))
        untraced = gofixtures.wait_untraced(t.pid, 10)
        runtime_dump = _read_runtime_dump(t)
        yield Views(live, dump, delve, halted, runtime_dump, untraced)


def by_start(snap: Snapshot) -> dict[str, Goroutine]:
    return {g.start.function: g for g in snap.goroutines}


def view(views: Views, source: str) -> Snapshot:
    """The last live snapshot, Delve's own, or the halted view (skip without dlv)."""
    snap = {"live": views.live[-1], "delve": views.delve, "halted": views.halted}[source]
    if snap is None:
        pytest.skip("dlv is not installed on this machine")
    return snap


def rows_by_addr(snap: Snapshot) -> dict[str, ChannelRow]:
    return {r.chan.addr: r for r in channel_rows(snap.channels, snap.goroutines)}


def test_delve_ran_and_left_the_target_untraced(views: Views) -> None:
    if views.delve is None:
        pytest.skip("dlv is not installed on this machine: only the live reader is checked")
    assert views.untraced_after_delve


@pytest.mark.parametrize("source", ["live", "delve", "halted"])
def test_channel_rows(views: Views, source: str) -> None:
    snap = view(views, source)
    g = by_start(snap)
    rows = rows_by_addr(snap)

    def row_of(fn: str) -> ChannelRow:
        b = g[fn].blocked_on
        assert b is not None, fn
        return rows[b.chan]

    def shape(r: ChannelRow) -> tuple[str, int, int, bool, list[int], list[int]]:
        return (r.chan.elem_type, r.chan.len, r.chan.cap, r.chan.closed, r.senders, r.receivers)

    assert shape(row_of("main.unbufSend")) == ("int", 0, 0, False, [g["main.unbufSend"].id], [])
    assert shape(row_of("main.unbufRecv")) == ("string", 0, 0, False, [],
                                               [g["main.unbufRecv"].id])
    assert shape(row_of("main.fullSend")) == ("int", 2, 2, False, [g["main.fullSend"].id], [])
    assert shape(row_of("main.emptyRecv")) == ("float64", 0, 3, False, [],
                                               [g["main.emptyRecv"].id])
    assert shape(row_of("main.timerWaiter"))[:3] == ("time.Time", 0, 1)
    for fn in ("main.cycleA", "main.cycleB"):
        assert shape(row_of(fn)) == ("int", 0, 0, False, [g[fn].id], [])
    if source != "live":  # buffered values, in receive order
        assert row_of("main.fullSend").chan.elements == ["1", "2"]
        assert row_of("main.emptyRecv").chan.elements == []
    sel = g["main.selectMany"]
    assert sel.wait_reason == "select" and len(sel.waiting_on) == 3
    assert {w.op for w in sel.waiting_on} == {"select"}
    types = sorted(rows[w.chan].chan.elem_type for w in sel.waiting_on)
    assert types == ["bool", "int", "string"]
    assert all(sel.id in rows[w.chan].waiters for w in sel.waiting_on)
    after = g["main.afterWaiter"]
    assert sorted(rows[w.chan].chan.elem_type for w in after.waiting_on) == ["struct {}",
                                                                             "time.Time"]
    for fn in ("main.nilSend", "main.nilRecv"):
        assert g[fn].blocked_on is None and g[fn].waiting_on == []
        assert "(nil chan)" in g[fn].wait_reason
    # a closed channel is never waited on: its poller sleeps between receives
    assert g["main.closedPoller"].blocked_on is None


@pytest.mark.parametrize("source", ["live", "delve", "halted"])
def test_lock_and_other_groups(views: Views, source: str) -> None:
    snap = view(views, source)
    g = by_start(snap)
    groups = {grp.key: grp for grp in blocking_groups(snap.goroutines, snap.locks)}
    for fn, kind in (("main.mutexWaiter", "mutex"), ("main.rwReader", "rwmutex"),
                     ("main.wgWaiter", "waitgroup")):
        addr = g[fn].blocked_on_lock
        assert addr.startswith("0x"), fn
        assert (groups[addr].kind, groups[addr].goroutines) == (kind, [g[fn].id])
    transfers = sorted(x.id for x in snap.goroutines if x.start.function == "main.transfer")
    locks = {x.blocked_on_lock for x in snap.goroutines if x.id in transfers}
    assert len(locks) == 2 and all(groups[a].kind == "mutex" for a in locks)
    # the Cond's address: halted, the receiver of sync.(*Cond).Wait; live, the
    # notifyList that g.waiting's sudog names (Go 1.26+), minus Cond.notify's offset
    cond = g["main.condWaiter"]
    assert (groups[cond.blocked_on_lock].kind, groups[cond.blocked_on_lock].goroutines) == (
        "cond", [cond.id])
    assert "cond" not in groups  # not listed twice
    assert g["main.ioWaiter"].id in groups["io"].goroutines
    assert g["main.sleeper"].id in groups["sleep"].goroutines
    assert g["main.syscallReader"].id in groups["syscall"].goroutines
    kinds = [grp.kind for grp in blocking_groups(snap.goroutines, snap.locks)]
    assert kinds.index("mutex") < kinds.index("io") < kinds.index("sleep")  # locks first


@pytest.mark.parametrize("source", ["live", "halted"])
def test_delve_agrees_on_lock_addresses(views: Views, source: str) -> None:
    ours, delve = by_start(view(views, source)), by_start(view(views, "delve"))
    for fn in ("main.mutexWaiter", "main.rwReader", "main.wgWaiter", "main.condWaiter"):
        assert ours[fn].blocked_on_lock == delve[fn].blocked_on_lock, fn


@pytest.mark.parametrize("source", ["live", "delve", "halted"])
def test_findings_name_both_deadlock_cycles(views: Views, source: str) -> None:
    snap = view(views, source)
    history = views.live[:-1] if source == "live" else []
    found = findings(snap, history)
    g = by_start(snap)
    deadlocks = [f for f in found if f.kind == "deadlock"]
    assert len(deadlocks) == 2, [f.title for f in found]
    chan_cycle = next(f for f in deadlocks if f.title.startswith("channel deadlock cycle"))
    assert chan_cycle.goroutines == sorted([g["main.cycleA"].id, g["main.cycleB"].id])
    assert len(chan_cycle.channels) == 2 and "hint" in chan_cycle.message.lower()
    mutex_cycle = next(f for f in deadlocks if f.title.startswith("mutex deadlock cycle"))
    transfers = sorted(x.id for x in snap.goroutines if x.start.function == "main.transfer")
    assert mutex_cycle.goroutines == transfers and len(mutex_cycle.locks) == 2
    # main holds `held` and rw but sleeps: their waiters are in no cycle
    involved = {i for f in deadlocks for i in f.goroutines}
    assert not involved & {g["main.mutexWaiter"].id, g["main.rwReader"].id}
    nil = next(f for f in found if f.kind == "nil-chan")
    assert nil.goroutines == sorted([g["main.nilSend"].id, g["main.nilRecv"].id])
    assert not any("all" in f.title and f.kind == "deadlock" for f in found)  # main lives


def test_findings_name_the_leak(views: Views) -> None:
    found = findings(views.live[-1], views.live[:-1])
    leaks = [f for f in found if f.kind == "leak"]
    assert len(leaks) == 1 and "main.leakLoop" in leaks[0].title
    leaked = {g.id for g in views.live[-1].goroutines if g.start.function == "main.leaked"}
    assert set(leaks[0].goroutines) == leaked and len(leaked) >= 4


@pytest.mark.parametrize("source", ["live", "delve", "halted"])
def test_snapshot_json_round_trips_locks_and_refs(views: Views, source: str) -> None:
    snap = view(views, source)
    data = json.loads(to_json_text(snap))
    assert {lk["kind"] for lk in data["locks"]} >= {"mutex", "rwmutex", "waitgroup"}
    mw = next(g for g in data["goroutines"] if g["start"]["function"] == "main.mutexWaiter")
    assert mw["blocked_on_lock"] in {lk["addr"] for lk in data["locks"]}
    a = next(g for g in data["goroutines"] if g["start"]["function"] == "main.cycleA")
    assert a["blocked_on"]["op"] == "send" and len(a["stack_refs"]) == 2
    full = next(g for g in data["goroutines"] if g["start"]["function"] == "main.fullSend")
    chan = next(c for c in data["channels"] if c["addr"] == full["blocked_on"]["chan"])
    assert chan["elements"] == (["1", "2"] if source != "live" else None)
    assert to_json(snapshot_from_json(data)) == data


def _dump_goroutines(dump: str) -> dict[int, tuple[str, list[str]]]:
    """goid -> (state, "function file:line" of its frames) of a goroutine dump."""
    out = {}
    for block in dump.split("\n\n"):
        m = HEADER.search(block)
        if not m:
            continue
        lines = block[m.end():].strip("\n").splitlines()
        frames, func = [], ""
        for ln in lines:
            if ln.startswith("created by"):
                break
            if ln.startswith("\t"):
                frames.append(f"{func} {ln.strip().split(' +0x')[0]}")
            elif ln:
                func = ln.rsplit("(", 1)[0]
        out[int(m.group(1))] = (m.group(2), frames)
    return out


@pytest.mark.parametrize("source", ["live", "delve", "halted"])
def test_dump_matches_the_runtimes_own(views: Views, source: str) -> None:
    """Goroutine by goroutine: state, and each frame's function and file:line."""
    ours = _dump_goroutines(views.live_dump if source == "live"
                            else to_goroutine_dump(view(views, source)))
    real = _dump_goroutines(views.runtime_dump)
    dumper = next(g.id for g in views.live[-1].goroutines
                  if g.start.function == "main.dumpOnSignal")
    # The dumper runs in the runtime's dump, and the SIGUSR1 that asks for it wakes
    # os/signal's loop, so those two are caught in another state than in ours.
    woken = {i for i, (_, frames) in real.items()
             if any(f.startswith("os/signal.loop ") for f in frames)}
    common = (set(ours) & set(real)) - {dumper} - woken
    if source == "delve":  # Delve stacks a goroutine in a syscall from its thread's
        # registers (inside the syscall's assembly); the runtime from entersyscall's pc
        common -= {i for i in common if real[i][0].startswith("syscall")}
    assert len(common) >= 25
    for goid in sorted(common):
        assert ours[goid] == real[goid], goid
    # goroutines the runtime shows that we missed: only leaked ones started after our dump
    assert all(any(f.startswith("main.leaked ") for f in real[i][1])
               for i in set(real) - set(ours) - {dumper})
    assert re.search(r"^created by main\.startCycles in goroutine 1$", views.live_dump, re.M)


def _pp(dump: str) -> str:
    if not PP.exists() and shutil.which("pp") is None:
        pytest.skip("panicparse (pp) is not installed here: tools/setup.sh installs it")
    exe = str(PP) if PP.exists() else "pp"
    res = subprocess.run([exe, "-no-color", "-parse=false"], input=dump, capture_output=True,
                         text=True, timeout=60)
    return res.stdout + res.stderr


@pytest.mark.parametrize("source", ["live", "delve", "halted"])
def test_panicparse_reads_our_dump(views: Views, source: str) -> None:
    dump = views.live_dump if source == "live" else to_goroutine_dump(view(views, source))
    headers = HEADER.findall(dump)
    out = _pp(dump)
    buckets = re.findall(r"^(\d+): ([^\[\n]+?)(?: \[|$)", out, re.M)
    assert sum(int(n) for n, _ in buckets) == len(headers), out[:2000]
    want = Counter(state.split(",")[0] for _, state in headers)
    got: Counter[str] = Counter()
    for n, state in buckets:
        got[state.strip()] += int(n)
    assert got == want
    for name in ("cycleA", "transfer", "syscallReader", "(*Cond).Wait", "leaked"):
        assert name in out, name


@pytest.mark.parametrize(("name", "args"), [("basic", ()), ("demo", ("-addr", "127.0.0.1:0"))])
def test_nothing_false_on_healthy_fixtures(name: str, args: tuple[str, ...]) -> None:
    """basic and the demo service: no deadlock or nil-chan finding, live and (demo)
    halted with Delve. The demo's contenders share one mutex held by a running or
    sleeping goroutine: never a cycle."""
    exe = gofixtures.build(name)
    with gofixtures.run(exe, *args) as t:
        reader = LiveReader(t.pid)
        live = []
        for _ in range(4):
            live.append(reader.snapshot())
            time.sleep(0.3)
        reader.close()
        delve = (asyncio.run(_delve_snapshot(t.pid))
                 if name == "demo" and dlv_path() is not None else None)
        assert gofixtures.wait_untraced(t.pid, 10)
    for snap, history in [(live[-1], live[:-1]), *([(delve, [])] if delve else [])]:
        kinds = [f.kind for f in findings(snap, history)]
        assert "deadlock" not in kinds and "nil-chan" not in kinds, kinds
    if name == "demo":  # the contenders wait on cacheMu, found through the semtable
        # the semtable is read just before and just after the g records: only a
        # contender that parked and was woken within that read is missed (rare).
        total = found = 0
        for snap in live:
            contenders = {g.id for g in snap.goroutines if g.start.function == "main.contender"
                          and g.wait_reason == "sync.Mutex.Lock"}
            waiting = {i for lk in snap.locks if lk.kind == "mutex" for i in lk.waiters}
            total, found = total + len(contenders), found + len(contenders & waiting)
        assert total and found * 10 >= total * 9, (found, total)


@pytest.mark.parametrize("source", ["delve", "halted"])
def test_parked_goroutines_top_frame_is_at_the_call(views: Views, source: str) -> None:
    """Delve places frame 0 of a parked goroutine at its saved pc, a return address;
    gotui names it at the call, as the runtime's traceback does: `mcall(park_m)`."""
    tops = {(g.stack[0].file, g.stack[0].line) for g in view(views, source).goroutines
            if g.stack and g.stack[0].function == "runtime.gopark"}
    assert tops
    for file, line in tops:
        assert "mcall(" in Path(file).read_text().splitlines()[line - 1], (file, line)
