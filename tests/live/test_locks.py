"""Sync objects through runtime.semtable: the sema-word offsets from DWARF against the
fallbacks used for stripped binaries, and the lock kinds across Go versions."""

from __future__ import annotations

import ctypes
import os
import struct

import pytest
from gotui.backends.gobinary.elffile import ElfFile
from gotui.backends.live.locks import FALLBACK, SemaWaiter, group_locks, stack_refs, sync_offsets
from gotui.backends.live.memory import ProcessMemory
from gotui.backends.live.reader import LiveReader

from tests import gofixtures

TOOLCHAINS = ["go1.19", "go1.26", "go1.27"]


@pytest.mark.integration
@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_fallback_offsets_match_dwarf(toolchain: str) -> None:
    gofixtures.need_toolchain(toolchain)
    exe = gofixtures.build("blocking", toolchain=toolchain)
    minor = int(toolchain.split(".")[1])
    dwarf = sync_offsets(ElfFile(str(exe)), "", minor)  # "" = no cache
    for key, off in FALLBACK.items():
        if key == "waitgroup.sema" and minor < 20:
            assert key not in dwarf  # state1/state2: no fixed sema field
            continue
        assert dwarf[key] == off, key


SYNC = {"mutex", "rwmutex", "waitgroup"}
WAITERS = {"main.transfer", "main.mutexWaiter", "main.rwReader", "main.wgWaiter"}


@pytest.mark.integration
@pytest.mark.parametrize(("toolchain", "kinds", "stripped"), [
    # Go 1.26+: g.waiting names a Cond waiter's notifyList too
    ("go1.26", {*SYNC, "cond"}, False),
    ("go1.27", {*SYNC, "cond"}, False),
    ("go1.19", {"sema"}, False),  # Go 1.19 parks every sync wait as "semacquire"
    # Go 1.20-1.23 park WaitGroup.Wait as "semacquire": known by its sync.runtime_Semacquire
    # frame (these two run where the toolchains are in the Go module cache)
    ("go1.20", SYNC, False),
    ("go1.23", SYNC, True),
    # -ldflags=-s -w: runtime.semtable found from semacquire1's code, offsets fallbacks
    ("go1.26", {*SYNC, "cond"}, True),
    ("go1.19", {"sema"}, True),
])
def test_lock_kinds_by_version(toolchain: str, kinds: set[str], stripped: bool) -> None:
    gofixtures.need_toolchain(toolchain)
    exe = gofixtures.build("blocking", toolchain=toolchain, stripped=stripped)
    with gofixtures.run(exe) as t:
        snap = LiveReader(t.pid).snapshot()
    assert {lk.kind for lk in snap.locks} == kinds
    waiters = {i for lk in snap.locks for i in lk.waiters}
    starts = {g.id: g.start.function for g in snap.goroutines}
    want = WAITERS | ({"main.condWaiter"} if "cond" in kinds else set())
    assert {starts[i] for i in waiters} == want


def test_stack_refs_reads_aligned_words_only(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = ctypes.create_string_buffer(64)
    base = ctypes.addressof(buf)
    assert base % 8 == 0
    struct.pack_into("<QQ", buf, 8, 0xC000123450, 0x42)
    struct.pack_into("<Q", buf, 36, 0xC000999990)  # not 8-aligned: no pointer slot
    mem = ProcessMemory(os.getpid())
    targets = ["0xc000123450", "0xc000999990", "0xdead"]
    assert stack_refs(mem, [(7, base, base + 64)], targets) == {7: ["0xc000123450"]}
    # over the budget nothing is returned: a partial scan could invent a cycle
    monkeypatch.setattr("gotui.backends.live.locks.MAX_STACK_SCAN", 32)
    assert stack_refs(mem, [(7, base, base + 64)], targets) == {}


def test_group_locks_maps_sema_words_to_objects() -> None:
    offsets = dict(FALLBACK)
    waiters = [SemaWaiter(0x100, 0x5004), SemaWaiter(0x200, 0x5004), SemaWaiter(0x300, 0x600C),
               SemaWaiter(0x400, 0x7008), SemaWaiter(0x500, 0x8000), SemaWaiter(0x999, 0x9000)]
    reasons = {0x100: (1, "sync.Mutex.Lock"), 0x200: (2, "sync.Mutex.Lock"),
               0x300: (3, "sync.RWMutex.RLock"), 0x400: (4, "sync.WaitGroup.Wait"),
               0x500: (5, "semacquire")}  # 0x999: a stale sudog, its g moved on
    locks, lock_of = group_locks(waiters, reasons, offsets)
    assert [(x.addr, x.kind, x.sema, x.waiters) for x in locks] == [
        ("0x5000", "mutex", "0x5004", [1, 2]), ("0x6000", "rwmutex", "0x600c", [3]),
        ("0x7000", "waitgroup", "0x7008", [4]), ("0x8000", "sema", "0x8000", [5])]
    assert lock_of == {1: "0x5000", 2: "0x5000", 3: "0x6000", 4: "0x7000", 5: "0x8000"}
