"""Unit tests of the live reader's decoding pieces, on synthetic records (no process)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from gotui.backends.gobinary.binary import FuncInfo, PCInfo, StructLayout
from gotui.backends.gobinary.symbols import Symbols
from gotui.backends.live.goroutines import GDecoder, GRows

G_OFFSETS = {  # Go 1.26 amd64
    "stack.lo": 0, "stack.hi": 8, "m": 48, "sched.sp": 56, "sched.pc": 64, "sched.bp": 96,
    "syscallsp": 104, "syscallpc": 112, "syscallbp": 120, "atomicstatus": 144, "goid": 152,
    "waitsince": 168, "waitreason": 176, "parentGoid": 280, "gopc": 288, "startpc": 304,
    "waiting": 320, "labels": 352,
}


def record(**fields: int) -> bytes:
    buf = bytearray(360)
    for name, value in fields.items():
        off = G_OFFSETS[name.replace("__", ".")]
        if name == "atomicstatus":
            struct.pack_into("<I", buf, off, value)
        elif name == "waitreason":
            buf[off] = value
        else:
            struct.pack_into("<Q", buf, off, value)
    return bytes(buf)


GOOD = dict(stack__lo=0x1000, stack__hi=0x3000, sched__sp=0x2f00, sched__pc=0x401000,
            sched__bp=0x2f80, atomicstatus=4, goid=42, waitreason=3, gopc=0x402000,
            startpc=0x403000, parentGoid=1)


@pytest.fixture()
def dec() -> GDecoder:
    return GDecoder(StructLayout("runtime.g", 456, dict(G_OFFSETS)))


def test_decode_fields_and_scan_bit(dec: GDecoder) -> None:
    g = dec.decode(0xc000, record(**{**GOOD, "atomicstatus": 0x1004}))
    assert (g.addr, g.goid, g.status, g.waitreason, g.parent_goid) == (0xc000, 42, 4, 3, 1)
    assert (g.sp, g.pc, g.bp, g.stack_lo, g.stack_hi) == (0x2f00, 0x401000, 0x2f80, 0x1000,
                                                          0x3000)
    assert dec.size == 360


def test_optional_fields_absent_in_old_versions() -> None:
    offs = {k: v for k, v in G_OFFSETS.items() if k not in ("parentGoid", "syscallbp")}
    d = GDecoder(StructLayout("runtime.g", 456, offs))
    g = d.decode(1, record(**GOOD))
    assert g.parent_goid == 0 and g.syscallbp == 0 and g.goid == 42
    with pytest.raises(KeyError, match="goid"):
        GDecoder(StructLayout("runtime.g", 456, {k: v for k, v in offs.items() if k != "goid"}))


@pytest.mark.parametrize(("change", "ok"), [
    ({}, True),
    ({"atomicstatus": 0x1004}, True),
    ({"atomicstatus": 6, "goid": 0, "stack__lo": 0}, True),  # dead: nothing else matters
    ({"atomicstatus": 77}, False),
    ({"goid": 0}, False),
    ({"goid": 1000}, False),  # above the goid generator
    ({"waitreason": 50}, False),
    ({"stack__lo": 0x4000}, False),
    ({"stack__hi": 0x1000 + (2 << 30)}, False),
    ({"sched__sp": 0x8000}, False),  # waiting, but sp outside its stack
    ({"sched__sp": 0x8000, "atomicstatus": 2}, True),  # running: sched is stale anyway
    ({"stack__lo": 0}, False),
    ({"goid": 100}, True),  # the goid generator's last
    ({"waitreason": 39}, True),
    ({"atomicstatus": 0x1006, "goid": 0}, True),  # dead, scan bit set
    ({"atomicstatus": 11, "goid": 0}, True),  # _Gdeadextra
    ({"atomicstatus": 12}, False),
    ({"sched__sp": 0x3000}, False),  # waiting, sp at stack.hi
    ({"sched__sp": 0x1000}, True),  # waiting, sp at stack.lo
    ({"stack__hi": 0x1000 + (1 << 30)}, True),  # the largest stack
])
def test_valid(dec: GDecoder, change: dict[str, int], ok: bool) -> None:
    """The scalar check and the vectorised one (GDecoder.valid_rows) on each record."""
    raw = record(**{**GOOD, **change})
    vals = dec.struct.unpack(raw)
    assert dec.valid(vals, n_reasons=40, max_goid=100) is ok
    rows = GRows.zeros(1)
    dec.rows(np.frombuffer(raw, dtype=np.uint8).reshape(1, -1), rows, slice(0, 1))
    assert dec.valid_rows(rows, n_reasons=40, max_goid=100).tolist() == [ok]


class FakeFacts:
    """main.worker at 0x1000 has sync.(*Mutex).Lock inlined at 0x1010..0x1020; the
    wrapper main.main.gowrap1 at 0x2000 starts main.worker; main.gone only exists inlined."""

    main_module = "example.com/app"

    def func_id_names(self) -> dict[int, str]:
        return {}

    def pc_frames(self, pc: int) -> list[PCInfo]:
        if 0x1010 <= pc < 0x1020:
            return [PCInfo("sync.(*Mutex).Lock", "mutex.go", 70, 0),
                    PCInfo("main.worker", "main.go", 12, 0x1000)]
        if 0x1000 <= pc < 0x1100:
            return [PCInfo("main.worker", "main.go", 10 + (pc - 0x1000) // 0x20, 0x1000)]
        if 0x3000 <= pc < 0x3100:
            return [PCInfo("runtime.gopark", "proc.go", 460, 0x3000)]
        if 0x4000 <= pc < 0x4100:
            return [PCInfo("runtime.cgocall", "cgocall.go", 174, 0x4000)]
        if 0x4100 <= pc < 0x4200:
            return [PCInfo("main._Cfunc_slow_c_call", "_cgo_gotypes.go", 48, 0x4100)]
        return []

    def start_function(self, startpc: int) -> FuncInfo | None:
        if startpc == 0x2000:
            return FuncInfo("main.worker", 0x1000, 0x1100)
        if startpc == 0x2100:
            return FuncInfo("main.gone", 0, 0)
        return None


BIAS = 0x5550000


@pytest.fixture()
def sym() -> Symbols:
    return Symbols(FakeFacts(), BIAS)  # type: ignore[arg-type]


def test_inlined_calls_become_logical_frames(sym: Symbols) -> None:
    frames = sym.frames(BIAS + 0x1011, call=True)  # return address: looks up 0x1010
    assert [(f.function, f.line, f.kind) for f in frames] == [
        ("sync.(*Mutex).Lock", 70, "go"), ("main.worker", 12, "go")]
    assert all(f.pc == BIAS + 0x1011 for f in frames)
    assert sym.frames(BIAS + 0x1011, call=True) is frames  # cached per pc


def test_return_addresses_look_up_the_call(sym: Symbols) -> None:
    assert sym.location(BIAS + 0x1020).line == 11
    assert sym.location(BIAS + 0x1020, call=True).function == "sync.(*Mutex).Lock"


def test_user_location_skips_runtime(sym: Symbols) -> None:
    assert sym.user_location(BIAS + 0x3010, call=False) is None
    loc = sym.user_location(BIAS + 0x1011, call=True)
    assert loc is not None and loc.function == "sync.(*Mutex).Lock"


def test_cgo_boundaries_and_c_are_not_user_code(sym: Symbols) -> None:
    assert sym.user_location(BIAS + 0x4010, call=False) is None  # runtime.cgocall
    assert sym.user_location(BIAS + 0x4110, call=True) is None  # main._Cfunc_*
    assert sym.user_location(BIAS + 0x9000, call=True) is None  # unknown: C


def test_unknown_pc_is_a_c_frame(sym: Symbols) -> None:
    (f,) = sym.frames(BIAS + 0x9000, call=False)
    assert (f.function, f.kind, f.pc) == ("", "c", BIAS + 0x9000)


def test_start_through_wrappers(sym: Symbols) -> None:
    loc = sym.start(BIAS + 0x2000)
    assert (loc.function, loc.line, loc.pc) == ("main.worker", 10, BIAS + 0x1000)
    assert sym.start(BIAS + 0x2100).function == "main.gone"  # inlined only: no pc
    assert sym.start(BIAS + 0x1040).function == "main.worker"  # not started by a wrapper
