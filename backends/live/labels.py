"""pprof labels of goroutines, read from g.labels (Go >= 1.24: a *labelMap, which is a
sorted []struct{key, value string}; before, a map this reader does not decode)."""

from __future__ import annotations

import struct

from gotui.backends.live.memory import ProcessMemory
from gotui.backends.model import Goroutine

MAX_LABELS = 64
MAX_LABEL_LEN = 4096
_SLICE = struct.Struct("<QQ")


class LabelReader:
    def __init__(self, mem: ProcessMemory, go_minor: int) -> None:
        self.mem = mem
        self.go_minor = go_minor

    def fill(self, labelled: list[tuple[Goroutine, int]]) -> None:
        """Sets the labels of each (goroutine, its g.labels). Goroutines that inherit
        labels share the map: each one is read once per call (not across calls: a
        freed map's address can be reused)."""
        if self.go_minor < 24 or not labelled:
            return
        todo = sorted({p for _, p in labelled})
        maps = {p: self.read(hdr) if hdr else {}
                for p, hdr in zip(todo, self.mem.read_many([(p, 16) for p in todo]),
                                  strict=True)}
        for gr, p in labelled:
            gr.labels = dict(maps[p])

    def read(self, hdr: bytes) -> dict[str, str]:
        """The labels of a labelMap whose slice header is `hdr` ({} if it does not hold
        up: too many, too long, unreadable)."""
        ptr, n = _SLICE.unpack(hdr)
        if not 0 < n <= MAX_LABELS:
            return {}
        raw = self.mem.read(ptr, 32 * n)
        if raw is None:
            return {}
        fields = struct.unpack(f"<{4 * n}Q", raw)
        reqs = [(fields[i], fields[i + 1]) for i in range(0, 4 * n, 2)]
        if any(not 0 <= ln <= MAX_LABEL_LEN for _, ln in reqs):
            return {}
        strs = self.mem.read_many([(p, ln) for p, ln in reqs])
        if any(s is None for s in strs):
            return {}
        vals = [s.decode(errors="replace") for s in strs if s is not None]
        return dict(zip(vals[0::2], vals[1::2], strict=True))
