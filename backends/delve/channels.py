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

Locks (read_locks): the receiver argument of the sync method a parked goroutine sleeps
in gives the sync.Mutex / RWMutex / WaitGroup / Cond's address.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from gotui.backends.delve.convert import render_value, variable
from gotui.backends.delve.rpc import DelveRPC
from gotui.backends.gobinary.pclntab import uvarint
from gotui.backends.model import BlockedOn, Channel, ChanOp, Frame, Goroutine, GotuiError, Lock

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
        if op is None or g.status not in ("waiting", "leaked"):
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
    return await buffer_values(rpc, buf["type"], int(buf["value"]), qcount, dataqsiz, recvx,
                               load_config)


async def buffer_values(rpc: DelveRPC, array_type: str, buf: int, qcount: int, dataqsiz: int,
                        recvx: int, load_config: dict[str, Any]) -> list[Any] | None:
    """The qcount values buffered in a channel's ring `buf` (typed `array_type`, e.g.
    "*[4]main.job"), rendered, in receive order (from slot recvx); None if Delve cannot
    read them (a type it cannot name)."""
    cfg = {**load_config, "MaxVariableRecurse": 2,
           "MaxArrayValues": max(64, min(dataqsiz, 1024))}
    arr = await _eval(rpc, f"*({array_type})({buf})", cfg=cfg)
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


# ------------------------------------------------------------ locks

# receiver-taking sync functions a parked goroutine can be in, outermost kind wins
_SYNC_FRAMES: dict[str, str] = {
    "sync.(*Mutex).Lock": "mutex", "sync.(*Mutex).lockSlow": "mutex",
    "internal/sync.(*Mutex).Lock": "mutex", "internal/sync.(*Mutex).lockSlow": "mutex",
    "sync.(*RWMutex).RLock": "rwmutex", "sync.(*RWMutex).Lock": "rwmutex",
    "sync.(*WaitGroup).Wait": "waitgroup", "sync.(*Cond).Wait": "cond",
}
_LOCK_REASONS = frozenset({"semacquire", "sync.Mutex.Lock", "sync.RWMutex.RLock",
                           "sync.RWMutex.Lock", "sync.WaitGroup.Wait",
                           "sync.WaitGroup.Wait (durable)", "sync.Cond.Wait"})
_LOCK_STACK_DEPTH = 16
_POINTER_ONLY = {**_SHALLOW, "FollowPointers": False}


async def read_locks(rpc: DelveRPC, goroutines: list[Goroutine]) -> list[Lock]:
    """Sync objects goroutines sleep on, from the receiver argument of the outermost
    sync frame (sync.(*Mutex).Lock, (*RWMutex).RLock, (*WaitGroup).Wait, (*Cond).Wait)
    of each goroutine parked on one; sets Goroutine.blocked_on_lock. Optimised builds
    may not have the argument: those goroutines stay without an address."""
    sem = asyncio.Semaphore(_CONCURRENCY)

    async def lock_of(g: Goroutine) -> tuple[int, str, str] | None:
        if g.status not in ("waiting", "leaked") or g.wait_reason not in _LOCK_REASONS:
            return None
        async with sem:
            return await _receiver(rpc, g)

    found = await asyncio.gather(*(lock_of(g) for g in goroutines))
    locks: dict[str, Lock] = {}
    for g, hit in zip(goroutines, found, strict=True):
        if hit is None:
            continue
        goid, kind, addr = hit
        lock = locks.setdefault(addr, Lock(addr, kind))
        lock.waiters.append(goid)
        g.blocked_on_lock = addr
    return sorted(locks.values(), key=lambda x: (-len(x.waiters), x.addr))


async def _receiver(rpc: DelveRPC, g: Goroutine) -> tuple[int, str, str] | None:
    frames = g.stack
    if not frames:
        try:
            res = await rpc.call("Stacktrace", {"Id": g.id, "Depth": _LOCK_STACK_DEPTH,
                                                "Full": False})
        except GotuiError:
            if rpc.closed:
                raise
            return None
        frames = [Frame(function=(loc.get("function") or {}).get("name", ""))
                  for loc in res.get("Locations") or []]
    hits = [(i, _SYNC_FRAMES[f.function]) for i, f in enumerate(frames[:_LOCK_STACK_DEPTH])
            if f.function in _SYNC_FRAMES]
    for i, kind in reversed(hits):  # outermost first: RWMutex.Lock over its inner Mutex
        try:
            res = await rpc.call("ListFunctionArgs", {"Scope": {"GoroutineID": g.id,
                                                                "Frame": i},
                                                      "Cfg": _POINTER_ONLY})
        except GotuiError:
            if rpc.closed:
                raise
            continue
        for arg in res.get("Args") or []:
            if arg.get("type", "").startswith(("*sync.", "*internal/sync.")):
                addr = _pointer_value(arg)
                if addr:
                    return g.id, kind, f"0x{addr:x}"
    return None


def _pointer_value(v: dict[str, Any]) -> int:
    """The address a pointer Variable points to (0 if nil or unreadable)."""
    kids = v.get("children") or []
    if kids and kids[0].get("addr"):
        return int(kids[0]["addr"])
    value = v.get("value", "")
    m = re.search(r"0x[0-9a-f]+", value)
    return int(m.group(0), 16) if m else 0


# ------------------------------------------------------------ stack references

_REFS_DEPTH = 32
_REFS_MAX_GOROUTINES = 500  # one Stacktrace call each (~2 ms): beyond this, no stack_refs
_REFS_CFG = {"FollowPointers": True, "MaxVariableRecurse": 1, "MaxStringLen": 0,
             "MaxArrayValues": 0, "MaxStructFields": 0}


async def read_stack_refs(rpc: DelveRPC, goroutines: list[Goroutine],
                          targets: set[str]) -> None:
    """Set Goroutine.stack_refs: which of `targets` (channel / lock addresses) the
    arguments and locals of a goroutine's frames hold (a chan's hchan, a pointer's
    pointee, a sync object's own address). The Delve counterpart of the live reader's
    stack scan, for the wait-cycle analysis. Runtime-internal goroutines are skipped."""
    users = [g for g in goroutines if g.status != "dead" and not (
        g.start.function.startswith("runtime.") and g.start.function != "runtime.main")]
    waiting = [g for g in users if g.waiting_on or g.blocked_on_lock]
    if not targets or len(waiting) < 2 or len(users) > _REFS_MAX_GOROUTINES:
        return  # a wait cycle needs two waiters
    sem = asyncio.Semaphore(_CONCURRENCY)

    async def refs_of(g: Goroutine) -> None:
        async with sem:
            try:
                res = await rpc.call("Stacktrace", {"Id": g.id, "Depth": _REFS_DEPTH,
                                                    "Full": True, "Cfg": _REFS_CFG})
            except GotuiError:
                if rpc.closed:
                    raise
                return
        found: set[str] = set()
        for loc in res.get("Locations") or []:
            for v in [*(loc.get("Arguments") or []), *(loc.get("Locals") or [])]:
                found.update(a for a in _addresses(v) if a in targets)
        g.stack_refs = sorted(found)

    await asyncio.gather(*(refs_of(g) for g in users))


def _addresses(v: dict[str, Any]) -> list[str]:
    """Addresses a variable refers to: its own, a chan's hchan, a pointer's target."""
    out = [f"0x{int(v['addr']):x}"] if v.get("addr") else []
    if v.get("kind") == 18 and v.get("base"):  # reflect.Chan: base = the hchan
        out.append(f"0x{int(v['base']):x}")
    if v.get("kind") == 22:  # reflect.Ptr: the pointee's address
        out += [f"0x{int(c['addr']):x}" for c in v.get("children") or [] if c.get("addr")]
    return out
