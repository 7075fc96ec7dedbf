"""Every g record of a running process, read in a few syscalls and checked vectorised,
and what changed since the last read.

The kernel's cost of process_vm_readv is per iovec (it pins the target's pages one
iovec at a time), not per byte, and g's sit next to each other in the heap (spans of
one size class). So the records are read as ranges around neighbouring g's (the
bytes between them included), a chunk of ranges at a time into one buffer kept from
read to read, and decoded by numpy, one gather per field (GDecoder.rows). A range
that does not read whole (a torn allgs pointer into unmapped memory) is read again
record by record.

The process keeps running: records that fail the checks (GDecoder.valid_rows) are
read once more and dropped if they fail again. A record whose decoded fields equal
those read at the same address last time, and which was a goroutine then, is the
same goroutine in the same state: it is not checked again, and `same` tells the
reader it need not decode it again either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from gotui.backends.live.goroutines import DEAD_ROWS, GDecoder, GRows, in_statuses, statuses
from gotui.backends.live.memory import USER_MAX, ProcessMemory, Scatter, scatter
from gotui.backends.model import SCAN_BIT
from gotui.backends.yielding import step_aside

MAX_GAP = 1024  # bytes between two g's that are read through rather than skipped
RUN = 256  # g's per range at most (2 * RUN pieces: within IOV_MAX)
CHUNK = 4096  # records read into the kept buffer at once (its rows stay in cache)
_ALIGN = 8
# fields that say where a parked goroutine is (its stack walk depends on nothing else)
_TOP = ("goid", "waitreason", "pc", "sp", "bp")


def masked_status(rows: GRows) -> np.ndarray:
    return rows["status"] & ~np.uint64(SCAN_BIT)


@dataclass
class GRead:
    """One read of every g record (allgs order), checked, compared with the last read."""

    addr: np.ndarray  # uint64
    rows: GRows  # a dropped record's row is what was read
    live: np.ndarray  # bool: a goroutine of this read (valid, not dead, its goid first)
    same: np.ndarray  # bool: live, and the same row at this address was live last time
    # bool: live and parked with the same goid, status, wait reason and sched.pc/sp/bp as
    # the live row at this address last time (its stack's top is where it was)
    same_top: np.ndarray
    prev: np.ndarray  # int64: index of the same address in the last read, -1 if none
    dropped: int  # records that failed the checks twice, or named a goid twice


def _empty() -> GRead:
    none = np.zeros(0, dtype=bool)
    return GRead(np.zeros(0, np.uint64), GRows.zeros(0), none, none, none,
                 np.zeros(0, np.int64), 0)


class _Chunk(NamedTuple):
    """CHUNK records (in allgs order) read at once: ranges around those that are
    neighbours in memory, cut into one piece per record (to its row of the buffer)
    and the bytes between them (skipped)."""

    rows: slice  # its records
    reads: Scatter  # its ranges, cut into pieces
    record_range: np.ndarray  # int64: per record of the chunk, its range (-1: unreadable)


class _Plan(NamedTuple):
    """How to read the records at some addresses: kept while allgs does not change."""

    addrs: np.ndarray
    chunks: list[_Chunk]


def _plan(addrs: np.ndarray, size: int, stride: int, one_each: bool = False) -> _Plan:
    """Ranges around the records that are neighbours in memory (or one range per
    record), chunk by chunk."""
    chunks = []
    for p0 in range(0, len(addrs), CHUNK):
        a = addrs[p0:p0 + CHUNK]
        order = np.argsort(a, kind="stable")
        order = order[a[order] < USER_MAX - (1 << 32)]  # a garbage pointer fails
        s = a[order]
        gap = np.diff(s).astype(np.int64) - size
        new = np.ones(len(s), dtype=bool)  # s[k] starts a range
        if not one_each and len(s):
            new[1:] = (gap < 0) | (gap > MAX_GAP)  # (overlapping: torn pointers)
            new[::RUN] = True
        rid = np.cumsum(new) - 1
        # pieces: the record, preceded by the gap from the last one in its range
        with_gap = ~new
        n_pieces = len(s) + int(with_gap.sum())
        at = np.arange(len(s)) + np.cumsum(with_gap)  # each record's piece
        pieces = np.empty((n_pieces, 2), dtype=np.int64)
        pieces[at, 0] = order * stride
        pieces[at, 1] = size
        gaps = at[with_gap] - 1
        pieces[gaps, 0] = -1
        pieces[gaps, 1] = gap[with_gap[1:]] if len(s) else 0
        first = np.append(at[new], n_pieces)
        record_range = np.full(len(a), -1, dtype=np.int64)
        record_range[order] = rid
        chunks.append(_Chunk(slice(p0, p0 + len(a)), scatter(s[new], pieces, first),
                             record_range))
    return _Plan(addrs, chunks)


class GRecordReader:
    """Reads and checks g records; keeps the last read to tell what changed."""

    def __init__(self, mem: ProcessMemory, decoder: GDecoder, n_reasons: int,
                 max_goid: Callable[[], int], parked: frozenset[int]) -> None:
        self.mem = mem
        self.decoder = decoder
        self.n_reasons = n_reasons
        self.max_goid = max_goid  # read after the records: no goid read can be larger
        self._parked = statuses(parked)
        self._stride = -(-decoder.size // _ALIGN) * _ALIGN  # bytes per row of the buffer
        # kept from read to read: a fresh buffer costs page faults inside the syscall
        self._buf = np.empty(0, dtype=np.uint64)
        self._plan: _Plan | None = None  # of the last big read
        self.last: GRead = _empty()

    def forget(self) -> None:
        self.last = _empty()
        self._buf = np.empty(0, dtype=np.uint64)
        self._plan = None

    # ------------------------------------------------------------ raw reads
    def read_rows(self, addrs: np.ndarray) -> tuple[GRows, np.ndarray]:
        """(rows, ok): the record at each address, and whether it was read whole (the
        row of one that was not is zero)."""
        size, stride = self.decoder.size, self._stride
        plan = self._plan
        if plan is None or not np.array_equal(plan.addrs, addrs):
            plan = _plan(addrs, size, stride)
            if len(addrs) > RUN:
                self._plan = plan
        rows = GRows.zeros(len(addrs))
        ok = self._read_plan(plan, rows)
        retry = np.flatnonzero(~ok)
        if len(retry):  # record by record: one unmapped page fails only its own
            again = GRows.zeros(len(retry))
            ok[retry] = self._read_plan(_plan(addrs[retry], size, stride, one_each=True), again)
            rows.put(retry, again)
        rows.data[:, ~ok] = 0
        return rows, ok

    def _read_plan(self, plan: _Plan, rows: GRows) -> np.ndarray:
        """Reads the plan's records, a chunk at a time, decoding each chunk's rows into
        `rows`. Returns which records were read whole."""
        ok = np.zeros(len(plan.addrs), dtype=bool)
        need = min(len(plan.addrs), CHUNK) * self._stride
        if self._buf.nbytes < need:
            self._buf = np.empty(need // _ALIGN, dtype=np.uint64)
        buf = self._buf.view(np.uint8)
        for c in plan.chunks:
            # a key that lands on the read of 1M records waits for one chunk of CHUNK,
            # not for the whole read
            step_aside()
            range_ok = self.mem.read_scattered(buf, c.reads)
            n = c.rows.stop - c.rows.start
            self.decoder.rows(buf[:n * self._stride].reshape(n, self._stride), rows, c.rows)
            readable = c.record_range >= 0
            ok[c.rows][readable] = range_ok[c.record_range[readable]]
        return ok

    # ------------------------------------------------------------ checked reads
    def read(self, addrs: np.ndarray) -> GRead:
        """Every record at `addrs`, checked (see module doc), against the last read."""
        n = len(addrs)
        rows, ok = self.read_rows(addrs)
        last = self.last
        prev, prefix = self._previous(addrs)
        same = np.zeros(n, dtype=bool)
        same_top = np.zeros(n, dtype=bool)
        if prefix:
            at: np.ndarray | slice = slice(0, len(last.addr))
            before, was_live = last.rows, last.live
        else:
            at = np.flatnonzero(prev >= 0)
            before, was_live = last.rows.take(prev[at]), last.live[prev[at]]
        now = rows.take(at)
        if len(now):
            same[at] = ok[at] & was_live & ~now.differ(before)
            status = masked_status(now)
            top = was_live & ok[at] & (status == masked_status(before))
            top &= in_statuses(status, self._parked)
            for f in _TOP:
                top &= now[f] == before[f]
            same_top[at] = top
        # unchanged records passed the checks before: only the others are checked
        accepted = same.copy()
        check = np.flatnonzero(~same)
        checked = rows if len(check) == n else rows.take(check)  # (the first read: all)
        good = ok[check] & self.decoder.valid_rows(checked, self.n_reasons,
                                                   self.max_goid())
        accepted[check[good]] = True
        bad = check[~good]
        dropped = 0
        if len(bad):  # read once more
            again, again_ok = self.read_rows(addrs[bad])
            good = again_ok & self.decoder.valid_rows(again, self.n_reasons, self.max_goid())
            rows.put(bad, again)
            accepted[bad] = good
            same_top[bad] = False
            dropped = int(len(bad) - good.sum())
        live = accepted & ~in_statuses(masked_status(rows), DEAD_ROWS)
        # a goid twice: one of them is a torn read of a reused g (the first one stays)
        at = np.flatnonzero(live)
        goids = rows["goid"][at]
        by_goid = np.argsort(goids, kind="stable")
        twice = by_goid[1:][goids[by_goid[1:]] == goids[by_goid[:-1]]]
        if len(twice):
            live[at[twice]] = False
            dropped += len(twice)
        same &= live
        same_top &= live
        read = GRead(addrs, rows, live, same, same_top, prev, dropped)
        self.last = read
        return read

    def _previous(self, addrs: np.ndarray) -> tuple[np.ndarray, bool]:
        """Index of each address in the last read (-1: none), and whether the last
        read's addresses are a prefix of these: allgs only grows (g's are reused, never
        freed), so they normally are."""
        old = self.last.addr
        n, m = len(addrs), len(old)
        prev = np.full(n, -1, dtype=np.int64)
        if m == 0:
            return prev, True
        if m <= n and np.array_equal(addrs[:m], old):
            prev[:m] = np.arange(m)
            return prev, True
        order = np.argsort(old, kind="stable")
        pos = np.searchsorted(old[order], addrs)
        pos[pos == m] = 0
        hit = old[order[pos]] == addrs
        prev[hit] = order[pos[hit]]
        return prev, False
