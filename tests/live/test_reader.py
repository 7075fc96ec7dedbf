"""LiveReader on the real `basic` fixture, running: Go 1.26 / 1.19 / 1.27, stripped or not."""

from __future__ import annotations

import dataclasses
import struct
import subprocess
import time
from collections.abc import Iterator

import pytest
from gotui.backends.base import LiveSource
from gotui.backends.live.reader import LiveReader
from gotui.backends.model import Goroutine, GotuiError, Snapshot, to_json

from tests import gofixtures

pytestmark = pytest.mark.integration

MATRIX = [(tc, s) for tc in ("go1.26", "go1.19", "go1.27") for s in (False, True)]
USER_STARTS = {"main.receiver": 3, "main.sender": 2, "main.sleeper": 2, "main.locker": 1,
               "main.ticker": 1, "runtime.main": 1}


@pytest.fixture(scope="module", params=MATRIX, ids=[f"{t}-{'stripped' if s else 'dwarf'}"
                                                    for t, s in MATRIX])
def target(request: pytest.FixtureRequest) -> Iterator[tuple[gofixtures.Target, LiveReader,
                                                             Snapshot]]:
    toolchain, stripped = request.param
    gofixtures.need_toolchain(toolchain)
    exe = gofixtures.build("basic", toolchain=toolchain, stripped=stripped)
    with gofixtures.run(exe) as t:
        reader = LiveReader(t.pid)
        try:
            yield t, reader, reader.snapshot()
        finally:
            reader.close()


def by_start(snap: Snapshot, function: str) -> list[Goroutine]:
    return [g for g in snap.goroutines if g.start.function == function]


def test_is_a_live_source(target) -> None:
    _, reader, snap = target
    assert isinstance(reader, LiveSource)
    assert snap.source == "live" and snap.target_paused_ns == 0
    assert reader.info.go_version.startswith("go1.")


def test_goroutine_count_matches_the_fixture(target) -> None:
    t, reader, snap = target
    expected = int(t.ready_line.split()[1])  # runtime.NumGoroutine(): user goroutines
    user = [g for g in snap.goroutines if g.id not in reader.system_goids]
    assert len(user) == expected
    assert reader.goroutine_count() == len(snap.goroutines)
    assert len({g.id for g in snap.goroutines}) == len(snap.goroutines)
    assert reader.dropped == 0


def test_start_functions_resolved_through_wrappers(target) -> None:
    _, _, snap = target
    counts = {f: len(by_start(snap, f)) for f in USER_STARTS}
    assert counts == USER_STARTS
    for g in by_start(snap, "main.receiver"):
        assert g.start.file.endswith("basic/main.go") and g.start.line == 44
        assert g.go_statement.function == "main.main" and g.go_statement.line == 90
        assert g.parent_id in (0, 1)  # parentGoid exists since Go 1.21


def test_wait_reasons(target) -> None:
    t, _, snap = target
    old = "go1.19" in str(t.exe)
    expected = {"main.receiver": "chan receive", "main.sender": "chan send",
                "main.sleeper": "sleep", "main.ticker": "sleep",
                "main.locker": "semacquire" if old else "sync.Mutex.Lock"}
    for fn, reason in expected.items():
        for g in by_start(snap, fn):
            if fn == "main.ticker" and g.status != "waiting":
                continue  # it wakes every millisecond
            assert (g.status, g.wait_reason) == ("waiting", reason), fn


def test_channels(target) -> None:
    _, _, snap = target
    recv = by_start(snap, "main.receiver")
    send = by_start(snap, "main.sender")
    assert {g.blocked_on.op for g in recv if g.blocked_on} == {"recv"}
    assert len({g.blocked_on.chan for g in recv if g.blocked_on}) == 1
    assert {g.blocked_on.op for g in send if g.blocked_on} == {"send"}
    chans = {c.addr: c for c in snap.channels}
    rc = chans[recv[0].blocked_on.chan]
    sc = chans[send[0].blocked_on.chan]
    assert (rc.elem_type, rc.len, rc.cap, rc.closed) == ("int", 0, 0, False)
    assert rc.receivers == sorted(g.id for g in recv) and rc.senders == []
    assert (sc.elem_type, sc.len, sc.cap, sc.closed) == ("string", 2, 2, False)
    assert sc.senders == sorted(g.id for g in send) and sc.receivers == []
    assert all(c.elements is None for c in snap.channels)
    for g in recv:
        assert g.waiting_on == [g.blocked_on]
    for g in by_start(snap, "main.sleeper"):
        assert g.blocked_on is None and g.waiting_on == []


def test_labels(target) -> None:
    t, reader, snap = target
    (ticker,) = by_start(snap, "main.ticker")
    if reader.facts.go_minor < 24:
        assert ticker.labels == {}  # labelMap is a Go map before 1.24: not read live
    else:
        assert ticker.labels == {"role": "ticker"}
    assert all(not g.labels for g in snap.goroutines if g is not ticker)


def test_locations_and_stack_of_a_receiver(target) -> None:
    _, reader, snap = target
    g = by_start(snap, "main.receiver")[0]
    assert g.current.function == "runtime.gopark"
    assert (g.user_current.function, g.user_current.line) == ("main.receiver", 45)
    frames = reader.stack(g.id)
    names = [f.function for f in frames]
    assert names[0] == "runtime.gopark" and names[-1] == "runtime.goexit"
    i = names.index("main.receiver")
    assert frames[i].file.endswith("basic/main.go") and frames[i].line == 45
    assert frames[i].kind == "go" and frames[0].kind == "runtime"
    assert "runtime.chanrecv1" in names[:i]
    assert reader.stack(g.id, depth=2) == frames[:2]
    assert reader.stack(10**9) == []


def test_sleeper_user_frame_is_time_sleep(target) -> None:
    _, _, snap = target
    for g in by_start(snap, "main.sleeper"):
        assert g.user_current.function == "time.Sleep"


def test_never_traces_and_target_keeps_running(target) -> None:
    t, reader, _ = target
    for _ in range(3):
        reader.snapshot()
        assert gofixtures.tracer_pid(t.pid) == 0
    assert gofixtures.making_progress(t.pid)
    assert t.proc.poll() is None


def stable_view(snap: Snapshot) -> dict[int, tuple]:
    """What cannot change between two snapshots of the fixture's parked goroutines."""
    return {g.id: (g.status, g.wait_reason, g.current, g.user_current, g.go_statement,
                   g.start, g.parent_id, g.blocked_on, g.waiting_on, g.labels)
            for g in snap.goroutines if g.start.function in USER_STARTS
            and g.start.function not in ("main.ticker", "runtime.main")}


def test_later_snapshots_reuse_unchanged_goroutines_copy_on_write(target) -> None:
    """Snapshots after the first reuse unchanged records (not decoded or walked again)
    and their Goroutine objects, copied when only wait_ns changed: they must show what a
    fresh reader shows, and never change what an older snapshot holds."""
    t, reader, _ = target
    first = reader.snapshot()
    frozen = to_json(first)
    second = reader.snapshot()
    fresh = LiveReader(t.pid)
    try:
        expected = stable_view(fresh.snapshot())
    finally:
        fresh.close()
    assert len(expected) == sum(USER_STARTS.values()) - 2
    assert stable_view(first) == expected and stable_view(second) == expected
    a = {g.id: g for g in first.goroutines}
    body = [f.name for f in dataclasses.fields(Goroutine) if f.name != "wait_ns"]
    reused = [g for g in second.goroutines if g.id in a and (g is a[g.id] or all(
        getattr(g, n) is getattr(a[g.id], n) for n in body))]
    assert reused  # the parked lockers at least: not extra reads, same bytes
    reader.snapshot()
    assert to_json(first) == frozen


def test_goroutines_of_a_kind_share_their_empty_containers(target) -> None:
    """An empty stack, waiting_on and stack_refs are one object per kind of goroutine
    (168 MB at 1M goroutines otherwise); labels are each goroutine's own: sharing them
    marks a copy (tui/snapshot_changes.py), which would hide a moved goroutine."""
    _, reader, _ = target
    a, b = by_start(reader.snapshot(), "main.sleeper")[:2]
    assert (a.labels, a.stack, a.waiting_on, a.stack_refs) == ({}, [], [], [])
    assert a.stack is b.stack and a.waiting_on is b.waiting_on
    assert a.stack_refs is b.stack_refs and a.labels is not b.labels


def frozen_read(reader: LiveReader, monkeypatch: pytest.MonkeyPatch, addr: int,
                status: int | None = None, waitsince: int | None = None) -> None:
    """Makes the g record at `addr` read with another status word or waitsince (g
    records are read as ranges cut into pieces: ProcessMemory.read_scattered)."""
    dec = reader.decoder
    wait_off = reader.facts.layouts["runtime.g"].offsets["waitsince"]
    real = reader.mem.read_scattered

    def read(buf, plan):  # type: ignore[no-untyped-def]
        ok = real(buf, plan)
        for i, a in enumerate(plan.addrs.tolist()):
            for off, n in plan.pieces[plan.first[i]:plan.first[i + 1]].tolist():
                if a == addr and off >= 0:
                    if status is not None:
                        struct.pack_into("<I", buf, off + dec.status_off, status)
                    if waitsince is not None:
                        struct.pack_into("<q", buf, off + wait_off, waitsince)
                a += n
        return ok

    monkeypatch.setattr(reader.mem, "read_scattered", read)


def test_an_unchanged_record_still_waits_longer(target, monkeypatch) -> None:
    """A reused goroutine keeps its object, and its wait_ns counts to the newest read
    (no copy per moved wait: backends/waitclock.py)."""
    _, reader, _ = target
    victim = by_start(reader.snapshot(), "main.sleeper")[0].id
    since = time.monotonic_ns() - 5_000_000_000
    frozen_read(reader, monkeypatch, reader._gaddr[victim], waitsince=since)
    first = {g.id: g for g in reader.snapshot().goroutines}[victim]
    waited = first.wait_ns
    time.sleep(0.02)
    second = {g.id: g for g in reader.snapshot().goroutines}[victim]
    assert second is first  # reused
    assert 5_000_000_000 <= waited
    assert waited + 20_000_000 <= second.wait_ns == reader.clock.now - since


def test_a_wait_that_begins_anew_gets_a_new_object(target, monkeypatch) -> None:
    """Same record but a new g.waitsince: a copy counting from the new start; the old
    object still counts from the old one."""
    _, reader, _ = target
    victim = by_start(reader.snapshot(), "main.sleeper")[0].id
    old_since = time.monotonic_ns() - 5_000_000_000
    frozen_read(reader, monkeypatch, reader._gaddr[victim], waitsince=old_since)
    first = {g.id: g for g in reader.snapshot().goroutines}[victim]
    new_since = time.monotonic_ns() - 1_000_000_000
    frozen_read(reader, monkeypatch, reader._gaddr[victim], waitsince=new_since)
    second = {g.id: g for g in reader.snapshot().goroutines}[victim]
    assert second is not first and second.current is first.current
    assert second.wait_ns == reader.clock.now - new_since < first.wait_ns
    assert first.wait_ns == reader.clock.now - old_since


def test_a_changed_state_shows_in_the_next_snapshot(target, monkeypatch) -> None:
    """A goroutine whose g record changes (here: a parked locker read as runnable) gets a
    new object in the next snapshot; the older snapshot keeps what it had."""
    _, reader, _ = target
    reader.snapshot()
    before = reader.snapshot()
    frozen = to_json(before)
    victim = by_start(before, "main.locker")[0]
    assert victim.status == "waiting"
    frozen_read(reader, monkeypatch, reader._gaddr[victim.id], status=1)
    changed = {g.id: g for g in reader.snapshot().goroutines}[victim.id]
    assert (changed.status, changed.wait_reason, changed.wait_ns) == ("runnable", "", 0)
    assert changed.user_current == victim.user_current  # parked where it was
    assert to_json(before) == frozen
    monkeypatch.undo()
    after = reader.snapshot()
    assert stable_view(after) == stable_view(before)
    assert to_json(before) == frozen


def test_lock_and_stack_refs_are_set_copy_on_write(target, monkeypatch) -> None:
    """blocked_on_lock and stack_refs are found after the goroutines are made: set on a
    reused object, they must go to a copy (and go away again in the next snapshot)."""
    _, reader, _ = target
    reader.snapshot()
    base = reader.snapshot()
    victim = by_start(base, "main.sleeper")[0].id
    real = reader.blocking.find

    def find(*args):  # type: ignore[no-untyped-def]
        locks, lock_of, refs = real(*args)
        return locks, {**lock_of, victim: "0xdead"}, {**refs, victim: ["0xbeef"]}

    monkeypatch.setattr(reader.blocking, "find", find)
    frozen = to_json(base)
    marked = {g.id: g for g in reader.snapshot().goroutines}[victim]
    assert (marked.blocked_on_lock, marked.stack_refs) == ("0xdead", ["0xbeef"])
    assert to_json(base) == frozen
    again = {g.id: g for g in reader.snapshot().goroutines}[victim]
    assert (again.blocked_on_lock, again.stack_refs) == ("0xdead", ["0xbeef"])
    monkeypatch.undo()
    frozen = to_json(again)
    clean = {g.id: g for g in reader.snapshot().goroutines}[victim]
    assert (clean.blocked_on_lock, clean.stack_refs) == ("", [])
    assert to_json(again) == frozen


def test_a_changed_record_among_unchanged_ones_is_seen(target, monkeypatch) -> None:
    """Unchanged records are reused block by block: one g whose bytes change (here: its
    status word, made dead in what we read) must still be noticed, and come back."""
    _, reader, _ = target
    before = reader.snapshot()
    victim = by_start(before, "main.sleeper")[0].id
    frozen_read(reader, monkeypatch, reader._gaddr[victim], status=6)
    assert victim not in {g.id for g in reader.snapshot().goroutines}
    monkeypatch.undo()
    after = reader.snapshot()
    assert victim in {g.id for g in after.goroutines}
    assert stable_view(after) == stable_view(before)


def test_stripped_gives_the_same_names() -> None:
    gofixtures.need_toolchain("go1.26")
    names = []
    for stripped in (False, True):
        exe = gofixtures.build("basic", stripped=stripped)
        with gofixtures.run(exe) as t:
            snap = LiveReader(t.pid).snapshot()
            names.append(sorted((g.start.function, g.user_current.function, g.wait_reason)
                                for g in snap.goroutines if g.status == "waiting"
                                and g.start.function != "main.ticker"))
    assert names[0] == names[1]


def test_batched_stacks_match_single_stacks(target) -> None:
    _, reader, snap = target
    parked = [g.id for g in snap.goroutines if g.start.function != "main.ticker"]
    many = reader.stacks(parked + [10**9])
    assert many[10**9] == []
    for goid in parked:
        assert many[goid] == reader.stack(goid), goid
        assert many[goid][-1].function == "runtime.goexit"
    assert reader.stacks(parked[:1], depth=3)[parked[0]] == many[parked[0]][:3]


def test_errors_are_one_line() -> None:
    p = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(GotuiError, match="not a Go binary"):
            LiveReader(p.pid)
    finally:
        p.kill()
        p.wait()
    with pytest.raises(GotuiError, match="gone"):
        LiveReader(p.pid)


def test_without_channel_layouts_goroutines_still_read(target) -> None:
    t, reader, _ = target

    class NoChanFacts:
        def __getattr__(self, name: str) -> object:
            return getattr(reader.facts, name)

        layouts = {k: v for k, v in reader.facts.layouts.items() if k != "runtime.sudog"}

    other = LiveReader(t.pid, facts=NoChanFacts())  # type: ignore[arg-type]
    snap = other.snapshot()
    assert snap.channels == [] and all(g.blocked_on is None for g in snap.goroutines)
    assert len(by_start(snap, "main.receiver")) == 3
