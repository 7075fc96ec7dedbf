"""Ring buffer records -> model.Event, and Event -> one `gotui trace` JSON line.

JSON line schema: {"type": "created"|"exited"|"blocked"|"unblocked"|"tracepoint"|
"lost"|"guard", "t_ns", "goid", "parent_id", ...data} where data holds, by type:
  created/exited: "start": LOC, "go_statement": LOC        (LOC = {function,file,line,pc})
  blocked:        "wait_reason", "wait_reason_raw", "chan": "0x.." and "op" on channels
  unblocked:      "by": goid of the goroutine that made it runnable (0 if unknown)
  tracepoint:     "function", "location": LOC, "args": {name: value}, "probe"
  lost:           "count" (events dropped because the ring buffer was full)
  guard:          "probe", "action" (sampling|detached|restored), "hits_per_s",
                  "est_cpu", "budget", "duty", "per_hit_ns"
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from gotui.backends.ebpf.cond import Capture
from gotui.backends.ebpf.program import TP_NSTRS, TP_NVALS, TP_STRLEN
from gotui.backends.ebpf.symbols import GoBinary
from gotui.backends.model import Event, Location, to_json

EV_CREATED, EV_EXITED, EV_BLOCKED, EV_UNBLOCKED, EV_TRACEPOINT = 1, 2, 3, 4, 5
_LIFE = struct.Struct("<IIQQQQQQII")
_TP_HEAD = struct.Struct(f"<IIQQ{TP_NVALS}Q{TP_NSTRS}I")
_TYPES = {EV_CREATED: "created", EV_EXITED: "exited", EV_BLOCKED: "blocked",
          EV_UNBLOCKED: "unblocked"}


@dataclass
class TracepointInfo:
    key: str
    function: str
    location: Location
    captures: list[Capture] = field(default_factory=list)


def chan_op(wait_reason: str) -> str | None:
    if wait_reason.startswith("chan send"):
        return "send"
    if wait_reason.startswith("chan receive"):
        return "recv"
    if wait_reason.startswith("select") and "no cases" not in wait_reason:
        return "select"
    return None


class Decoder:
    def __init__(self, binary: GoBinary) -> None:
        self.binary = binary
        self.wait_reasons = binary.wait_reasons()
        self.mono_to_wall = time.time_ns() - time.monotonic_ns()
        self.tracepoints: dict[tuple[int, int], TracepointInfo] = {}  # (set id, probe id)
        self._locs: dict[tuple[int, bool], dict[str, Any]] = {}

    def loc(self, pc: int, start: bool = False) -> dict[str, Any]:
        key = (pc, start)
        if key not in self._locs:
            loc = self.binary.start_location(pc) if start else self.binary.location(pc)
            self._locs[key] = to_json(loc)
        return self._locs[key]

    def decode(self, set_id: int, raw: bytes) -> Event | None:
        kind = struct.unpack_from("<I", raw)[0]
        if kind == EV_TRACEPOINT:
            return self._tracepoint(set_id, raw)
        if kind not in _TYPES or len(raw) < _LIFE.size:
            return None
        (_, _, t, goid, parent, gopc, startpc, chan, reason, _) = _LIFE.unpack_from(raw)
        ev = Event(type=_TYPES[kind], t_ns=t + self.mono_to_wall, goid=goid)
        if kind in (EV_CREATED, EV_EXITED):
            ev.parent_id = parent if kind == EV_CREATED else 0
            ev.data = {"start": self.loc(startpc, start=True), "go_statement": self.loc(gopc)}
        elif kind == EV_BLOCKED:
            text = self.wait_reasons[reason] if reason < len(self.wait_reasons) else ""
            ev.data = {"wait_reason": text, "wait_reason_raw": reason}
            op = chan_op(text)
            if op is not None and chan:
                ev.data.update({"chan": f"{chan:#x}", "op": op})
        else:
            ev.data = {"by": parent}
        return ev

    def _tracepoint(self, set_id: int, raw: bytes) -> Event | None:
        fields = _TP_HEAD.unpack_from(raw)
        probe, t, goid = fields[1], fields[2], fields[3]
        vals = fields[4 : 4 + TP_NVALS]
        slens = fields[4 + TP_NVALS :]
        info = self.tracepoints.get((set_id, probe))
        if info is None:
            return None
        args: dict[str, Any] = {}
        for cap in info.captures:
            if cap.kind == "str":
                start = _TP_HEAD.size + cap.slot * TP_STRLEN
                n = min(slens[cap.slot], TP_STRLEN - 1)
                text = raw[start : start + n].decode(errors="replace")
                args[cap.label] = text + ("..." if slens[cap.slot] > n else "")
            else:
                args[cap.label] = _value(cap.kind, vals[cap.slot])
        return Event(type="tracepoint", t_ns=t + self.mono_to_wall, goid=goid,
                     message=f"{info.function} " + " ".join(f"{k}={v!r}" for k, v in args.items()),
                     data={"probe": info.key, "function": info.function,
                           "location": to_json(info.location), "args": args})


def _value(kind: str, raw: int) -> Any:
    if kind == "int":
        return raw - (1 << 64) if raw >= 1 << 63 else raw
    if kind == "bool":
        return bool(raw & 0xFF)
    if kind == "ptr":
        return f"{raw:#x}"
    return raw


def event_to_json_line(ev: Event) -> str:
    """One `gotui trace --json` line: type, t_ns, goid, parent_id, then data's keys."""
    out: dict[str, Any] = {"type": ev.type, "t_ns": ev.t_ns, "goid": ev.goid,
                           "parent_id": ev.parent_id}
    if ev.message:
        out["message"] = ev.message
    for k, v in ev.data.items():
        out.setdefault(k, to_json(v))
    return json.dumps(out, separators=(",", ":"))
