"""The g-record table (backends/live/grecords.py) and the vectorised decoding and checks
(GDecoder.rows / valid_rows) on records laid out in this process's own memory and read
with process_vm_readv, as the reader reads a target's: neighbours read as one range,
gaps, unmapped pages, torn pointers, goids twice, records that change between reads."""

from __future__ import annotations

import ctypes
import mmap
import os
import random
import struct

import numpy as np
import pytest
from gotui.backends.gobinary.binary import StructLayout
from gotui.backends.live import grecords
from gotui.backends.live.goroutines import DEAD, GDecoder, GRows, in_statuses, statuses
from gotui.backends.live.grecords import GRecordReader
from gotui.backends.live.memory import ProcessMemory
from gotui.backends.model import STATUS_NAMES

from tests.live.test_reader_units import G_OFFSETS, GOOD, record

N_REASONS = 40
PARKED = frozenset({0, 1, 4, 9, 10})
STRIDE = 480  # g's size class: neighbours in a span are this far apart
LIBC = ctypes.CDLL(None, use_errno=True)


@pytest.fixture()
def dec() -> GDecoder:
    return GDecoder(StructLayout("runtime.g", 456, dict(G_OFFSETS)))


class Heap:
    """Pages of this process where records are written (a page can be made unreadable)."""

    def __init__(self, pages: int) -> None:
        self.map = mmap.mmap(-1, pages * mmap.PAGESIZE)
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(self.map))

    def put(self, off: int, data: bytes) -> int:
        self.map[off:off + len(data)] = data
        return self.base + off

    def protect(self, page: int, readable: bool) -> None:
        assert LIBC.mprotect(ctypes.c_void_p(self.base + page * mmap.PAGESIZE),
                             mmap.PAGESIZE, 3 if readable else 0) == 0


def reader(dec: GDecoder, max_goid: int = 1 << 40) -> GRecordReader:
    return GRecordReader(ProcessMemory(os.getpid()), dec, N_REASONS, lambda: max_goid, PARKED)


def scalar(dec: GDecoder, data: bytes, max_goid: int = 1 << 40) -> tuple[tuple[int, ...], bool]:
    vals = dec.struct.unpack(data[:dec.size])
    return vals, dec.valid(vals, N_REASONS, max_goid)


def as_rows(dec: GDecoder, records: list[bytes]) -> GRows:
    """Records decoded by GDecoder.rows from one buffer of rows."""
    stride = -(-dec.size // 8) * 8
    buf = np.zeros(len(records) * stride, dtype=np.uint8)
    for i, r in enumerate(records):
        buf[i * stride:i * stride + dec.size] = np.frombuffer(r[:dec.size], dtype=np.uint8)
    rows = GRows.zeros(len(records))
    dec.rows(buf.reshape(len(records), stride), rows, slice(0, len(records)))
    return rows


def test_rows_decode_as_the_scalar_decoder(dec: GDecoder) -> None:
    rng = random.Random(1)
    records = [record(**{**GOOD, "goid": 1000 + i, "atomicstatus": rng.choice([1, 4, 0x1004]),
                         "waitsince": rng.randrange(-(1 << 40), 1 << 40) & (2**64 - 1)})
               for i in range(50)]
    rows = as_rows(dec, records)
    addrs = np.arange(50, dtype=np.uint64) * 480 + 0xc000000000
    for r, g, addr in zip(records, rows.gs(addrs), addrs.tolist(), strict=True):
        assert g == dec.decode(addr, r)
    assert rows["waitsince"].dtype == np.int64 and (rows["waitsince"] < 0).any()
    assert ((rows["status"] & 0x1000) != 0).any()  # rows keep the scan bit


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_checks_agree_with_the_scalar_ones_on_corrupted_records(
        dec: GDecoder, seed: int) -> None:
    """Random byte flips in good records (torn reads at their worst): valid_rows says
    what valid says, record by record (both ways must occur)."""
    rng = random.Random(seed)
    records = []
    for i in range(400):
        raw = bytearray(record(**{**GOOD, "goid": 5 + i, "atomicstatus": rng.choice([1, 2, 4, 6])}))
        for _ in range(rng.randrange(4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        if rng.random() < 0.1:  # a whole field torn
            struct.pack_into("<Q", raw, rng.choice(list(G_OFFSETS.values())) & ~7,
                             rng.randrange(2**64))
        records.append(bytes(raw))
    for max_goid in (1 << 40, 300):
        want = [scalar(dec, r, max_goid)[1] for r in records]
        got = dec.valid_rows(as_rows(dec, records), N_REASONS, max_goid).tolist()
        assert got == want
        assert True in want and False in want


def test_status_tables_refuse_torn_words() -> None:
    table = statuses(DEAD)
    words = np.array([0, 5, 6, 7, 11, 12, 15, 16, 0xEFFF, 2**64 - 1], dtype=np.uint64)
    assert in_statuses(words, table).tolist() == [w in DEAD for w in words.tolist()]
    known = statuses(set(STATUS_NAMES))
    assert not in_statuses(np.array([99, 2**40], dtype=np.uint64), known).any()


def test_neighbours_gaps_and_torn_pointers_read_as_one_at_a_time(dec: GDecoder) -> None:
    """Records next to each other are read as ranges; whatever the layout, each row is
    what the scalar decoder makes of that address's bytes, and pointers that cannot be
    read fail alone."""
    heap = Heap(17)
    heap.protect(16, readable=False)
    addrs = []
    for i in range(40):  # runs of neighbours, gaps of various sizes
        off = i * STRIDE + (i // 7) * 2000
        addrs.append(heap.put(off, record(**{**GOOD, "goid": 100 + i})))
    addrs.insert(5, addrs[3])  # the same g twice (allgs is read while it changes)
    addrs.insert(9, addrs[8] + 8)  # overlapping a neighbour (a torn pointer)
    addrs.append(1 << 60)  # nothing there
    addrs.append(heap.base + 16 * mmap.PAGESIZE - 100)  # runs into an unreadable page
    rows, ok = reader(dec).read_rows(np.array(addrs, dtype=np.uint64))
    heap.protect(16, readable=True)
    assert ok.tolist() == [True] * (len(addrs) - 2) + [False, False]
    for a, g, good in zip(addrs, rows.gs(np.array(addrs, dtype=np.uint64)), ok.tolist(),
                          strict=True):
        if good:
            want = ctypes.string_at(a, dec.size)
            assert g == dec.decode(a, want)
        else:
            assert g.goid == 0  # a failed row is zero


def test_an_unreadable_page_fails_only_its_records(dec: GDecoder) -> None:
    heap = Heap(6)
    page = mmap.PAGESIZE
    addrs = [heap.put(i * STRIDE, record(**{**GOOD, "goid": 7 + i})) for i in range(6 * page // STRIDE)]
    heap.protect(2, readable=False)
    try:
        rows, ok = reader(dec).read_rows(np.array(addrs, dtype=np.uint64))
    finally:
        heap.protect(2, readable=True)
    for a, good, goid in zip(addrs, ok.tolist(), rows["goid"].tolist(), strict=True):
        hits = a + dec.size > heap.base + 2 * page and a < heap.base + 3 * page
        assert good is not hits
        assert goid == (0 if hits else 7 + addrs.index(a))


def test_checked_reads_and_what_changed(dec: GDecoder) -> None:
    heap = Heap(8)
    addrs = [heap.put(i * STRIDE, record(**{**GOOD, "goid": 10 + i})) for i in range(20)]
    heap.put(3 * STRIDE, record(**{**GOOD, "goid": 13, "atomicstatus": 6}))  # dead
    heap.put(4 * STRIDE, record(**{**GOOD, "goid": 0}))  # fails the checks twice
    heap.put(5 * STRIDE, record(**{**GOOD, "goid": 12}))  # 12 again: dropped
    r = reader(dec)
    a = np.array(addrs, dtype=np.uint64)
    first = r.read(a)
    assert first.live.tolist() == [i not in (3, 4, 5) for i in range(20)]
    assert first.dropped == 2 and not first.same.any() and (first.prev == -1).all()
    # the next read: unchanged records are `same`; a changed one is not, nor its top
    heap.put(7 * STRIDE, record(**{**GOOD, "goid": 17, "waitsince": 5}))
    heap.put(8 * STRIDE, record(**{**GOOD, "goid": 18, "sched__pc": 0x401008}))
    heap.put(4 * STRIDE, record(**{**GOOD, "goid": 14}))  # now a good record
    second = r.read(a)
    assert second.prev.tolist() == list(range(20))
    assert second.live.tolist() == [i not in (3, 5) for i in range(20)]
    same = [i for i in range(20) if second.same[i]]
    assert same == [i for i in range(20) if i not in (3, 4, 5, 7, 8)]
    assert second.same_top[7] and not second.same_top[8]  # only waitsince moved in 7
    # allgs read in another order (and grown): records follow their addresses
    order = [19, 0, 7, *range(1, 7), *range(8, 19)]
    extra = heap.put(20 * STRIDE, record(**{**GOOD, "goid": 30}))
    b = np.array([addrs[i] for i in order] + [extra], dtype=np.uint64)
    third = r.read(b)
    assert third.prev.tolist() == order + [-1]
    assert third.same.tolist() == [i not in (3, 5) for i in order] + [False]
    assert third.rows["goid"].tolist()[:3] == [29, 10, 17]


def test_records_failing_the_checks_are_read_again(dec: GDecoder) -> None:
    """A record torn in the first read but whole in the second is kept (not dropped)."""
    heap = Heap(4)
    addrs = np.array([heap.put(i * STRIDE, record(**{**GOOD, "goid": 40 + i}))
                      for i in range(5)], dtype=np.uint64)
    r = reader(dec)
    real = r.mem.read_scattered
    calls = []

    def torn_once(buf, plan):  # type: ignore[no-untyped-def]
        ok = real(buf, plan)
        if not calls:  # the first read: record 2's goid torn to 0
            for i, a in enumerate(plan.addrs.tolist()):
                for off, n in plan.pieces[plan.first[i]:plan.first[i + 1]].tolist():
                    if a == int(addrs[2]) and off >= 0:
                        struct.pack_into("<Q", buf, off + G_OFFSETS["goid"], 0)
                    a += n
        calls.append(plan)
        return ok

    r.mem.read_scattered = torn_once  # type: ignore[method-assign]
    read = r.read(addrs)
    assert len(calls) == 2 and len(calls[1].addrs) == 1  # record 2 read again, alone
    assert read.live.all() and read.dropped == 0
    assert read.rows["goid"].tolist() == [40, 41, 42, 43, 44]


def test_a_read_steps_aside_between_chunks(dec: GDecoder,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A key that lands on a big read waits for one chunk, not the whole read."""
    steps: list[int] = []
    monkeypatch.setattr(grecords, "step_aside", lambda: steps.append(1) or 0.0)
    monkeypatch.setattr(grecords, "CHUNK", 16)
    heap = Heap(8)
    addrs = [heap.put(i * STRIDE, record(**{**GOOD, "goid": 10 + i})) for i in range(64)]
    rows, ok = reader(dec).read_rows(np.array(addrs, dtype=np.uint64))
    assert ok.all() and rows["goid"].tolist() == list(range(10, 74))
    assert len(steps) >= 64 // 16
