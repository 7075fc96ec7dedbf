"""Buffered channel values read from the ring while halted (backends/live/chan_elements.py),
over an in-memory image: receive order across the ring's wrap, the rendering Delve
uses, and what is left to the stop backend. (Real fixtures: tests/delve/test_halted.py.)"""

from __future__ import annotations

import struct

from gotui.backends.gobinary.binary import StructLayout
from gotui.backends.live.chan_elements import MAX_STRING, BufferReader
from gotui.backends.model import Channel

HCHAN = StructLayout("runtime.hchan", 96, {"qcount": 0, "dataqsiz": 8, "buf": 16,
                                           "elemsize": 24, "closed": 28, "elemtype": 32,
                                           "recvx": 48})


class Image:
    """Readable memory: address -> bytes blocks; anything else is unmapped."""

    def __init__(self) -> None:
        self.blocks: dict[int, bytes] = {}

    def put(self, addr: int, data: bytes) -> None:
        self.blocks[addr] = data

    def read(self, addr: int, size: int) -> bytes | None:
        for base, data in self.blocks.items():
            if base <= addr and addr + size <= base + len(data):
                return data[addr - base:addr - base + size]
        return None

    def read_same_size(self, addrs: list[int], size: int) -> tuple[bytearray, list[bool]]:
        parts = [self.read(a, size) for a in addrs]
        return (bytearray(b"".join(p or bytes(size) for p in parts)),
                [p is not None for p in parts])

    def read_many(self, reqs: list[tuple[int, int]]) -> list[bytes | None]:
        return [self.read(a, n) for a, n in reqs]


def chan(mem: Image, addr: int, typ: str, elemsize: int, ring: bytes, cap: int, qcount: int,
         recvx: int, buf: int) -> Channel:
    hchan = bytearray(96)
    struct.pack_into("<QQQHI", hchan, 0, qcount, cap, buf, elemsize, 0)
    struct.pack_into("<Q", hchan, 48, recvx)
    mem.put(addr, bytes(hchan))
    mem.put(buf, ring)
    return Channel(f"{addr:#x}", typ, qcount, cap)


def test_values_in_receive_order_across_the_wrap() -> None:
    mem = Image()
    ints = chan(mem, 0x1000, "int8", 1, bytes([5, 0xFF, 7, 9]), 4, 3, 3, 0x2000)
    flags = chan(mem, 0x1100, "bool", 1, bytes([1, 0]), 2, 2, 0, 0x2100)
    BufferReader(mem, {"runtime.hchan": HCHAN}).fill([ints, flags])  # type: ignore[arg-type]
    assert ints.elements == ["9", "5", "-1"]  # slots 3, 0, 1
    assert flags.elements == ["true", "false"]


def test_strings_are_go_quoted_cut_and_replaced_as_go_does() -> None:
    mem = Image()
    long = b"x" * (MAX_STRING + 10)
    texts = {0x5000: b'say "hi"\n', 0x6000: long, 0x7000: b"ok\xe2\x82"}  # cut UTF-8
    ring = b"".join(struct.pack("<QQ", a, len(t)) for a, t in texts.items())
    ring += struct.pack("<QQ", 0, 0)  # ""
    for a, t in texts.items():
        mem.put(a, t)
    c = chan(mem, 0x1000, "string", 16, ring, 4, 4, 0, 0x2000)
    BufferReader(mem, {"runtime.hchan": HCHAN}).fill([c])  # type: ignore[arg-type]
    assert c.elements == ['"say \\"hi\\"\\n"', '"' + "x" * MAX_STRING + '"...+10 more',
                          '"ok\ufffd\ufffd"', '""']


def test_others_are_left_to_the_stop_backend() -> None:
    mem = Image()
    struct_chan = chan(mem, 0x1000, "main.item", 24, bytes(48), 2, 1, 0, 0x2000)
    odd_size = chan(mem, 0x1100, "int", 4, bytes(8), 2, 1, 0, 0x2100)  # not an int's size
    empty = Channel("0x1200", "main.item", 0, 3)
    unbuffered = Channel("0x1300", "int", 0, 0)
    gone = Channel("0x9000", "int", 1, 1)  # unreadable hchan: unknown, not asked for
    rest = BufferReader(mem, {"runtime.hchan": HCHAN}).fill(  # type: ignore[arg-type]
        [struct_chan, odd_size, empty, unbuffered, gone])
    assert [(b.chan.addr, b.buf, b.recvx) for b in rest] == [("0x1000", 0x2000, 0),
                                                            ("0x1100", 0x2100, 0)]
    assert struct_chan.elements is None and odd_size.elements is None
    assert empty.elements == [] and unbuffered.elements == [] and gone.elements is None
