"""The C frames Delve leaves out of a C -> Go callback.

Measured on tests/fixtures/cgo_callback (Go 1.26, dlv 1.27.2, live and core): for a
goroutine that C called back into and that then parked, Delve's stack goes straight
from runtime.cgocallback to runtime.systemstack_switch / runtime.cgocall: the C frames
(crosscall2, the exported C wrapper, the C caller, the _cgo_ stub) are missing. Delve
only switches to the system stack through g.m, which is nil for a parked goroutine.

They are on the g0 stack of the M the goroutine is locked to (g.lockedm):
runtime.cgocallback stored its SP in m.g0.sched.sp and its return address into
crosscall2 sits a few words above. From there the frames are unwound with CFI
(backends/cfi.py) over Delve's ExamineMemory, down to runtime.asmcgocall, and named
by Delve (FindLocation), so this works on live targets and on core files alike.
"""

from __future__ import annotations

import base64
from typing import Any

from gotui.backends import cfi, cgostack
from gotui.backends.delve.rpc import DelveRPC
from gotui.backends.model import Frame, GotuiError

_SCAN_WORDS = 16  # words above g0.sched.sp searched for the return into crosscall2
_CHUNK = 512
NOTE = "C frame of a callback, unwound from g0.sched.sp (CFI)"


class DelveMemory:
    """Little-endian words read through Delve, cached by chunk."""

    def __init__(self, rpc: DelveRPC) -> None:
        self.rpc = rpc
        self._chunks: dict[int, bytes] = {}

    async def load(self, addr: int, length: int) -> None:
        for base in range(addr - addr % _CHUNK, addr + length, _CHUNK):
            if base not in self._chunks:
                try:
                    res = await self.rpc.call("ExamineMemory", {"Address": base,
                                                                "Length": _CHUNK})
                    self._chunks[base] = base64.b64decode(res.get("Mem") or "")
                except GotuiError:
                    self._chunks[base] = b""

    def u64(self, addr: int) -> int | None:
        base = addr - addr % _CHUNK
        data = self._chunks.get(base, b"")
        off = addr - base
        if off + 8 > len(data):
            return None
        return int.from_bytes(data[off:off + 8], "little")


def needs_filling(frames: list[Frame]) -> int | None:
    """Index of runtime.cgocallback when the C frames below it are missing."""
    for i, f in enumerate(frames):
        if f.function in cgostack.CALLBACK_GO_SIDE:
            rest = frames[i + 1:i + 2]
            if rest and rest[0].function == cgostack.CALLBACK_C_SIDE:
                return None
            return i
    return None


async def _eval_int(rpc: DelveRPC, expr: str, goid: int) -> int:
    res = await rpc.call("Eval", {"Scope": {"GoroutineID": goid, "Frame": 0,
                                            "DeferredCall": 0},
                                  "Expr": expr, "Cfg": {"MaxVariableRecurse": 0}})
    value = str(res["Variable"].get("value", "0"))
    return int(value, 0) if value.lstrip("-").isdigit() or value.startswith("0x") else 0


async def _locate(rpc: DelveRPC, loc: str) -> dict[str, Any] | None:
    try:
        res = await rpc.call("FindLocation", {"Scope": {"GoroutineID": -1, "Frame": 0,
                                                        "DeferredCall": 0}, "Loc": loc})
    except GotuiError:
        return None
    locs = res.get("Locations") or []
    return locs[0] if locs else None


# Where a parked goroutine's saved pc lies: just after its call to mcall.
PARK_FUNCS = frozenset({"runtime.gopark", "runtime.Gosched", "runtime.goschedguarded",
                        "runtime.goyield", "runtime.asyncPreempt2", "runtime.mcall"})


async def parked_top_line(rpc: DelveRPC, raw: dict[str, Any], frames: list[Frame],
                          cache: dict[int, tuple[str, int]]) -> None:
    """Delve names the top frame of a parked goroutine at its saved pc, a return
    address; the runtime's traceback (and gotui's live reader) name it at the call
    (pc-1): proc.go:462 `mcall(park_m)`, not 463. Sets frames[0]'s file and line so;
    `raw` is Delve's frame 0, `cache` pc -> (file, line)."""
    top = frames[0] if frames else None
    fn = raw.get("function") or {}
    if top is None or top.function not in PARK_FUNCS or not top.pc > int(fn.get("value", 0)):
        return
    if top.pc not in cache:
        loc = await _locate(rpc, f"*{top.pc - 1:#x}") or {}
        cache[top.pc] = (str(loc.get("file", "")), int(loc.get("line", 0) or 0))
    file, line = cache[top.pc]
    if file and line:
        top.file, top.line = file, line


async def fill_callback(rpc: DelveRPC, exe: str, goid: int, frames: list[Frame],
                        depth: int = 32) -> list[Frame]:
    """`frames` (Delve's) with the C frames of a parked callback put back."""
    i_cb = needs_filling(frames)
    if i_cb is None or not exe:
        return frames
    tab = cfi.table(exe)
    cross = tab.symbols.get(cgostack.CALLBACK_C_SIDE)
    if cross is None:
        return frames
    try:
        m = await _eval_int(rpc, "runtime.curg.lockedm", goid)
        if not m:
            return frames
        sp = await _eval_int(rpc, f"((*runtime.m)({m})).g0.sched.sp", goid)
        where = await _locate(rpc, cgostack.CALLBACK_C_SIDE)
    except GotuiError:
        return frames
    if not sp or where is None:
        return frames
    bias = int(where["function"]["value"]) - cross[0] if where.get("function") else 0
    mem = DelveMemory(rpc)
    await mem.load(sp - 8, 8 * (_SCAN_WORDS + 1))
    start = None
    for k in range(_SCAN_WORDS):
        word = mem.u64(sp + 8 * k)
        if word is not None and cross[0] + bias <= word < cross[1] + bias:
            start = (word, sp + 8 * k + 8, mem.u64(sp + 8 * k - 8) or 0)
            break
    if start is None:
        return frames
    asm = [tab.symbols[n] for n in cgostack.ASMCGOCALL if n in tab.symbols]

    def at_asmcgocall(pc: int) -> bool:
        return any(lo + bias <= pc < hi + bias for lo, hi in asm)

    native = await _unwind(mem, lambda _pc: (tab, bias), start, at_asmcgocall, depth,
                           exact_first=False)
    if len(native) < 2:
        return frames
    c_frames = [await _frame(rpc, nf.pc, True, NOTE) for nf in native]
    below = [f for f in frames[i_cb + 1:] if f.function not in cgostack.STACK_SWITCH_FRAMES]
    return frames[:i_cb + 1] + c_frames + below


async def _unwind(mem: DelveMemory, locate: cfi.Locate, start: tuple[int, int, int],
                  stop: Any, depth: int, exact_first: bool) -> list[cfi.NativeFrame]:
    """cfi.unwind reads synchronously: load what it missed and run it again."""
    pc, sp, bp = start
    frames: list[cfi.NativeFrame] = []
    for _ in range(depth):
        missing: list[int] = []
        frames = cfi.unwind(_Recording(mem, missing), locate, pc, sp, bp, stop, depth,
                            exact_first=exact_first)
        if not missing:
            break
        await mem.load(missing[0], 8)
    return frames


class _Recording:
    def __init__(self, mem: DelveMemory, missing: list[int]) -> None:
        self.mem, self.missing = mem, missing

    def __call__(self, addr: int) -> int | None:
        v = self.mem.u64(addr)
        if v is None:
            self.missing.append(addr)
        return v


async def _frame(rpc: DelveRPC, pc: int, is_return: bool, note: str) -> Frame:
    """Named by Delve (a return address at its call instruction)."""
    loc = await _locate(rpc, f"*{pc - 1 if is_return else pc:#x}") or {}
    fn = str((loc.get("function") or {}).get("name", ""))
    frame = Frame(function=fn or f"{pc:#x}", file=str(loc.get("file", "")),
                  line=int(loc.get("line", 0) or 0), pc=pc, note=note)
    cgostack.classify([frame])
    if cgostack.is_boundary(fn):
        frame.note = cgostack.BOUNDARY_NOTE
    return frame


# ------------------------------------------------------------ a goroutine inside C

def thread_in_c(frames: list[Frame]) -> bool:
    """The goroutine is inside a cgo call: Delve's innermost frame is C, or unnamed
    (on a core Delve has no symbols for the libraries) followed by the cgo call."""
    if len(frames) < 2:
        return False
    if frames[0].function in ("", "?"):
        return any(f.function in (*cgostack.STACK_SWITCH_FRAMES, "runtime.cgocall")
                   for f in frames[1:3])
    # Delve names C frames without debug info "" (its stitching then drops them)
    return frames[0].kind == "c" and any(f.function in cgostack.ASMCGOCALL for f in frames)


async def fill_thread_c(rpc: DelveRPC, exe: str, maps: list[cgostack.Mapping], goid: int,
                        frames: list[Frame], depth: int = 32) -> list[Frame]:
    """The C frames of the thread running goroutine `goid`, from its registers, unwound
    with the CFI of the files mapped in the process (NT_FILE of a core). Delve drops C
    frames without debug info (measured: -O2 -g0 code between libc and asmcgocall) and,
    on cores, every C frame; frames Delve did name keep Delve's names and lines."""
    if not maps or not thread_in_c(frames):
        return frames
    try:
        tid = await _eval_int(rpc, "runtime.curg.m.procid", goid)
        res = await rpc.call("ListRegisters", {"ThreadID": tid, "IncludeFp": False})
    except GotuiError:
        return frames
    regs = {r["Name"].lower(): int(str(r["Value"]).split()[0], 16)
            for r in res.get("Regs") or [] if r.get("Name") in ("Rip", "Rsp", "Rbp")}
    if len(regs) != 3:
        return frames
    locate = cfi.locator(maps)
    stop = cfi.in_functions(locate, cgostack.ASMCGOCALL)
    native = await _unwind(DelveMemory(rpc), locate, (regs["rip"], regs["rsp"], regs["rbp"]),
                           stop, depth, exact_first=True)
    if len(native) < 2 or not stop(native[-1].pc):
        return frames  # did not reach the cgo boundary: keep what Delve said
    i_asm = next((i for i, f in enumerate(frames) if f.function in cgostack.ASMCGOCALL), -1)
    delve_c = frames[:i_asm + 1] if i_asm >= 0 else frames[:1]
    named = [f for f in delve_c if f.function not in ("", "?")]
    if i_asm >= 0 and len(named) >= len(native):
        return frames  # Delve named them all
    by_pc = {f.pc: f for f in delve_c if f.function not in ("", "?")}
    note = f"read from thread {tid}'s registers (CFI)"
    out = []
    for i, nf in enumerate(native):
        known = by_pc.get(nf.pc)
        if known is not None:
            out.append(known)
            continue
        f = None
        if cgostack.library_for_pc(maps, nf.pc) == exe:
            f = await _frame(rpc, nf.pc, i > 0, note)  # Delve knows its DWARF
        if f is None or f.function.startswith("0x"):
            f = cfi.elf_frame(locate, maps, nf.pc, i > 0)
            f.note = f"{f.note}; {note}" if f.note else note
        out.append(f)
    below = [f for f in frames[len(delve_c):] if f.function not in cgostack.STACK_SWITCH_FRAMES]
    return out + below


def delve_indices(frames: list[Frame], delve: list[Frame]) -> list[int | None]:
    """For each frame shown, Delve's index of the same frame (matched in order by pc
    and function), None for frames gotui added."""
    out: list[int | None] = []
    j = 0
    for f in frames:
        k = next((k for k in range(j, len(delve))
                  if delve[k].pc == f.pc and delve[k].function == f.function), None)
        out.append(k)
        if k is not None:
            j = k + 1
    return out
