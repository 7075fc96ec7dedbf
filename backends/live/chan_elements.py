"""The values a channel buffers, read from its ring (hchan.buf) while the target is
halted (running, the ring changes under the read: values are only shown when halted).

Values are rendered as Delve renders them (delve/convert.py): decimal integers,
true/false, Go-quoted strings cut at 256 bytes. Only element types whose rendering
needs nothing but their bytes are read here (the builtin integer types, bool, string);
the others are left to the stop backend (`Buffer`s are returned for it).
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass

from gotui.backends.delve.convert import repr_go_string
from gotui.backends.gobinary.binary import StructLayout
from gotui.backends.live.memory import ProcessMemory
from gotui.backends.model import Channel

MAX_VALUES = 1024  # as many as Delve loads (MaxArrayValues, delve/channels.py)
MAX_STRING = 256  # bytes of a string value, as Delve's LOAD_CONFIG
_U64 = struct.Struct("<Q")
# element type name -> (struct format of one value, its size)
SCALARS: dict[str, tuple[str, int]] = {
    "int": ("q", 8), "int8": ("b", 1), "int16": ("h", 2), "int32": ("i", 4), "int64": ("q", 8),
    "uint": ("Q", 8), "uint8": ("B", 1), "uint16": ("H", 2), "uint32": ("I", 4),
    "uint64": ("Q", 8), "uintptr": ("Q", 8), "bool": ("?", 1),
}
STRING_SIZE = 16


def _go_replace(err: UnicodeError) -> tuple[str, int]:
    """Each invalid byte becomes one U+FFFD, as Go's encoding/json does."""
    assert isinstance(err, UnicodeDecodeError)
    return "\ufffd", err.start + 1


codecs.register_error("gotui-go-utf8", _go_replace)


@dataclass
class Buffer:
    """Where a buffered channel keeps its values."""

    chan: Channel
    buf: int  # address of the ring (cap slots of elemsize bytes)
    elemsize: int
    recvx: int  # slot of the next value to receive

    def slots(self) -> list[tuple[int, int]]:
        """(address, slots) of the ring ranges holding the values in receive order, at
        most MAX_VALUES of them."""
        n, cap = min(self.chan.len, MAX_VALUES), self.chan.cap
        first = min(n, cap - self.recvx)
        out = [(self.buf + self.recvx * self.elemsize, first)]
        if n > first:
            out.append((self.buf, n - first))
        return out


class BufferReader:
    def __init__(self, mem: ProcessMemory, layouts: dict[str, StructLayout]) -> None:
        self.mem = mem
        hc = layouts["runtime.hchan"].offsets
        self.off_buf, self.off_elemsize, self.off_recvx = hc["buf"], hc["elemsize"], hc["recvx"]
        self.size = max(self.off_buf, self.off_recvx, self.off_elemsize) + 8

    def fill(self, channels: list[Channel]) -> list[Buffer]:
        """Set `elements` of the channels whose values are readable here ([] for an
        empty or unbuffered one); return the buffers of the others (values of other
        types, or unreadable), for the stop backend."""
        todo = [c for c in channels if c.cap > 0 and c.len > 0]
        for c in channels:
            if c.cap == 0 or c.len == 0:
                c.elements = []
        addrs = [int(c.addr, 16) for c in todo]
        raw, ok = self.mem.read_same_size(addrs, self.size)
        rest: list[Buffer] = []
        for j, c in enumerate(todo):
            base = j * self.size
            b = Buffer(c, _U64.unpack_from(raw, base + self.off_buf)[0],
                       struct.unpack_from("<H", raw, base + self.off_elemsize)[0],
                       _U64.unpack_from(raw, base + self.off_recvx)[0])
            if not ok[j] or b.recvx >= c.cap or not b.buf:
                continue  # not what a halted channel looks like: leave it unknown
            values = self._values(b)
            if values is None:
                rest.append(b)
            else:
                c.elements = values
        return rest

    def _values(self, b: Buffer) -> list[str] | None:
        typ = b.chan.elem_type
        if typ in SCALARS:
            fmt, size = SCALARS[typ]
            if size != b.elemsize:
                return None
            data = self._ring(b)
            if data is None:
                return None
            vals = struct.unpack(f"<{len(data) // size}{fmt}", data)
            if typ == "bool":
                return ["true" if v else "false" for v in vals]
            return [str(v) for v in vals]
        if typ == "string" and b.elemsize == STRING_SIZE:
            data = self._ring(b)
            if data is None:
                return None
            heads = list(struct.iter_unpack("<QQ", data))
            wanted = [(p, min(n, MAX_STRING)) for p, n in heads if n]
            read = iter(self.mem.read_many(wanted))
            texts = [next(read) if n else b"" for _, n in heads]
            out = []
            for (_, n), text in zip(heads, texts, strict=True):
                if text is None:
                    return None
                shown = text.decode("utf-8", "gotui-go-utf8")
                out.append(repr_go_string(shown, len(shown) + n - len(text)))
            return out
        return None

    def _ring(self, b: Buffer) -> bytes | None:
        parts = self.mem.read_many([(a, n * b.elemsize) for a, n in b.slots()])
        if any(p is None for p in parts):
            return None
        return b"".join(p for p in parts if p is not None)
