"""Unit tests of the binary-format decoders on hand-made bytes (no Go toolchain needed)."""

from __future__ import annotations

import struct

from gotui.backends.gobinary.moduledata import TFLAG_EXTRA_STAR, ModuleData, read_type_name
from gotui.backends.gobinary.pclntab import uvarint
from gotui.backends.gobinary.runtime_vars import call_sites, rip_refs
from hypothesis import given
from hypothesis import strategies as st


def _encode_uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


@given(st.integers(0, 1 << 63), st.binary(max_size=4))
def test_uvarint_roundtrip(n: int, tail: bytes) -> None:
    enc = _encode_uvarint(n)
    assert uvarint(b"\x01" + enc + tail, 1) == (n, 1 + len(enc))


def test_rip_refs_decode_real_instructions() -> None:
    # From `go tool objdump` of runtime.allgadd (go1.27.3):
    #   0x4528d4 488b0de50f1800  MOVQ runtime.allgs+16(SB), CX   -> 0x5d38c0
    #   0x45298d 488d150c131a00  LEAQ runtime.allglen(SB), DX    -> 0x5f3ca0
    #   0x45290c 833ddd141a0000  CMPL runtime.writeBarrier(SB), $0x0 (imm8 after disp)
    code = {0x4528D4: "488b0de50f1800", 0x45298D: "488d150c131a00", 0x45290C: "833ddd141a0000"}
    for addr, hexcode in code.items():
        refs = rip_refs(bytes.fromhex(hexcode), addr)
        assert len(refs) == 1
        ref = refs[0]
        assert ref.next_ip == addr + len(bytes.fromhex(hexcode))
        if addr == 0x4528D4:
            assert ref.target == 0x5D38C0 and ref.opcode == 0x8B
        if addr == 0x45298D:
            assert ref.target == 0x5F3CA0 and ref.opcode == 0x8D
        if addr == 0x45290C:
            assert ref.target == 0x45290C + 7 + 0x1A14DD


def test_call_sites() -> None:
    # 0x4528cf e86cc9fcff CALL runtime.lock(SB)
    assert call_sites(bytes.fromhex("e86cc9fcff"), 0x4528CF) == {0x4528CF: 0x4528CF + 5 - 0x33694}


def _type_blob(tflag: int, name_off: int) -> bytes:
    t = bytearray(48)
    t[20] = tflag
    struct.pack_into("<i", t, 40, name_off)
    return bytes(t)


def test_type_name_decoding() -> None:
    types = 0x10000
    names = bytearray(64)
    encoded = b"*main.request"
    names[8:8 + 1 + 1 + len(encoded)] = b"\x01" + _encode_uvarint(len(encoded)) + encoded
    mem = {0x20000: _type_blob(TFLAG_EXTRA_STAR, 8), 0x20100: _type_blob(0, 8),
           0x20200: _type_blob(0, 1 << 20)}

    def read(addr: int, size: int) -> bytes | None:
        if types <= addr < types + len(names):
            return bytes(names[addr - types:addr - types + size])
        for base, blob in mem.items():
            if base <= addr < base + len(blob):
                return blob[addr - base:addr - base + size]
        return None

    md = ModuleData(0, 0, 0, types, types + len(names), 0, (0, 0), (0, 0), (0, 0))
    assert read_type_name(read, md, 0x20000, 20, 40) == "main.request"  # extra star dropped
    assert read_type_name(read, md, 0x20100, 20, 40) == "*main.request"
    assert read_type_name(read, md, 0x20200, 20, 40) == ""  # name offset outside types
    assert read_type_name(read, md, 0x99999, 20, 40) == ""  # unreadable type
