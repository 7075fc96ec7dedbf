"""Reading a running process's memory without stopping it: process_vm_readv, batched.

No ptrace, no signals: the target never notices. Many small reads go out in one
syscall (up to IOV_MAX iovecs); a read of unmapped memory (EFAULT, or a partial
transfer) marks that request as missing instead of failing the batch.
The kernel's cost is mostly per iovec (pinning the target's pages), not per byte: a
caller reading many neighbouring objects reads better one range around them
(`read_into`, into a buffer it keeps: first touches of a fresh buffer inside the
syscall cost more than the copy).
"""

from __future__ import annotations

import bisect
import ctypes
import ctypes.util
import errno
import os
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from gotui.backends.model import GotuiError

IOV_MAX = 1024
# Above this no user-space address exists (x86-64, even with 5-level paging): a torn
# pointer may hold anything, and must fail its read instead of overflowing an iovec.
USER_MAX = 1 << 57

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_process_vm_readv = _libc.process_vm_readv
_process_vm_readv.restype = ctypes.c_ssize_t
_process_vm_readv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong,
                              ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]

_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    perms: str
    offset: int
    path: str
    inode: int = 0


def read_maps(pid: int) -> list[Mapping]:
    try:
        text = Path(f"/proc/{pid}/maps").read_text()
    except FileNotFoundError:
        raise GotuiError(f"process {pid} is gone") from None
    except PermissionError:
        raise GotuiError(permission_message(pid)) from None
    maps: list[Mapping] = []
    for line in text.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) < 5:
            continue
        lo, hi = parts[0].split("-")
        maps.append(Mapping(int(lo, 16), int(hi, 16), parts[1], int(parts[2], 16),
                            parts[5] if len(parts) > 5 else "",
                            int(parts[4]) if parts[4].isdigit() else 0))
    return maps


def ptrace_scope() -> str:
    try:
        return Path("/proc/sys/kernel/yama/ptrace_scope").read_text().strip()
    except OSError:
        return "n/a"


def permission_message(pid: int) -> str:
    return (f"cannot read memory of pid {pid}: need root or CAP_SYS_PTRACE "
            f"(ptrace_scope={ptrace_scope()})")


def load_bias(pid: int, exe: str, maps: list[Mapping] | None = None,
              first_vaddr: int = 0) -> int:
    """Runtime address minus link-time address of the executable's image.

    `first_vaddr` is the lowest PT_LOAD p_vaddr (page aligned); 0 for Go PIE builds,
    0x400000 for non-PIE ones (whose bias is then 0)."""
    maps = maps if maps is not None else read_maps(pid)
    try:  # by inode: exe may be /proc/<pid>/exe, whose name is not in the maps
        inode = os.stat(exe).st_ino
    except OSError:
        inode = 0
    real = os.path.realpath(exe)
    for m in maps:
        if m.offset == 0 and m.path and (
                (inode and m.inode == inode)
                or os.path.realpath(m.path.removesuffix(" (deleted)")) == real):
            return m.start - (first_vaddr & ~0xFFF)
    return 0


class AddressRanges:
    """Sorted, merged address ranges for fast "is this pointer mapped?" checks."""

    def __init__(self, maps: list[Mapping], perms: str = "r") -> None:
        spans: list[tuple[int, int]] = []
        for m in sorted(maps, key=lambda m: m.start):
            if not all(p in m.perms for p in perms):
                continue
            if spans and spans[-1][1] == m.start:
                spans[-1] = (spans[-1][0], m.end)
            else:
                spans.append((m.start, m.end))
        self._starts = [s for s, _ in spans]
        self._ends = [e for _, e in spans]

    def contains(self, addr: int, size: int = 1) -> bool:
        i = bisect.bisect_right(self._starts, addr) - 1
        return i >= 0 and addr + size <= self._ends[i]


class Scatter(NamedTuple):
    """Ranges of another process's memory to read into pieces of a buffer: range i (at
    addrs[i]) is cut, in order, into pieces[first[i]:first[i + 1]], rows of (offset in
    the buffer, or -1 for bytes to skip; length), its length being their total. Made
    once by `scatter` for reads repeated at the same addresses."""

    addrs: np.ndarray  # uint64
    pieces: np.ndarray  # int64 (offset or -1, length)
    first: np.ndarray  # int64, len(addrs) + 1
    remote: np.ndarray  # uint64 iovecs (address, length) of the ranges
    local: np.ndarray  # uint64 iovecs of the pieces (offsets: add the buffer's address)
    kept: np.ndarray  # bool per piece: into the buffer (else skipped)
    cum: np.ndarray  # int64: bytes before each range
    span: int  # bytes of buffer the pieces need
    skip: int  # the longest skipped piece
    calls: list[tuple[int, int]]  # ranges [i, j) per syscall: at most IOV_MAX of each


def scatter(addrs: np.ndarray, pieces: np.ndarray, first: np.ndarray) -> Scatter:
    """The Scatter of these ranges (at most IOV_MAX pieces per range)."""
    first = first.astype(np.int64)
    if (np.diff(first) > IOV_MAX).any():
        raise ValueError("scatter: more than IOV_MAX pieces in one range")
    offs, lens = pieces[:, 0], pieces[:, 1]
    kept = offs >= 0
    local = np.empty((len(pieces), 2), dtype=np.uint64)
    local[:, 0] = np.where(kept, offs, 0)
    local[:, 1] = lens
    remote = np.empty((len(addrs), 2), dtype=np.uint64)
    remote[:, 0] = np.where(addrs < USER_MAX, addrs, 0)  # 0 faults: marked failed
    remote[:, 1] = np.add.reduceat(lens, first[:-1]) if len(addrs) and len(lens) else 0
    cum = np.zeros(len(addrs) + 1, dtype=np.int64)
    np.cumsum(remote[:, 1], out=cum[1:])
    calls = []
    i, n = 0, len(addrs)
    while i < n:
        j = min(n, i + IOV_MAX, int(np.searchsorted(first, first[i] + IOV_MAX, "right")) - 1)
        calls.append((i, j))
        i = j
    return Scatter(addrs, pieces, first, remote, local, kept, cum,
                   int((offs + lens)[kept].max()) if kept.any() else 0,
                   int(lens[~kept].max()) if not kept.all() else 0, calls)


class ProcessMemory:
    """Batched reads of another process's memory (process_vm_readv, amd64)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.syscalls = 0  # count, for tests and the bench
        self._scratch = np.empty(0, dtype=np.uint8)  # where read_scattered skips bytes to
        if not Path(f"/proc/{pid}").exists():
            raise GotuiError(f"process {pid} is gone")

    # ---------------------------------------------------------------- errors
    def _fail(self, err: int) -> None:
        if err == errno.EPERM or err == errno.EACCES:
            raise GotuiError(permission_message(self.pid))
        if err == errno.ESRCH:
            raise GotuiError(f"process {self.pid} is gone")
        if err == errno.ENOMEM:
            raise MemoryError("process_vm_readv: ENOMEM")

    # ---------------------------------------------------------------- reads
    def read(self, addr: int, size: int) -> bytes | None:
        """One read; None if any of it is unmapped."""
        buf, ok = self.read_same_size([addr], size)
        return bytes(buf) if ok[0] else None

    def read_u64(self, addr: int) -> int | None:
        data = self.read(addr, 8)
        return _U64.unpack(data)[0] if data is not None else None

    def read_same_size(self, addrs: list[int] | array, size: int) -> tuple[bytearray, list[bool]]:
        """Read `size` bytes at each address into one contiguous buffer.

        Record i is buf[i*size:(i+1)*size]; ok[i] says whether it was read whole
        (unread records are zero). Up to IOV_MAX addresses per syscall."""
        n = len(addrs)
        buf = bytearray(n * size)
        ok = [True] * n
        if n == 0 or size == 0:
            return buf, ok
        if max(addrs) >= USER_MAX:
            addrs = [a if a < USER_MAX else 0 for a in addrs]  # 0 faults: marked failed
        remote = array("Q", bytes(16 * n))
        remote[0::2] = addrs if isinstance(addrs, array) else array("Q", addrs)
        remote[1::2] = array("Q", [size]) * n
        local_base = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
        local = array("Q", bytes(16 * n))
        local[0::2] = array("Q", range(local_base, local_base + n * size, size))
        local[1::2] = remote[1::2]
        self._readv(local.buffer_info()[0], remote.buffer_info()[0], None, size, ok)
        return buf, ok

    def read_many(self, reqs: list[tuple[int, int]]) -> list[bytes | None]:
        """Reads of various sizes, batched; None for each one that failed."""
        n = len(reqs)
        if n == 0:
            return []
        sizes = [s for _, s in reqs]
        total = sum(sizes)
        buf = bytearray(total)
        ok = [True] * n
        local_base = ctypes.addressof((ctypes.c_char * max(total, 1)).from_buffer(buf))
        offsets = [0] * n
        pos = 0
        for i, s in enumerate(sizes):
            offsets[i] = pos
            pos += s
        remote = array("Q", bytes(16 * n))
        remote[0::2] = array("Q", [a if a < USER_MAX else 0 for a, _ in reqs])
        remote[1::2] = array("Q", sizes)
        local = array("Q", bytes(16 * n))
        local[0::2] = array("Q", [local_base + o for o in offsets])
        local[1::2] = remote[1::2]
        self._readv(local.buffer_info()[0], remote.buffer_info()[0], [*offsets, total], 0, ok)
        mv = memoryview(buf)
        return [bytes(mv[o:o + s]) if good else None
                for o, s, good in zip(offsets, sizes, ok, strict=True)]

    def read_scattered(self, buf: np.ndarray, plan: Scatter) -> np.ndarray:
        """Reads the plan's ranges into pieces of `buf` (a C-contiguous uint8 array at
        least plan.span bytes long). Returns whether each range was read whole; the
        bytes of the others are unspecified."""
        n = len(plan.addrs)
        ok = np.ones(n, dtype=bool)
        if n == 0:
            return ok
        if buf.nbytes < plan.span:
            raise ValueError("read_scattered: the buffer is too small")
        skip = plan.skip
        if len(self._scratch) < skip:
            self._scratch = np.empty(skip, dtype=np.uint8)
        local = plan.local.copy()
        local[:, 0] += np.where(plan.kept, np.uint64(buf.ctypes.data),
                                np.uint64(self._scratch.ctypes.data))
        lbase, rbase = local.ctypes.data, plan.remote.ctypes.data
        first, cum = plan.first, plan.cum
        for i, j in plan.calls:
            while i < j:
                got = self._call(lbase + 16 * int(first[i]), int(first[j] - first[i]),
                                 rbase + 16 * i, j - i)
                if got is None:  # the first range is unmapped
                    ok[i] = False
                    i += 1
                    continue
                full = int(np.searchsorted(cum, cum[i] + got, "right")) - 1 - i
                if full >= j - i:
                    break
                ok[i + full] = False  # partially read or not at all: fault at or in it
                i += full + 1
        return ok

    def _call(self, local: int, lcnt: int, remote: int, rcnt: int) -> int | None:
        """One process_vm_readv: bytes read, None if the first remote iovec faults."""
        self.syscalls += 1
        got = _process_vm_readv(self.pid, local, lcnt, remote, rcnt, 0)
        if got >= 0:
            return int(got)
        err = ctypes.get_errno()
        if err == errno.EFAULT:
            return None
        self._fail(err)
        raise OSError(err, f"process_vm_readv: {os.strerror(err)}")

    def _readv(self, lbase: int, rbase: int, cum: np.ndarray | list[int] | None, size: int,
               ok: list[bool] | np.ndarray) -> None:
        """Issue the reads iovec chunk by chunk (iovec arrays at lbase/rbase, all of
        `size` bytes, or of the sizes whose prefix sums are `cum`); mark failed entries
        in `ok`."""
        n = len(ok)
        i = 0
        while i < n:
            cnt = min(IOV_MAX, n - i)
            got = self._call(lbase + 16 * i, cnt, rbase + 16 * i, cnt)
            if got is None:
                # the first iovec is unmapped: drop it, go on with the next
                ok[i] = False
                i += 1
                continue
            # iovecs wholly covered by `got` are complete; the next one is not
            if cum is None:
                full = got // size
            else:
                full = bisect.bisect_right(cum, int(cum[i]) + got, i, i + cnt + 1) - 1 - i
            full = min(full, cnt)
            i += full
            if full < cnt:
                ok[i] = False  # partially read or not at all: fault at or in it
                i += 1
