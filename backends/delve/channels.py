"""Channels seen through Delve, while the target is halted (best effort).

For each goroutine whose wait reason is a channel wait, Delve's `runtime.curg` (the
goroutine of the eval scope) leads to its sudog: `runtime.curg.waiting` (for a select,
one sudog per case, chained by `waitlink`). `sudog.c` is the *hchan (Go >= 1.26 wraps
it in runtime.maybeTraceableChan, a pointer-sized struct; reading the field's memory
as a uintptr works for both). The hchan gives len/cap/closed/recvx; its elemtype's
name comes from the module's type name table (abi.Name: flag byte, uvarint length,
bytes; a leading '*' is dropped when TFlagExtraStar is set). With that name, reading
the sudog's field as `chan T` makes Delve type the buffer as *[cap]T, and reading that
array gives the element values (listed from recvx, qcount of them = receive order).
Only channels some goroutine waits on are found this way; element types whose
package path has a '/' cannot be named in a Delve cast, so their elements stay None.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from backends.delve.convert import render_value, variable
from backends.delve.rpc import DelveRPC
from backends.live.pclntab import uvarint
from backends.model import BlockedOn, Channel, ChanOp, Goroutine, GotuiError

_OPS: dict[str, ChanOp] = {"chan receive": "recv", "chan send": "send", "select": "select"}
_MAX_SELECT_CASES = 64
_TFLAG_EXTRA_STAR = 2
_SHALLOW = {"FollowPointers": False, "MaxVariableRecurse": 1, "MaxStringLen": 64,
            "MaxArrayValues": 64, "MaxStructFields": -1}
_CONCURRENCY = 64


@dataclass
class _Wait:
    goid: int
    op: ChanOp
    chan: int  # hchan address
    cell: int  # address of a word in memory holding the hchan pointer (sudog.c)


@dataclass
class _ChanInfo:
    addr: int
    cell: int
    waits: list[_Wait] = field(default_factory=list)


def chan_op(wait_reason: str) -> ChanOp | None:
    """"chan receive" -> "recv" ...; None for waits not on a (non-nil) channel."""
    base = wait_reason.removesuffix(" (durable)")
    return _OPS.get(base)


async def read_channels(rpc: DelveRPC, goroutines: list[Goroutine],
                        load_config: dict[str, Any]) -> list[Channel]:
    """Channels the given goroutines wait on; sets their blocked_on / waiting_on."""
    sem = asyncio.Semaphore(_CONCURRENCY)

    async def waits_of(g: Goroutine) -> list[_Wait]:
        op = chan_op(g.wait_reason)
        if op is None or g.status != "waiting":
            return []
        async with sem:
            return await _sudog_waits(rpc, g.id, op)

    per_g = await asyncio.gather(*(waits_of(g) for g in goroutines))
    chans: dict[int, _ChanInfo] = {}
    by_id = {g.id: g for g in goroutines}
    for waits in per_g:
        for w in waits:
            chans.setdefault(w.chan, _ChanInfo(w.chan, w.cell)).waits.append(w)
            g = by_id[w.goid]
            g.waiting_on.append(BlockedOn(f"0x{w.chan:x}", w.op))
            if g.blocked_on is None:
                g.blocked_on = g.waiting_on[0]

    async def describe(info: _ChanInfo) -> Channel | None:
        async with sem:
            return await _describe(rpc, info, load_config)

    described = await asyncio.gather(*(describe(c) for c in chans.values()))
    return [c for c in described if c is not None]


async def _eval(rpc: DelveRPC, expr: str, goid: int = -1,
                cfg: dict[str, Any] | None = None) -> dict[str, Any] | None:
    try:
        res = await rpc.call("Eval", {"Scope": {"GoroutineID": goid, "Frame": 0},
                                      "Expr": expr, "Cfg": cfg or _SHALLOW})
    except GotuiError:
        if rpc.closed:
            raise
        return None
    return res.get("Variable")


def _child(v: dict[str, Any], name: str) -> dict[str, Any]:
    for c in v.get("children") or []:
        if c.get("name") == name:
            return c
    return {}


def _int(v: dict[str, Any]) -> int:
    m = re.search(r"\((\d+)\)$", v.get("value", ""))  # enums print as "Name (7)"
    try:
        return int(m.group(1) if m else v.get("value") or 0)
    except ValueError:
        return 0


async def _sudog_waits(rpc: DelveRPC, goid: int, op: ChanOp) -> list[_Wait]:
    waits: list[_Wait] = []
    path = "runtime.curg.waiting"
    for _ in range(_MAX_SELECT_CASES):
        sudog = await _eval(rpc, f"*{path}", goid)
        if sudog is None:
            break
        c = _child(sudog, "c")
        ptr = await _eval(rpc, f"*(*uintptr)({c.get('addr', 0)})") if c else None
        chan = _int(ptr) if ptr else 0
        if chan:
            waits.append(_Wait(goid, op, chan, int(c["addr"])))
        if op != "select" or not _int(_child(sudog, "waitlink")):
            break
        path += ".waitlink"
    return waits


async def _describe(rpc: DelveRPC, info: _ChanInfo, load_config: dict[str, Any]
                    ) -> Channel | None:
    hchan = await _eval(rpc, f"*(*runtime.hchan)({info.addr})")
    if hchan is None:
        return None
    qcount, dataqsiz = _int(_child(hchan, "qcount")), _int(_child(hchan, "dataqsiz"))
    recvx = _int(_child(hchan, "recvx"))
    ch = Channel(
        addr=f"0x{info.addr:x}",
        len=qcount, cap=dataqsiz, closed=_int(_child(hchan, "closed")) != 0,
        senders=sorted({w.goid for w in info.waits if w.op == "send"}),
        receivers=sorted({w.goid for w in info.waits if w.op == "recv"}),
    )
    ch.elem_type = await _elem_type_name(rpc, info.addr)
    if ch.elem_type and dataqsiz:
        ch.elements = await _elements(rpc, info.cell, ch.elem_type, qcount, dataqsiz, recvx,
                                      load_config)
    elif dataqsiz == 0:
        ch.elements = []
    return ch


async def _elem_type_name(rpc: DelveRPC, addr: int) -> str:
    t = await _eval(rpc, f"*(*(*runtime.hchan)({addr})).elemtype")
    if t is None:
        return ""
    str_off = _int(_child(t, "Str") or _child(t, "str"))
    tflag = _int(_child(t, "TFlag") or _child(t, "tflag"))
    raw = await _eval(rpc, f"*(*[160]uint8)(runtime.firstmoduledata.types + {str_off})",
                      cfg={**_SHALLOW, "MaxArrayValues": 160})
    if raw is None:
        return ""
    name = decode_abi_name(bytes(_int(c) & 0xFF for c in raw.get("children") or []))
    if tflag & _TFLAG_EXTRA_STAR and name.startswith("*"):
        name = name[1:]
    return name


def decode_abi_name(data: bytes) -> str:
    """An encoded runtime name (Go >= 1.17): flags byte, uvarint length, bytes."""
    try:
        n, i = uvarint(data, 1)
    except IndexError:
        return ""
    return data[i:i + n].decode(errors="replace")


async def _elements(rpc: DelveRPC, cell: int, elem_type: str, qcount: int, dataqsiz: int,
                    recvx: int, load_config: dict[str, Any]) -> list[Any] | None:
    # Read as `chan T`, Delve types hchan.buf as *[cap]T (but loads no fields of
    # struct elements, whatever the depth); then read that array itself.
    chan = await _eval(rpc, f"*(*chan {elem_type})({cell})", cfg=_SHALLOW)
    buf = _child(chan, "buf") if chan else {}
    if not buf.get("type", "").startswith("*[") or not buf.get("value", "").isdigit():
        return None
    cfg = {**load_config, "MaxVariableRecurse": 2,
           "MaxArrayValues": max(64, min(dataqsiz, 1024))}
    arr = await _eval(rpc, f"*({buf['type']})({buf['value']})", cfg=cfg)
    if arr is None:
        return None
    items = arr.get("children") or []
    out: list[Any] = []
    for i in range(qcount):
        idx = (recvx + i) % dataqsiz
        if idx >= len(items):
            break  # not loaded (bigger than MaxArrayValues)
        out.append(render_value(variable(items[idx])))
    return out
