"""Runs INSIDE gdb (sourced with `source gdbside.py`): reads Go runtime state through
gdb's Python API and prints one JSON document per call, so the MI side needs one
round trip per snapshot instead of hundreds of `-data-evaluate-expression`s.

Entry points (called as `python gotui_...(...)` via -interpreter-exec console):
  gotui_dump(path, depth, goid) writes {"goroutines": [...], "threads": [...]} to path:
      raw goroutine fields, frame-pointer-walked Go stacks, native thread backtraces
      (a file: MI's console stream is far too slow for megabytes of JSON).
  gotui_info() prints {"go_version", "goid", "lwp", "thread"} of the selected thread.

Raw frames are [pc, function, file, line, solib]; classification and stitching live in
backends/cgostack.py (outside gdb) so every backend shares them.

This file must stay importable by gdb's embedded Python: stdlib + `gdb` only.
"""

import json
import os

import gdb  # type: ignore[import-not-found]
from gdb.unwinder import Unwinder, register_unwinder  # type: ignore[import-not-found]

_MAX_WORDS_SCAN = 16  # words above g0.sched.sp searched for cgocallback's return address
_DEAD_STATUSES = (6, 11)  # _Gdead, _Gdeadextra (1.26: dead g kept for cgo callbacks)

# LWP -> (caller pc, caller sp, caller bp) for Ms whose g0 stack holds C frames below a
# Go callback (filled by gotui_dump, read by the unwinder while it walks that thread).
_CALLBACK_CALLERS = {}


def _global(name):
    """A Go global by its linker name; independent of gdb's current language (in Go
    mode, 'runtime.allgs' would parse as a rune literal)."""
    sym = gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name)
    if sym is None:
        raise gdb.error(f"no symbol {name}")
    return sym.value()


def _mem_u64(addr):
    if not 0 < addr < 1 << 64:
        raise gdb.MemoryError(f"bad address {addr:#x}")
    return int.from_bytes(bytes(gdb.selected_inferior().read_memory(addr, 8)), "little")


def _int(v):
    """Integer value of a field that may be wrapped (atomic.Uint32, muintptr, ...)."""
    t = v.type.strip_typedefs()
    while t.code == gdb.TYPE_CODE_STRUCT:
        names = [f.name for f in t.fields()]
        v = v["value"] if "value" in names else v[names[-1]]
        t = v.type.strip_typedefs()
    return int(v)  # pointers too (gdb converts them to their address)


def _ptr(v):
    return _int(v) & 0xFFFFFFFFFFFFFFFF


def _field(v, name, default=0):
    try:
        return _int(v[name])
    except (gdb.error, RuntimeError):
        return default


def _function_at(pc):
    """(name, start) of the function containing pc, from DWARF or the minimal symbols."""
    if pc <= 0:
        return "", 0
    try:
        block = gdb.block_for_pc(pc)
    except RuntimeError:
        block = None
    while block is not None and block.function is None:
        block = block.superblock
    if block is not None:
        return block.function.print_name, block.start
    out = gdb.execute(f"info symbol {pc:#x}", to_string=True).strip()
    if out.startswith("No symbol"):
        return "", 0
    name, _, rest = out.partition(" in section ")
    off = 0
    if " + " in name:
        name, _, offs = name.partition(" + ")
        off = int(offs)
    return name.strip(), pc - off


_SYMBOLS = {}  # (pc, is_return) -> raw frame; cleared by every gotui_dump


def _frame_at(pc, is_return):
    """Symbolise one pc; a return address is looked up at pc-1 (the call instruction)."""
    key = (pc, is_return)
    if key not in _SYMBOLS:
        _SYMBOLS[key] = _symbolise(pc, is_return)
    return list(_SYMBOLS[key])


def _symbolise(pc, is_return):
    look = pc - 1 if is_return else pc
    if look <= 0:
        return [pc, "", "", 0, "", 0]
    name, start = _function_at(look)
    sal = gdb.find_pc_line(look)
    file = ""
    line = 0
    if sal.symtab is not None and sal.line:
        file = sal.symtab.fullname() or sal.symtab.filename
        line = sal.line
    library = gdb.solib_name(pc) or os.path.realpath(gdb.current_progspace().filename or "")
    return [pc, name, file, line, library, pc - start if start else 0]


def _walk_fp(pc, bp, depth):
    """Go frames from a saved (pc, bp): Go keeps frame pointers on amd64."""
    return [_frame_at(pc, False)] + _callers_by_fp(bp, depth - 1)


def _callers_by_fp(bp, depth):
    frames = []
    while bp and len(frames) < depth:
        try:
            ret = _mem_u64(bp + 8)
            next_bp = _mem_u64(bp)
        except gdb.MemoryError:
            break
        if ret == 0:
            break
        frame = _frame_at(ret, True)
        if not frame[1]:
            break  # not code: the chain left this stack
        frames.append(frame)
        if frame[1] in ("runtime.goexit", "runtime.mstart"):
            break
        if next_bp <= bp:
            break
        bp = next_bp
    return frames


def _native_frames(depth):
    """gdb's own unwind (DWARF CFI, .eh_frame, our unwinder) of the selected thread;
    where gdb gives up inside Go code (it refuses to unwind from the g0 stack back to a
    goroutine stack, which lies at a lower address), continue by frame pointers."""
    frames = []
    try:
        frame = gdb.newest_frame()
    except gdb.error:
        return frames
    while frame is not None and len(frames) < depth:
        pc = frame.pc()
        raw = _frame_at(pc, len(frames) > 0 and frame.type() == gdb.NORMAL_FRAME)
        if not raw[1] and frame.name():
            raw[1] = frame.name()
        if not raw[1] and frames:
            return frames  # gdb is unwinding garbage
        frames.append(raw)
        if raw[1] in ("runtime.goexit", "runtime.mstart"):
            return frames
        try:
            older = frame.older()
        except gdb.error:
            older = None
        if older is None and _is_go(raw[1]):
            try:
                bp = _ptr(frame.read_register("rbp"))
            except (gdb.error, ValueError):
                bp = 0
            frames += _callers_by_fp(bp, depth - len(frames))
            return frames
        frame = older
    return frames


def _is_go(name):
    return "." in name and not name.startswith("_") and name not in ("runtime.mcall",)


def _start_frame(startpc):
    """g.startpc points at the `go f(x)` wrapper (main.main.gowrap1); like Delve, report
    the first non-runtime function the wrapper calls."""
    key = ("start", startpc)
    if key not in _SYMBOLS:
        _SYMBOLS[key] = _unwrap_start(startpc)
    return list(_SYMBOLS[key])


def _unwrap_start(startpc):
    raw = _frame_at(startpc, False)
    if "gowrap" not in raw[1] and "dwrap" not in raw[1]:
        return raw
    block = gdb.block_for_pc(startpc)
    while block is not None and block.function is None:
        block = block.superblock
    if block is None:
        return raw
    arch = gdb.selected_inferior().architecture()
    for insn in arch.disassemble(block.start, block.end - 1):
        text = insn["asm"]
        if not text.startswith("call"):
            continue
        target = text.split()[1] if len(text.split()) > 1 else ""
        if not target.startswith("0x"):
            continue
        callee = _frame_at(int(target, 16), False)
        if callee[1] and not callee[1].startswith("runtime."):
            return callee
    return raw


def _range_of(name):
    try:
        sym = gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name)
    except gdb.error:
        sym = None
    if sym is None:
        return None
    block = gdb.block_for_pc(int(sym.value().address))
    while block is not None and block.function is None:
        block = block.superblock
    return (block.start, block.end) if block is not None else None


class FrameId:
    """gdb < 14 has no gdb.unwinder.FrameId: any object with sp and pc will do."""

    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class _CgoUnwinder(Unwinder):
    """Teach gdb the two stack switches of cgo that DWARF cannot describe.

    runtime.asmcgocall (not innermost): it switched from the goroutine stack to g0 and
      left (stack.hi - old SP, g) at 0(SP), 8(SP) (or (old SP, 0) when already on g0);
      the caller's return address is at old SP, and rbp is unchanged.
    runtime.mcall on an M whose goroutine called back from C into Go and parked: mcall
      runs just below the C frames on g0's stack; its "caller" is crosscall2, found by
      gotui_dump from g0.sched.sp and kept in _CALLBACK_CALLERS.
    """

    def __init__(self):
        super().__init__("gotui-cgo")
        self.stack_hi_offset = 8

    def __call__(self, pending_frame):
        pc = int(pending_frame.read_register("rip"))
        raw = _frame_at(pc, False)
        name, func = raw[1], pc - raw[5]
        caller = None
        if name == "runtime.mcall":
            caller = _CALLBACK_CALLERS.get(gdb.selected_thread().ptid[1])
        elif name in ("runtime.asmcgocall", "runtime.asmcgocall.abi0") \
                and pending_frame.level() > 0:
            # by name: the symbol may name the ABI wrapper, the frame is in the body
            caller = self._asmcgocall_caller(pending_frame)
        if caller is None:
            return None
        sp = pending_frame.read_register("rsp")
        regtype = pending_frame.read_register("rip").type
        info = pending_frame.create_unwind_info(FrameId(sp, gdb.Value(func).cast(regtype)))
        info.add_saved_register("rip", gdb.Value(caller[0]).cast(regtype))
        info.add_saved_register("rsp", gdb.Value(caller[1]).cast(sp.type))
        info.add_saved_register("rbp", gdb.Value(caller[2]).cast(sp.type))
        return info

    def _asmcgocall_caller(self, pending_frame):
        sp = _ptr(pending_frame.read_register("rsp"))
        rbp = _ptr(pending_frame.read_register("rbp"))
        # (depth, g) slots: 0(SP)/8(SP) since Go 1.21ish, 40(SP)/48(SP) before
        for depth_off, g_off in ((0, 8), (40, 48)):
            try:
                depth, g = _mem_u64(sp + depth_off), _mem_u64(sp + g_off)
                hi = _mem_u64(g + self.stack_hi_offset) if g else 0
                old_sp = hi - depth if g else depth
                word0, word1 = _mem_u64(old_sp), _mem_u64(old_sp + 8)
            except gdb.MemoryError:
                continue
            if _function_at(word0)[0]:
                return (word0, old_sp + 8, _go_bp(old_sp + 8, hi, rbp))
            if _function_at(word1)[0]:
                # some versions open a frame (push rbp) before saving SP
                return (word1, old_sp + 16, word0)
        return None


def _go_bp(sp, hi, bp):
    """The caller's frame pointer: rbp as unwound if it points into this goroutine
    stack; else (C code without frame pointers clobbered it) the first slot above sp
    that looks like a saved-BP/return-address pair."""
    if not hi or sp < bp < hi:
        return bp
    for addr in range(sp, min(hi - 8, sp + 8 * 64), 8):
        try:
            saved, ret = _mem_u64(addr), _mem_u64(addr + 8)
        except gdb.MemoryError:
            return bp
        if addr < saved < hi and _function_at(ret)[0]:
            return addr
    return bp


_UNWINDER = _CgoUnwinder()
register_unwinder(None, _UNWINDER, replace=True)


def _callback_caller(g0_sched_sp, crosscall2):
    """cgocallback stores SP in g0.sched.sp; its return address into crosscall2 is a
    few words above (frame size varies by version, so scan)."""
    for i in range(_MAX_WORDS_SCAN):
        addr = g0_sched_sp + 8 * i
        try:
            word = _mem_u64(addr)
        except gdb.MemoryError:
            return None
        if crosscall2[0] <= word < crosscall2[1]:
            return (word, addr + 8, _mem_u64(addr - 8))
    return None


def _stack_hi_offset():
    try:
        gtype = gdb.lookup_type("runtime.g")
        stack = gtype["stack"]
        return (stack.bitpos + stack.type.strip_typedefs()["hi"].bitpos) // 8
    except (gdb.error, KeyError):
        return 8  # g.stack{lo, hi} has been g's first field in every Go release


def _wait_reasons():
    try:
        arr = _global("runtime.waitReasonStrings")
    except gdb.error:
        return []
    out = []
    lo, hi = arr.type.strip_typedefs().range()
    for i in range(lo, hi + 1):
        s = arr[i]
        n = int(s["len"])
        out.append(bytes(gdb.selected_inferior().read_memory(int(s["str"]), n)).decode()
                   if n else "")
    return out


def _ms():
    """Every M: procid (LWP), curg, g0 sched sp, lockedg."""
    out = []
    try:
        m = _global("runtime.allm")
    except gdb.error:
        return out
    seen = set()
    while _ptr(m) and _ptr(m) not in seen and len(out) < 100000:
        seen.add(_ptr(m))
        md = m.dereference()
        g0 = md["g0"]
        out.append({
            "addr": _ptr(m), "procid": _field(md, "procid"),
            "curg": _ptr(md["curg"]) if _ptr(md["curg"]) else 0,
            "g0_sched_sp": _int(g0.dereference()["sched"]["sp"]) if _ptr(g0) else 0,
            "lockedg": _field(md, "lockedg"),
        })
        m = md["alllink"]
    return out


def _go_string(v):
    n = int(v["len"])
    return bytes(gdb.selected_inferior().read_memory(int(v["str"]), n)).decode() if n else ""


_SUDOG_FIELDS = ("c", "isSelect", "waitlink")
_HCHAN_FIELDS = ("qcount", "dataqsiz", "closed", "elemsize")


def _struct_reader(t, names):
    t = t.strip_typedefs()
    offsets = {}
    for name in names:
        try:
            offsets[name] = _offset(t, name)
        except StopIteration:
            offsets[name] = None

    def read(inferior, addr):
        buf = bytes(inferior.read_memory(addr, t.sizeof))
        return {n: int.from_bytes(buf[o[0]:o[0] + o[1]], "little") if o else 0
                for n, o in offsets.items()}
    return read


def _waiting(inferior, first, layout):
    """Channels a goroutine waits on: g.waiting -> sudog.c (follow waitlink for select)."""
    out = []
    sg = first
    seen = set()
    while sg and sg not in seen and len(out) < 64:
        seen.add(sg)
        s = layout["_sudog"](inferior, sg)
        if s["c"]:
            c = layout["_hchan"](inferior, s["c"])
            out.append({"chan": s["c"], "len": c["qcount"], "cap": c["dataqsiz"],
                        "closed": c["closed"], "is_select": s["isSelect"],
                        "elemsize": c["elemsize"]})
        sg = s["waitlink"]
    return out


_G_FIELDS = ("goid", "atomicstatus", "waitreason", "m", "lockedm", "sched.pc", "sched.sp",
             "sched.bp", "waitsince", "gopc", "startpc", "parentGoid", "waiting")


def _offset(t, path):
    """(byte offset, size) of a (dotted) field, descending into wrapper structs
    (atomic.Uint32, muintptr, ...) down to the integer inside."""
    off = 0
    for name in path.split("."):
        field = next(f for f in t.fields() if f.name == name)
        off += field.bitpos // 8
        t = field.type.strip_typedefs()
    while t.code == gdb.TYPE_CODE_STRUCT:
        fields = t.fields()
        field = next((f for f in fields if f.name == "value"), fields[-1])
        off += field.bitpos // 8
        t = field.type.strip_typedefs()
    return off, t.sizeof


def _g_layout():
    """Field offsets of runtime.g from DWARF, so each g is one memory read."""
    gtype = _global("runtime.allgs")["array"].type.strip_typedefs().target().target()
    gtype = gtype.strip_typedefs()
    layout = {"_type": gtype, "_size": gtype.sizeof}
    sudog = next(f for f in gtype.fields() if f.name == "waiting").type.strip_typedefs().target()
    layout["_sudog"] = _struct_reader(sudog, _SUDOG_FIELDS)
    layout["_hchan"] = _struct_reader(gdb.lookup_type("runtime.hchan"), _HCHAN_FIELDS)
    for name in _G_FIELDS:
        try:
            layout[name] = _offset(gtype, name)
        except StopIteration:
            layout[name] = None  # e.g. parentGoid before Go 1.21
    return layout


def _read_g(inferior, addr, layout):
    buf = bytes(inferior.read_memory(addr, layout["_size"]))
    out = {}
    for name in _G_FIELDS:
        where = layout[name]
        out[name] = int.from_bytes(buf[where[0]:where[0] + where[1]], "little") \
            if where else 0
    return out


def gotui_info():
    """Go version and the goroutine of the selected thread."""
    version = ""
    try:
        version = _go_string(_global("runtime.buildVersion"))
    except (gdb.error, gdb.MemoryError):
        pass
    goid = 0
    thread = gdb.selected_thread()
    lwp = thread.ptid[1] if thread is not None else 0
    try:
        for m in _ms():
            if m["procid"] == lwp and m["curg"]:
                g = gdb.Value(m["curg"]).cast(gdb.lookup_type("runtime.g").pointer())
                goid = _field(g.dereference(), "goid")
    except (gdb.error, gdb.MemoryError):
        pass
    print(json.dumps({"go_version": version, "goid": goid, "lwp": lwp,
                      "thread": thread.num if thread is not None else 0}))


def _all_gs(inferior):
    allgs = _global("runtime.allgs")
    n = int(_global("runtime.allglen"))
    raw = bytes(inferior.read_memory(int(allgs["array"]), 8 * n)) if n else b""
    return [int.from_bytes(raw[8 * i:8 * i + 8], "little") for i in range(n)]


def gotui_dump(out_path, depth=64, only_goid=0, on_threads=False):
    """Goroutines and threads as JSON in out_path: all goroutines, the one with goid
    only_goid, or (on_threads) only those an M runs (m.curg), with their threads."""
    inferior = gdb.selected_inferior()
    _SYMBOLS.clear()
    threads = {t.ptid[1]: t for t in inferior.threads()}
    reasons = _wait_reasons()
    ms = _ms()
    m_by_addr = {m["addr"]: m for m in ms}
    crosscall2 = _range_of("crosscall2")
    _UNWINDER.stack_hi_offset = _stack_hi_offset()
    _CALLBACK_CALLERS.clear()
    if crosscall2 is not None:
        for m in ms:
            if m["g0_sched_sp"] and m["procid"] in threads:
                caller = _callback_caller(m["g0_sched_sp"], crosscall2)
                if caller is not None:
                    _CALLBACK_CALLERS[m["procid"]] = caller
    gdb.invalidate_cached_frames()

    goroutines = []
    layout = _g_layout()
    for gp in [m["curg"] for m in ms] if on_threads else _all_gs(inferior):
        if not gp:
            continue
        g = _read_g(inferior, gp, layout)
        status = g["atomicstatus"] & ~0x1000
        if status in _DEAD_STATUSES or (only_goid and g["goid"] != only_goid):
            continue
        reason = g["waitreason"]
        m = m_by_addr.get(g["m"])
        lockedm = m_by_addr.get(g["lockedm"])
        pc, bp = g["sched.pc"], g["sched.bp"]
        goroutines.append({
            "addr": gp, "id": g["goid"], "status": status,
            "wait_reason": reasons[reason] if reason < len(reasons) else str(reason),
            "waitsince": g["waitsince"], "gopc": g["gopc"],
            "startpc": g["startpc"], "parent_id": g["parentGoid"],
            "thread": m["procid"] if m else 0,
            "locked_thread": lockedm["procid"] if lockedm else 0,
            "sched": [pc, g["sched.sp"], bp],
            "go_frames": _walk_fp(pc, bp, depth) if pc else [],
            "go_statement": _frame_at(g["gopc"], True) if g["gopc"] else None,
            "start": _start_frame(g["startpc"]) if g["startpc"] else None,
            "waiting": _waiting(inferior, g["waiting"], layout),
        })

    out_threads = []
    selected = gdb.selected_thread()
    wanted = {g["thread"] for g in goroutines} | {g["locked_thread"] for g in goroutines}
    try:
        for lwp, thread in sorted(threads.items()):
            if (only_goid or on_threads) and lwp not in wanted:
                continue
            thread.switch()
            out_threads.append({"lwp": lwp, "num": thread.num,
                                "frames": _native_frames(depth)})
    finally:
        if selected is not None:
            selected.switch()
    with open(out_path, "w") as fh:
        fh.write(json.dumps({"goroutines": goroutines, "threads": out_threads}))
