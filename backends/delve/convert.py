"""Delve API v2 JSON objects (service/api/types.go) -> gotui model objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gotui.backends.model import (
    Breakpoint,
    Frame,
    Goroutine,
    Location,
    TargetState,
    Variable,
    frame_kind,
    status_name,
)

# reflect.Kind numbers (Go's reflect package), as Delve sends them in Variable.kind
REFLECT_KINDS = (
    "invalid", "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16",
    "uint32", "uint64", "uintptr", "float32", "float64", "complex64", "complex128", "array",
    "chan", "func", "interface", "map", "ptr", "slice", "string", "struct", "unsafe.Pointer",
)

_GWAITING = 4
_GLEAKED = 10  # Go 1.26 leak detector: still a wait


def location(d: dict[str, Any] | None) -> Location:
    d = d or {}
    fn = d.get("function") or {}
    # function.value: the entry of the function holding pc (for an inlined call, the
    # function it is inlined in: Delve's pkg/proc/stack.go)
    return Location(fn.get("name", ""), d.get("file", ""), int(d.get("line", 0)),
                    int(d.get("pc", 0)), int(fn.get("value", 0) or 0))


def frame(d: dict[str, Any]) -> Frame:
    loc = location(d)
    return Frame(loc.function, loc.file, loc.line, loc.pc, frame_kind(loc.function),
                 note=d.get("Err", "") or "", entry=loc.entry)


def mark_inlined(frames: list[Frame], func_id: Callable[[str], str] | None = None) -> None:
    """Delve gives an inlined call the pc of the frame it is inlined in (the next one):
    mark those; func_id names each function's abi.FuncID (from the binary's pclntab)."""
    for i, f in enumerate(frames):
        f.inlined = (f.kind != "c" and i + 1 < len(frames) and frames[i + 1].pc == f.pc
                     and bool(f.pc))
        if func_id is not None and f.kind != "c":
            f.func_id = func_id(f.function)


def wait_ns(wait_since: int, now_ns: int | None) -> int:
    """waitSince is runtime nanotime (CLOCK_MONOTONIC on linux), set lazily by the
    GC: 0 means unknown. now_ns is the same clock (None: not comparable, remote)."""
    if wait_since <= 0 or now_ns is None or now_ns < wait_since:
        return 0
    return now_ns - wait_since


def goroutine(d: dict[str, Any], reasons: list[str], now_ns: int | None,
              fallback_reason: Any = None) -> Goroutine:
    raw_status = int(d.get("status", 0))
    raw_reason = int(d.get("waitReason", 0))
    reason = ""
    # g.waitreason is only meaningful while waiting: a running g keeps the stale
    # reason of its last park (seen at breakpoints as "running, IO wait").
    if raw_status & ~0x1000 in (_GWAITING, _GLEAKED):
        if 0 <= raw_reason < len(reasons):
            reason = reasons[raw_reason]
        elif fallback_reason is not None:
            reason = fallback_reason(raw_reason)
        else:
            reason = f"waitReason({raw_reason})"
    return Goroutine(
        id=int(d["id"]),
        status=status_name(raw_status),
        wait_reason=reason,
        wait_ns=wait_ns(int(d.get("waitSince", 0)), now_ns),
        labels=dict(d.get("labels") or {}),
        current=location(d.get("currentLoc")),
        user_current=location(d.get("userCurrentLoc")),
        go_statement=location(d.get("goStatementLoc")),
        # Delve resolves go-statement wrappers (gowrap/dwrap) to the real function
        start=location(d.get("startLoc")),
        thread_id=int(d.get("threadID", 0)),
    )


def g_fields(v: dict[str, Any]) -> dict[str, int]:
    """Integer fields of a runtime.g Variable loaded one level deep: plain integers and
    pointers by name, atomic wrappers (atomicstatus) by their inner value."""
    out: dict[str, int] = {}
    for c in v.get("children") or []:
        value = c.get("value", "")
        if not value and c.get("children"):
            inner = [x.get("value", "") for x in c["children"] if x.get("value", "").isdigit()]
            value = inner[0] if inner else ""
        if value.isdigit():
            out[c.get("name", "")] = int(value)
    return out


def variable(d: dict[str, Any]) -> Variable:
    kind_no = int(d.get("kind", 0))
    kind = REFLECT_KINDS[kind_no] if 0 <= kind_no < len(REFLECT_KINDS) else str(kind_no)
    value = d.get("value", "")
    if kind == "string":
        value = repr_go_string(value, int(d.get("len", len(value))))
    elif kind in ("ptr", "unsafe.Pointer") and value.isdigit():
        value = f"0x{int(value):x}"  # Delve sends pointer values in decimal
    elif kind in ("chan", "map") and not value and d.get("base"):
        value = f"0x{int(d['base']):x}"
    return Variable(
        name=d.get("name", ""),
        type=d.get("type", ""),
        value=value,
        kind=kind,
        children=[variable(c) for c in d.get("children") or []],
        unreadable=d.get("unreadable", "") or "",
    )


def render_value(v: Variable) -> str:
    """A Variable as one Go-like line: 7, "s", {ID: 1, Path: "/x"}, [1, 2]."""
    if v.unreadable:
        return f"<unreadable: {v.unreadable}>"
    if v.kind == "struct":
        return "{" + ", ".join(f"{c.name}: {render_value(c)}" for c in v.children) + "}"
    if v.kind in ("array", "slice"):
        return "[" + ", ".join(render_value(c) for c in v.children) + "]"
    if v.kind == "ptr" and v.children:
        inner = v.children[0]
        if inner.kind == "struct" and inner.children:
            return "&" + render_value(inner)
    return v.value


def repr_go_string(s: str, full_len: int) -> str:
    quoted = '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if full_len > len(s):
        quoted += f"...+{full_len - len(s)} more"
    return quoted


def breakpoint(d: dict[str, Any]) -> Breakpoint:
    return Breakpoint(
        id=int(d.get("id", 0)),
        name=d.get("name", ""),
        file=d.get("file", ""),
        line=int(d.get("line", 0)),
        function=d.get("functionName", ""),
        cond=d.get("Cond", ""),
        hit_cond=d.get("HitCond", ""),
        hit_cond_per_g=bool(d.get("HitCondPerG", False)),
        enabled=not d.get("disabled", False),
        tracepoint=bool(d.get("continue", False)),
        total_hits=int(d.get("totalHitCount", 0)),
        hits_per_goroutine={int(k): int(v) for k, v in (d.get("hitCount") or {}).items()},
        addrs=[int(a) for a in d.get("addrs") or []],
    )


def target_state(st: dict[str, Any]) -> TargetState:
    running = bool(st.get("Running"))
    exited = bool(st.get("exited"))
    thread = st.get("currentThread") or {}
    g = st.get("currentGoroutine") or {}
    bp = thread.get("breakPoint") or {}
    cur: Location | None = None
    if thread and not exited:
        cur = location(thread)
        if g:  # the user-facing position of the selected goroutine
            cur = location(g.get("userCurrentLoc")) if g.get("userCurrentLoc") else cur
    reason = st.get("stopReason", "") or ""
    if bp.get("id"):
        reason = "breakpoint"
    return TargetState(
        running=running,
        exited=exited,
        exit_status=int(st.get("exitStatus", 0)) if exited else None,
        current_goroutine=int(g.get("id", 0)) if g else int(thread.get("goroutineID", 0)),
        current_thread=int(thread.get("id", 0)),
        stop_reason=reason,
        breakpoint_id=int(bp.get("id", 0)),
        current=cur,
    )
