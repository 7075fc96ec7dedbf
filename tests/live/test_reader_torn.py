"""Torn reads: the target runs while we read it. Snapshots of a process that creates
and ends goroutines all the time, and of memory corrupted on purpose, must never crash
and never report values that cannot be real."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest
from gotui.backends.live.memory import ProcessMemory
from gotui.backends.live.reader import LiveReader
from gotui.backends.model import STATUS_NAMES, GotuiError, Snapshot

from tests import gofixtures

pytestmark = pytest.mark.integration

PARKED = 200


@pytest.fixture(scope="module")
def churn() -> Iterator[gofixtures.Target]:
    exe = gofixtures.build("live_churn")
    with gofixtures.run(exe, "-parked", str(PARKED), "-workers", "2") as t:
        yield t


def sane(snap: Snapshot, reasons: list[str]) -> None:
    ids = [g.id for g in snap.goroutines]
    assert len(ids) == len(set(ids)) and all(i > 0 for i in ids)
    for g in snap.goroutines:
        assert g.status in STATUS_NAMES.values() and g.status != "dead"
        assert g.wait_reason in reasons
        assert g.wait_reason == "" or g.status in ("waiting", "leaked")
        assert g.wait_ns >= 0
    known = set(ids)
    for c in snap.channels:
        assert 0 <= c.len <= c.cap
        assert set(c.senders) <= known and set(c.receivers) <= known


def test_snapshots_during_churn(churn: gofixtures.Target) -> None:
    reader = LiveReader(churn.pid)
    for _ in range(30):
        snap = reader.snapshot()
        sane(snap, reader.facts.wait_reasons)
        parked = [g for g in snap.goroutines if g.start.function == "main.parked"]
        assert len(parked) == PARKED
        assert all(g.blocked_on is not None and g.blocked_on.op == "recv" for g in parked)
        assert len({g.blocked_on.chan for g in parked if g.blocked_on}) == 1
        shorts = [g for g in snap.goroutines if g.start.function.startswith("main.spawner.")]
        for g in shorts:  # caught mid-life: whatever they show must be real
            assert g.status in ("runnable", "running", "waiting", "syscall", "preempted")
    # 30 snapshots of reused and changed records later: what a fresh reader sees
    fresh = LiveReader(churn.pid)
    views = [{g.id: (g.status, g.wait_reason, g.current, g.user_current, g.start,
                     g.blocked_on)
              for g in r.snapshot().goroutines if g.start.function == "main.parked"}
             for r in (reader, fresh)]
    assert views[0] == views[1] and len(views[0]) == PARKED
    assert gofixtures.tracer_pid(churn.pid) == 0
    assert churn.proc.poll() is None


class CorruptingMemory(ProcessMemory):
    """Flips random bytes in what it reads, like the worst torn read: the g records
    (read_scattered: ranges around neighbouring g's; read_same_size: a g read alone)
    and everything read through them (read_many: sudogs, channels, labels, semaphore
    roots); `read` too when `everything` (then allgs itself may be unreadable)."""

    def __init__(self, pid: int, seed: int, rate: float, everything: bool = False) -> None:
        super().__init__(pid)
        self.rng = random.Random(seed)
        self.rate = rate
        self.everything = everything
        self.flipped = 0

    def _flip(self, buf: bytearray) -> bytearray:  # (or a writable memoryview)
        for _ in range(int(len(buf) * self.rate) or (1 if buf else 0)):
            buf[self.rng.randrange(len(buf))] = self.rng.randrange(256)
            self.flipped += 1
        return buf

    def read_same_size(self, addrs, size):  # type: ignore[no-untyped-def]
        buf, ok = super().read_same_size(addrs, size)
        return self._flip(buf), ok

    def read_scattered(self, buf, plan):  # type: ignore[no-untyped-def]
        ok = super().read_scattered(buf, plan)
        kept = plan.pieces[plan.pieces[:, 0] >= 0]
        if len(kept):  # the records' rows are one block at the start of buf
            self._flip(memoryview(buf)[:int((kept[:, 0] + kept[:, 1]).max())])  # type: ignore[arg-type]
        return ok

    def read_many(self, reqs):  # type: ignore[no-untyped-def]
        return [None if b is None else bytes(self._flip(bytearray(b)))
                for b in super().read_many(reqs)]

    def read(self, addr: int, size: int) -> bytes | None:
        # ProcessMemory.read goes through read_same_size: read without flipping first
        buf, ok = ProcessMemory.read_same_size(self, [addr], size)
        if not ok[0]:
            return None
        return bytes(self._flip(buf) if self.everything else buf)


SEEDS = range(8)


def test_corrupted_records_never_crash_nor_invent(churn: gofixtures.Target) -> None:
    """Every read of the g records and what hangs off them is corrupted: each snapshot
    must come out, and be sane (one reader per seed, so every sub-reader reads through
    the corrupting memory)."""
    dropped = 0
    for seed in SEEDS:
        mem = CorruptingMemory(churn.pid, seed, rate=0.002)
        reader = LiveReader(churn.pid, mem=mem)
        snap = reader.snapshot()
        sane(snap, reader.facts.wait_reasons)
        assert mem.flipped > 0
        dropped += reader.dropped
        for g in snap.goroutines[:50]:
            reader.stack(g.id)
    assert dropped > 0, "no corrupted record was ever caught by the checks"


def test_corrupted_everything_is_a_sane_view_or_one_line(churn: gofixtures.Target) -> None:
    """allgs itself corrupted too: a clean one-line error is fine, but most seeds must
    still give a (sane) snapshot, or this test would check nothing."""
    checked = 0
    for seed in SEEDS:
        mem = CorruptingMemory(churn.pid, seed, rate=0.0005, everything=True)
        reader = LiveReader(churn.pid, mem=mem)
        try:
            snap = reader.snapshot()
        except GotuiError as exc:
            assert "\n" not in str(exc) and str(exc)
            continue
        sane(snap, reader.facts.wait_reasons)
        checked += 1
    assert checked >= len(SEEDS) // 2


def test_target_exiting_gives_one_line_error() -> None:
    exe = gofixtures.build("live_churn")
    with gofixtures.run(exe, "-parked", "10", "-workers", "1") as t:
        reader = LiveReader(t.pid)
        reader.snapshot()
        t.proc.kill()
        t.proc.wait()
        with pytest.raises(GotuiError, match=f"process {t.pid} is gone"):
            reader.snapshot()
        with pytest.raises(GotuiError, match="gone"):
            reader.goroutine_count()


def test_stacks_and_user_locations_of_goroutines_that_keep_moving(
        churn: gofixtures.Target) -> None:
    """The spawners park and wake thousands of times a second: a stack is either one
    whole, consistent walk (down to runtime.goexit, every frame known) or none; a user
    location is never runtime.gopark."""
    from gotui.backends.live.stackwalk import STOP_FUNCS

    reader = LiveReader(churn.pid)
    whole = 0
    for _ in range(40):
        snap = reader.snapshot()
        spawners = [g for g in snap.goroutines if g.start.function == "main.spawner"]
        assert spawners
        for g in spawners:
            if g.status != "waiting":
                continue  # running: no stack is readable without a stop
            assert g.user_current.function not in ("", "runtime.gopark"), g
            assert g.own_current.function.startswith("main."), g
        stacks = reader.stacks([g.id for g in spawners], depth=1024)
        for frames in stacks.values():
            if frames:
                assert all(f.function for f in frames), frames
                assert frames[-1].function in STOP_FUNCS, [f.function for f in frames]
                whole += 1
    assert whole >= 20
    reader.close()


def test_vectorised_checks_agree_on_real_and_corrupted_records(
        churn: gofixtures.Target) -> None:
    """The g records of a process that churns goroutines (dead, reused, mid-change),
    read once, then corrupted copies of them: the vectorised decoding and checks say
    what the scalar ones say about the same bytes, record by record."""
    from tests.live.test_grecords import as_rows

    reader = LiveReader(churn.pid)
    reader.snapshot()
    dec = reader.decoder
    addrs = reader.records.last.addr
    raw, ok = reader.mem.read_same_size(addrs.tolist(), dec.size)
    records = [bytes(raw[i * dec.size:(i + 1) * dec.size]) for i in range(len(addrs)) if ok[i]]
    rng = random.Random(7)
    corrupted = []
    for r in records:
        b = bytearray(r)
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        corrupted.append(bytes(b))
    n_reasons, max_goid = len(reader.facts.wait_reasons), 1 << 40
    for batch in (records, corrupted):
        rows = as_rows(dec, batch)
        want = [dec.valid(dec.struct.unpack(r), n_reasons, max_goid) for r in batch]
        assert dec.valid_rows(rows, n_reasons, max_goid).tolist() == want
        assert list(rows.gs(np.zeros(len(batch), dtype=np.uint64))) == [
            dec.decode(0, r) for r in batch]
    assert not all(dec.valid(dec.struct.unpack(r), n_reasons, max_goid) for r in corrupted)
    reader.close()
