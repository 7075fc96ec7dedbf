"""Assemble the BPF C text for one probe set: #defines for probe ids and runtime field
offsets, bpf/common.h, the lifecycle probes, and generated tracepoint functions."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from gotui.backends.ebpf.cond import Compiled
from gotui.backends.ebpf.symbols import Offsets

BPF_PACKAGE = "gotui.bpf"  # bpf/ in the repository, package data when installed

# Fixed probe ids of the lifecycle program; tracepoints get their own programs.
PROBE_CREATED, PROBE_EXITED, PROBE_BLOCKED, PROBE_UNBLOCKED, PROBE_CALIBRATE = range(5)
LIFECYCLE_NAMES = {PROBE_CREATED: "created", PROBE_EXITED: "exited",
                   PROBE_BLOCKED: "blocked", PROBE_UNBLOCKED: "unblocked",
                   PROBE_CALIBRATE: "calibrate"}

TP_NVALS = 12
TP_NSTRS = 4
TP_STRLEN = 64
RINGBUF_PAGES = 64  # 256 KiB


@dataclass
class TracepointSource:
    probe: int  # probe id (index in the hit counter array)
    compiled: Compiled


def _defines(offsets: Offsets, nprobes: int, deep: bool) -> list[str]:
    d = {
        "GOTUI_NPROBES": nprobes,
        "GOTUI_RINGBUF_PAGES": RINGBUF_PAGES,
        "G_GOID": offsets.g["goid"],
        "G_M": offsets.g["m"],
        "M_CURG": offsets.m["curg"],
        "G_GOPC": offsets.g["gopc"],
        "G_STARTPC": offsets.g["startpc"],
        "G_WAITREASON": offsets.g["waitreason"],
        "G_WAITING": offsets.g["waiting"],
        "SUDOG_C": offsets.sudog["c"],
        "TP_NVALS": TP_NVALS,
        "TP_NSTRS": TP_NSTRS,
        "TP_STRLEN": TP_STRLEN,
    }
    if "parentGoid" in offsets.g:
        d["G_PARENTGOID"] = offsets.g["parentGoid"]
    for pid, name in LIFECYCLE_NAMES.items():
        d[f"PROBE_{name.upper()}"] = pid
    lines = [f"#define {k} {v}" for k, v in d.items()]
    if deep:
        lines.append("#define GOTUI_DEEP 1")
    return lines


def bpf_file(name: str) -> str:
    """The text of one of the BPF C sources shipped with gotui."""
    return files(BPF_PACKAGE).joinpath(name).read_text()


def lifecycle_source(offsets: Offsets, *, deep: bool) -> str:
    parts = _defines(offsets, len(LIFECYCLE_NAMES), deep)
    parts += [bpf_file("common.h"), bpf_file("lifecycle.c")]
    return "\n".join(parts)


def tracepoint_function(tp: TracepointSource) -> str:
    c = tp.compiled
    lines = [f"int on_tp_{tp.probe}(struct pt_regs *ctx) {{", f"    count_hit({tp.probe});"]
    lines += [f"    {stmt}" for stmt in c.body]
    lines += [
        f"    if (!({c.cond}))",
        "        return 0;",
        f"    struct tp_event *e = tp_reserve(ctx, {tp.probe});",
        "    if (!e)",
        "        return 0;",
    ]
    for cap in c.captures:
        if cap.kind == "str":
            lines.append(f"    tp_string(e, {cap.slot}, {cap.ptr}, {cap.expr});")
        else:
            lines.append(f"    e->vals[{cap.slot}] = (u64)({cap.expr});")
    lines += ["    events.ringbuf_submit(e, 0);", "    return 0;", "}"]
    return "\n".join(lines)


def tracepoint_source(offsets: Offsets, tps: list[TracepointSource]) -> str:
    nprobes = max((tp.probe for tp in tps), default=0) + 1
    parts = _defines(offsets, nprobes, False)
    parts += [bpf_file("common.h"), bpf_file("tracepoint.c")]
    parts += [tracepoint_function(tp) for tp in tps]
    return "\n".join(parts)
