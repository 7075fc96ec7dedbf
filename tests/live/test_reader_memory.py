"""ProcessMemory: batched process_vm_readv reads, unmapped ranges, permission errors."""

from __future__ import annotations

import ctypes
import mmap
import os
import subprocess
import sys

import pytest
from gotui.backends.live.memory import (
    IOV_MAX,
    AddressRanges,
    ProcessMemory,
    load_bias,
    permission_message,
    read_maps,
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


def test_unmapped_reads_are_marked_not_fatal(mem: ProcessMemory) -> None:
    page = mmap.PAGESIZE
    m = mmap.mmap(-1, 3 * page)
    m.write(b"A" * page + b"B" * page + b"C" * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.mprotect(ctypes.c_void_p(base + page), page, 0) == 0  # middle page unreadable
    addrs = [base, base + page, 8, base + 2 * page, base + page - 4, base + 2 * page - 4]
    out, ok = mem.read_same_size(addrs, 8)
    assert ok == [True, False, False, True, False, False]
    assert out[0:8] == b"A" * 8 and out[24:32] == b"C" * 8
    assert out[8:16] == bytes(8)  # failed records stay zero
    many = mem.read_many([(base, 4), (base + page, 100), (base + 2 * page, 3), (0, 0x10)])
    assert many == [b"AAAA", None, b"CCC", None]
    assert mem.read(base + page - 4, 8) is None  # straddles into the unreadable page
    assert mem.read_u64(base) == int.from_bytes(b"A" * 8, "little")
    libc.mprotect(ctypes.c_void_p(base + page), page, 3)
    m.close()


def test_empty_batches(mem: ProcessMemory) -> None:
    assert mem.read_many([]) == []
    assert mem.read_same_size([], 8) == (bytearray(), [])


def test_maps_ranges_and_bias() -> None:
    maps = read_maps(os.getpid())
    rw = AddressRanges(maps, "rw")
    buf = ctypes.create_string_buffer(64)
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
