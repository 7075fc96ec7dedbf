"""ProcessMemory: batched process_vm_readv reads, unmapped ranges, permission errors."""

from __future__ import annotations

import ctypes
import mmap
import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from gotui.backends.live.memory import (
    IOV_MAX,
    AddressRanges,
    ProcessMemory,
    Scatter,
    load_bias,
    permission_message,
    read_maps,
    scatter,
)
from gotui.backends.model import GotuiError


@pytest.fixture()
def mem() -> ProcessMemory:
    return ProcessMemory(os.getpid())


def test_reads_many_addresses_in_few_syscalls(mem: ProcessMemory) -> None:
    data = bytes(range(256)) * 64
    buf = ctypes.create_string_buffer(data, len(data))
    base = ctypes.addressof(buf)
    addrs = [base + (i * 7) % (len(data) - 16) for i in range(3000)]
    before = mem.syscalls
    out, ok = mem.read_same_size(addrs, 16)
    assert all(ok)
    assert mem.syscalls - before == -(-3000 // IOV_MAX)
    for i, a in enumerate(addrs):
        assert out[16 * i:16 * i + 16] == data[a - base:a - base + 16]


@pytest.fixture
def middle_unreadable() -> Iterator[int]:
    """The address of three pages of b"A", b"B", b"C"; the middle one cannot be read."""
    page = mmap.PAGESIZE
    m = mmap.mmap(-1, 3 * page)
    m.write(b"A" * page + b"B" * page + b"C" * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.mprotect(ctypes.c_void_p(base + page), page, 0) == 0
    yield base
    libc.mprotect(ctypes.c_void_p(base + page), page, 3)
    m.close()


def test_unmapped_reads_are_marked_not_fatal(mem: ProcessMemory, middle_unreadable: int
                                            ) -> None:
    page = mmap.PAGESIZE
    base = middle_unreadable
    addrs = [base, base + page, 8, base + 2 * page, base + page - 4, base + 2 * page - 4]
    out, ok = mem.read_same_size(addrs, 8)
    assert ok == [True, False, False, True, False, False]
    assert out[0:8] == b"A" * 8 and out[24:32] == b"C" * 8
    assert out[8:16] == bytes(8)  # failed records stay zero
    many = mem.read_many([(base, 4), (base + page, 100), (base + 2 * page, 3), (0, 0x10)])
    assert many == [b"AAAA", None, b"CCC", None]
    assert mem.read(base + page - 4, 8) is None  # straddles into the unreadable page
    assert mem.read_u64(base) == int.from_bytes(b"A" * 8, "little")


def test_empty_batches(mem: ProcessMemory) -> None:
    assert mem.read_many([]) == []
    assert mem.read_same_size([], 8) == (bytearray(), [])


def test_maps_ranges_and_bias() -> None:
    buf = ctypes.create_string_buffer(64)  # first: it may need a mapping of its own
    maps = read_maps(os.getpid())
    rw = AddressRanges(maps, "rw")
    assert rw.contains(ctypes.addressof(buf), 64)
    assert not rw.contains(0) and not rw.contains(8, 8)
    exe = os.path.realpath(sys.executable)
    first = next(m for m in maps if m.offset == 0 and m.path == exe).start
    assert load_bias(os.getpid(), exe, maps, 0) == first
    assert load_bias(os.getpid(), "/nonexistent", maps) == 0


def test_gone_process() -> None:
    p = subprocess.Popen(["true"])
    p.wait()
    with pytest.raises(GotuiError, match="gone"):
        ProcessMemory(p.pid)


def test_permission_error_is_one_line() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to an unprivileged user for the check")
    target = subprocess.Popen(["sleep", "30"])
    try:
        code = (
            "import os, sys\n"
            "from gotui.backends.live.memory import ProcessMemory\n"
            "from gotui.backends.model import GotuiError\n"
            "os.setgid(65534); os.setuid(65534)\n"
            f"try:\n    ProcessMemory({target.pid}).read(0x400000, 8)\n"
            "except GotuiError as e:\n    print(e)\n"
        )
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                             text=True, timeout=60, env={**os.environ, "PYTHONPATH": root})
        assert out.stdout.strip() == permission_message(target.pid), out.stderr
        assert "need root or CAP_SYS_PTRACE (ptrace_scope=" in out.stdout
    finally:
        target.kill()
        target.wait()


def test_garbage_addresses_fail_cleanly(mem: ProcessMemory) -> None:
    buf = ctypes.create_string_buffer(b"12345678")
    a = ctypes.addressof(buf)
    out, ok = mem.read_same_size([a, (1 << 64) - 8, 1 << 60], 8)
    assert ok == [True, False, False] and out[:8] == b"12345678"
    assert mem.read_many([((1 << 64) - 1, 16), (a, 8)]) == [None, b"12345678"]


def _scatter_reads(ranges: list[tuple[int, list[tuple[int, int]]]]) -> Scatter:
    """A Scatter of (address, [(offset in the buffer or -1, length), ...]) ranges."""
    addrs = np.array([a for a, _ in ranges], dtype=np.uint64)
    pieces = np.array([p for _, ps in ranges for p in ps], dtype=np.int64).reshape(-1, 2)
    first = np.cumsum([0] + [len(ps) for _, ps in ranges])
    return scatter(addrs, pieces, first)


def test_scattered_reads_cut_ranges_into_pieces(mem: ProcessMemory) -> None:
    data = bytes(range(256)) * 16
    src = ctypes.create_string_buffer(data, len(data))
    base = ctypes.addressof(src)
    # one range of 100 bytes: 10 kept at 0, 30 skipped, 20 kept at 40, 40 skipped; then
    # one range of 16 bytes kept at 64
    plan = _scatter_reads([(base + 5, [(0, 10), (-1, 30), (40, 20), (-1, 40)]),
                           (base + 300, [(64, 16)])])
    buf = np.zeros(128, dtype=np.uint8)
    ok = mem.read_scattered(buf, plan)
    assert ok.tolist() == [True, True]
    assert bytes(buf[0:10]) == data[5:15]
    assert bytes(buf[40:60]) == data[45:65]
    assert bytes(buf[64:80]) == data[300:316]
    assert not buf[10:40].any() and not buf[60:64].any()  # skipped bytes go elsewhere


def test_scattered_reads_fail_only_the_range_that_faults(mem: ProcessMemory,
                                                        middle_unreadable: int) -> None:
    page = mmap.PAGESIZE
    base = middle_unreadable
    plan = _scatter_reads([
        (base, [(0, 8)]),
        (base + page - 8, [(8, 4), (-1, 8), (12, 4)]),  # runs into the unreadable page
        (1 << 60, [(16, 8)]),  # no such address
        (base + 2 * page, [(24, 8)]),  # after a fault: still read
        (base + page, [(32, 8)]),  # starts in the unreadable page
        (base + 2 * page + 8, [(40, 8)]),
    ])
    buf = np.zeros(48, dtype=np.uint8)
    ok = mem.read_scattered(buf, plan)
    assert ok.tolist() == [True, False, False, True, False, True]
    assert bytes(buf[0:8]) == b"A" * 8 and bytes(buf[24:32]) == b"C" * 8
    assert bytes(buf[40:48]) == b"C" * 8


def test_scattered_reads_batch_iovecs(mem: ProcessMemory) -> None:
    """More ranges and pieces than one syscall takes: IOV_MAX of each per call."""
    data = bytes(range(256)) * 64
    src = ctypes.create_string_buffer(data, len(data))
    base = ctypes.addressof(src)
    n = 3000
    starts = [(i * 5) % (len(data) - 16) for i in range(n)]
    # each range: 8 bytes kept, 4 skipped, 4 kept (3 pieces: 1024 pieces hold 341 ranges)
    plan = _scatter_reads([(base + s, [(16 * i, 8), (-1, 4), (16 * i + 8, 4)])
                           for i, s in enumerate(starts)])
    buf = np.zeros(16 * n, dtype=np.uint8)
    before = mem.syscalls
    ok = mem.read_scattered(buf, plan)
    assert ok.all()
    assert mem.syscalls - before == -(-3 * n // IOV_MAX)
    for i, s in enumerate(starts):
        assert bytes(buf[16 * i:16 * i + 8]) == data[s:s + 8]
        assert bytes(buf[16 * i + 8:16 * i + 12]) == data[s + 12:s + 16]


def test_scattered_reads_refuse_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="IOV_MAX"):
        _scatter_reads([(4096, [(0, 1)] * (IOV_MAX + 1))])
    mem = ProcessMemory(os.getpid())
    with pytest.raises(ValueError, match="too small"):
        mem.read_scattered(np.zeros(8, dtype=np.uint8), _scatter_reads([(4096, [(4, 8)])]))
