"""DelveBackend: the StopBackend that drives a headless Delve over JSON-RPC v2.

Build one with `DelveBackend.for_pid(pid)` (spawns the guard, which spawns
`dlv attach`: see guard.py and process.py) or
`DelveBackend.for_address("host:port")` (an existing headless Delve) or
`DelveBackend.for_core(exe, core)` (spawns `dlv core`, post-mortem), then `start()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Callable
from typing import Any

from gotui.backends import cgostack, waitreasons
from gotui.backends.delve import cgo_frames, convert
from gotui.backends.delve.channels import (
    buffer_values,
    read_channels,
    read_locks,
    read_stack_refs,
)
from gotui.backends.delve.guard import GuardProcess
from gotui.backends.delve.peer import traced_by_peer
from gotui.backends.delve.process import DlvProcess, check_target, release_stopped_target
from gotui.backends.delve.release import code_addrs, release
from gotui.backends.delve.rescue import restore_code
from gotui.backends.delve.rpc import DelveRPC
from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.buildinfo import go_version_of_file
from gotui.backends.model import (
    SCAN_BIT,
    Breakpoint,
    Channel,
    Frame,
    Goroutine,
    GotuiError,
    Snapshot,
    TargetInfo,
    TargetState,
    Variable,
)
from gotui.backends.netaddr import host_of, is_loopback
from gotui.backends.procinfo import exe_path_for_reading

# What Delve loads for locals/args/eval: enough to read, bounded for huge values.
LOAD_CONFIG: dict[str, Any] = {
    "FollowPointers": True, "MaxVariableRecurse": 1, "MaxStringLen": 256,
    "MaxArrayValues": 64, "MaxStructFields": -1,
}
_STACK_CONCURRENCY = 64  # Stacktrace calls kept in flight (Delve answers in order)
# runtime.curg's own fields, one level deep (atomic wrappers), no pointer followed
_G_CONFIG: dict[str, Any] = {"FollowPointers": False, "MaxVariableRecurse": 1,
                             "MaxStringLen": 0, "MaxArrayValues": 0, "MaxStructFields": -1}


class DelveBackend:
    name = "delve"

    def __init__(self, *, pid: int = 0, address: str = "", exe: str = "", core: str = "",
                 check_go_version: bool = True) -> None:
        if [bool(pid), bool(address), bool(core)].count(True) != 1:
            raise ValueError("give exactly one of pid, address or core")
        self.info = TargetInfo(pid=pid, exe=exe, backend="delve")
        self._address = address
        self.core = core
        self._dlv: DlvProcess | None = None  # `dlv core` (no guard: nothing is traced)
        self._maps: list[cgostack.Mapping] | None = None
        self._frame_index: dict[int, list[int | None]] = {}  # goid -> Delve frame per frame
        self._park_lines: dict[int, tuple[str, int]] = {}  # cgo_frames.parked_top_line
        self._check_go_version = check_go_version
        self._guard: GuardProcess | None = None  # gotui -> guard -> dlv, see guard.py
        self._rpc: DelveRPC | None = None
        self._reasons: list[str] = []
        self._go_minor = 0
        # the target is a process here that we may read, write and signal, and its
        # waitSince is comparable with our CLOCK_MONOTONIC
        self._local_clock = True
        self._halted_at_ns: int | None = None  # monotonic ns of the last stop
        self._detached = False
        self.attach_seconds = 0.0  # spawn -> first answer (target attached), measured
        self._code_addrs: list[int] = []  # where Delve has int3s in the target's code
        self.rescued = 0  # int3s put back after dlv died without cleaning up
        self._facts: BinaryFacts | None = None  # the target's binary, when it is here
        # told what the backend did by itself (the Session shows it once)
        self.on_notice: Callable[[str], None] | None = None
        self._facts_tried = False

    @classmethod
    def for_pid(cls, pid: int, *, check_go_version: bool = True) -> DelveBackend:
        return cls(pid=pid, check_go_version=check_go_version)

    @classmethod
    def for_address(cls, address: str) -> DelveBackend:
        return cls(address=address)

    @classmethod
    def for_core(cls, exe: str, core: str, *, check_go_version: bool = True) -> DelveBackend:
        return cls(exe=exe, core=core, check_go_version=check_go_version)

    # ------------------------------------------------------------ lifecycle
    @property
    def rpc(self) -> DelveRPC:
        if self._rpc is None:
            raise GotuiError("Delve is not connected")
        return self._rpc

    async def start(self) -> None:
        t0 = time.monotonic()
        if self.info.pid:
            facts = check_target(self.info.pid)
            self.info.exe, self.info.go_version = facts.exe, facts.go_version
            self._guard = await GuardProcess.spawn(self.info.pid,
                                                   check_go_version=self._check_go_version)
        elif self.core:
            self._check_core_files()
            self._local_clock = False  # the core's clocks and pids are not ours
            self._dlv = await DlvProcess.spawn_core(self.info.exe, self.core,
                                                    check_go_version=self._check_go_version)
        try:
            version = await self._connect()
            self.attach_seconds = time.monotonic() - t0
            if self._guard is not None and self._check_go_version:
                problem = go_version_problem(self.info.go_version, version)
                if problem:
                    raise GotuiError(problem)
            # TargetGoVersion is the DWARF producer, e.g. "Go cmd/compile go1.26.8"
            producer = version.get("TargetGoVersion", "").split()
            self.info.go_version = self.info.go_version or (producer[-1] if producer else "")
            self._go_minor = waitreasons.go_minor(self.info.go_version)
            self.info.backend = "delve"
            self._halted_at_ns = time.monotonic_ns()
            if not self.rpc.running:
                self._reasons = await self._read_wait_reasons()
                await self._track_code_addrs()
            self.rpc.on_lost = self._on_connection_lost
        except BaseException:
            await asyncio.shield(self.detach())  # never leave the target attached
            raise

    def _check_core_files(self) -> None:
        for path in (self.info.exe, self.core):
            if not os.path.isfile(path):
                raise GotuiError(f"no such file: {path}")
        self.info.go_version = go_version_of_file(self.info.exe)

    async def _connect(self) -> dict[str, Any]:
        """Connect and wait for the attach to finish (GetVersion answers after it)."""
        if self._dlv is not None:
            try:
                self._rpc = await DelveRPC.connect(self._dlv.address)
                version = await self._rpc.call("GetVersion")
            except GotuiError:
                raise GotuiError(await self._dlv.failure()) from None
            # the pid the process had when the core was written (display only)
            self.info.pid = int((await self._rpc.state()).get("Pid", 0))
            return version
        if self._guard is None:
            self._rpc = await DelveRPC.connect(self._address)
            version = await self._rpc.call("GetVersion")
            await self._identify_remote_target()
            return version
        try:
            self._rpc = await DelveRPC.connect(self._guard.address)
            return await self._rpc.call("GetVersion")
        except GotuiError:
            # the guard went away (dlv died): its last line says why
            raise GotuiError(await self._guard.failure()) from None

    async def _identify_remote_target(self) -> None:
        """pid and exe as a Delve we did not start reports them. Only a pid verified
        here (traced by the very process we are connected to: delve/peer.py) is ever
        read, written or signalled by us; otherwise the target is remote to us."""
        st = await self.rpc.state()
        self.info.pid = int(st.get("Pid", 0))
        cmdline = st.get("TargetCommandLine", "")
        self.info.exe = cmdline.split(" ", 1)[0]
        self._local_clock = traced_by_peer(self.rpc.socket(), self.info.pid)
        if self._local_clock and self.info.pid:
            with contextlib.suppress(OSError):
                self.info.exe = os.readlink(f"/proc/{self.info.pid}/exe")

    async def _read_wait_reasons(self) -> list[str]:
        """runtime.waitReasonStrings from the target itself ([] if unreadable)."""
        cfg = {**LOAD_CONFIG, "MaxArrayValues": 256, "MaxStringLen": 128}
        try:
            v = await self.rpc.call("Eval", {"Scope": _scope(-1, 0),
                                             "Expr": "runtime.waitReasonStrings", "Cfg": cfg})
        except GotuiError:
            return []
        return [c.get("value", "") for c in v["Variable"].get("children") or []]

    def _reason(self, raw: int) -> str:
        return waitreasons.wait_reason(self._go_minor or waitreasons.NEWEST, raw)

    async def detach(self, kill: bool = False) -> None:
        """Halt if running, Detach{Kill}, close, reap dlv. Safe to call twice."""
        if self._detached:
            return
        self._detached = True
        try:
            if self._rpc is not None:
                await release(self._rpc, self.info.pid, kill=kill, local=self._local_clock)
        finally:
            if self._rpc is not None:
                await self._rpc.close()
            await self._shutdown_process()

    async def _track_code_addrs(self) -> None:
        self._code_addrs = await code_addrs(self.rpc)

    def _on_connection_lost(self) -> None:
        """dlv went away without a Detach from us: if it did not clean up (SIGKILL),
        its int3s are still in the target's code. Put the original bytes back (only in
        a target verified as ours to touch: _local_clock, see _identify_remote_target)."""
        if self._guard is not None:
            return  # the guard rescues (it outlives us and sees dlv die first)
        if self._detached or not self._local_clock or not self.info.pid or not self.info.exe:
            return
        self.rescued = restore_code(self.info.pid, self._code_addrs)
        release_stopped_target(self.info.pid)

    async def _shutdown_process(self) -> None:
        if self._guard is not None:
            await self._guard.stop()
        elif self._dlv is not None:
            await self._dlv.stop()
        elif self.info.pid and self._local_clock:
            release_stopped_target(self.info.pid)

    # ------------------------------------------------------------ state & execution
    async def state(self) -> TargetState:
        if self.rpc.running:
            return TargetState(running=True)
        try:
            st = convert.target_state(await self.rpc.state(non_blocking=True))
        except GotuiError as exc:
            return _exited_state(exc)
        if self.core:
            st.stop_reason = "core"
        return st

    def _require_process(self, what: str) -> None:
        if self.core:
            raise GotuiError(f"cannot {what}: a core file is a post-mortem view")

    async def _command(self, name: str, **fields: Any) -> TargetState:
        self._require_process({"stepOut": "step out"}.get(name, name))
        try:
            st = await self.rpc.command(name, **fields)
        except GotuiError as exc:
            return _exited_state(exc)
        finally:
            self._halted_at_ns = time.monotonic_ns()
        return convert.target_state(st)

    async def cont(self) -> TargetState:
        while True:
            try:
                st = await self._command("continue")
            except GotuiError as exc:
                # Delve stops at a breakpoint whose condition fails to evaluate, every
                # time: disable it, say so once, go on (never halt a service on each hit)
                if not await self._disable_failing_condition(exc):
                    raise
                continue
            # like Delve's own client: tracepoint-only stops continue by themselves
            if st.exited or st.stop_reason != "breakpoint" or not await self._at_tracepoint_only():
                return st

    async def _disable_failing_condition(self, exc: GotuiError) -> bool:
        raw = await self.rpc.state(non_blocking=True)
        if raw.get("exited") or raw.get("Running"):
            return False
        bps = [t["breakPoint"] for t in raw.get("Threads") or []
               if (t.get("breakPoint") or {}).get("id", 0) > 0
               and (t.get("breakPoint") or {}).get("Cond")]
        if not bps:
            return False
        for d in bps:
            bp = convert.breakpoint(d)
            bp.enabled = False
            await self.amend_breakpoint(bp)
            if self.on_notice is not None:
                self.on_notice(f"breakpoint {bp.id} at {bp.where()}: its condition "
                               f"`{bp.cond}` cannot be evaluated there ({exc}): disabled, "
                               "target resumed")
        return True

    async def _at_tracepoint_only(self) -> bool:
        raw = await self.rpc.state(non_blocking=True)
        bps = [t["breakPoint"] for t in raw.get("Threads") or [] if t.get("breakPoint")]
        return bool(bps) and all(b.get("continue") or b.get("traceReturn") for b in bps)

    async def halt(self) -> TargetState:
        # A caller may have just scheduled a cont() task that has not run yet (the
        # Session resumes right after attaching): let it reach the wire first.
        await asyncio.sleep(0)
        if not self.rpc.running:
            # Halt on a stopped target would make the next resume stop at once.
            return await self.state()
        st = convert.target_state(await self.rpc.command("halt"))
        await self.rpc.wait_stopped(30)
        return await self.state() if st.running else st

    async def next(self) -> TargetState:
        return await self._command("next")

    async def step(self) -> TargetState:
        return await self._command("step")

    async def step_out(self) -> TargetState:
        return await self._command("stepOut")

    async def switch_goroutine(self, goid: int) -> TargetState:
        return convert.target_state(await self.rpc.command("switchGoroutine", goroutineID=goid))

    # ------------------------------------------------------------ goroutines & stacks
    async def raw_goroutines(self, page: int = 1000) -> list[dict[str, Any]]:
        return await self.rpc.list_goroutines(page=page)

    async def goroutines(self) -> list[Goroutine]:
        raws = await self.raw_goroutines()
        now = time.monotonic_ns() if self._local_clock else None
        return [convert.goroutine(g, self._reasons, now, self._reason) for g in raws]

    async def stack(self, goid: int, depth: int = 64) -> list[Frame]:
        res = await self.rpc.call("Stacktrace", {"Id": goid, "Depth": depth, "Full": False})
        raws = res.get("Locations") or []
        delve_frames = [convert.frame(f) for f in raws]
        if raws:
            await cgo_frames.parked_top_line(self.rpc, raws[0], delve_frames, self._park_lines)
        frames = delve_frames
        if self._local_clock or self.core:  # the exe and libraries here are the target's
            frames = await self._fill_cgo(goid, delve_frames)
        # frames gotui added or dropped shift the indices: remember Delve's own
        self._frame_index[goid] = cgo_frames.delve_indices(frames, delve_frames)
        frames = cgostack.classify(frames)
        facts = self.binary()
        convert.mark_inlined(frames, facts.func_id_of if facts is not None else None)
        return frames

    def binary(self) -> BinaryFacts | None:
        """The target's binary (the running image of a local process, a core's exe),
        None when it is not on this host (a remote Delve) or unreadable."""
        if not self._facts_tried:
            self._facts_tried = True
            path = ""
            if self.core:
                path = self.info.exe
            elif self.info.pid and self._local_clock:
                with contextlib.suppress(GotuiError, OSError):
                    path = exe_path_for_reading(self.info.pid)
            if path:
                with contextlib.suppress(GotuiError):
                    self._facts = BinaryFacts.load(path)
        return self._facts

    async def _fill_cgo(self, goid: int, frames: list[Frame]) -> list[Frame]:
        """The C frames Delve leaves out (backends/delve/cgo_frames.py)."""
        if cgo_frames.needs_filling(frames) is not None:
            # a parked C -> Go callback: the C frames in the middle
            return await cgo_frames.fill_callback(self.rpc, self.info.exe, goid, frames)
        if cgo_frames.thread_in_c(frames):
            return await cgo_frames.fill_thread_c(self.rpc, self.info.exe,
                                                  self._mappings(), goid, frames)
        return frames

    def _delve_frame(self, goid: int, frame: int) -> int:
        """Delve's index of frame `frame` of the stack last shown for `goid`."""
        index = self._frame_index.get(goid)
        if index is None or not 0 <= frame < len(index):
            return frame
        if index[frame] is None:
            raise GotuiError("gotui read this C frame itself (CFI): Delve has no "
                             "variables for it")
        return int(index[frame])  # type: ignore[arg-type]

    def _mappings(self) -> list[cgostack.Mapping]:
        """Files mapped in the target (for C frames Delve cannot name)."""
        if self._maps is None:
            if self.core:
                self._maps = cgostack.core_maps(self.core)
            elif self.info.pid and self._local_clock:
                return cgostack.read_maps(self.info.pid)
            else:
                self._maps = []
        return self._maps

    async def snapshot(self, stacks: bool = True) -> Snapshot:
        gs = await self.goroutines()
        sem = asyncio.Semaphore(_STACK_CONCURRENCY)
        with_parent = self._go_minor == 0 or self._go_minor >= 21  # g.parentGoid: 1.21+

        async def fill(g: Goroutine) -> None:
            async with sem:
                if stacks:
                    try:
                        g.stack = await self.stack(g.id)
                    except GotuiError as exc:
                        if self.rpc.closed:
                            raise
                        g.stack = [Frame(note=f"stack unreadable: {exc}")]
                await self._fill_g_fields(g, with_parent)

        await asyncio.gather(*(fill(g) for g in gs))
        channels = await self.channels(gs)
        locks = await read_locks(self.rpc, gs)
        await read_stack_refs(self.rpc, gs, {c.addr for c in channels} | {x.addr for x in locks})
        paused = time.monotonic_ns() - self._halted_at_ns if self._halted_at_ns else 0
        return Snapshot(pid=self.info.pid, exe=self.info.exe, go_version=self.info.go_version,
                        source="delve", target_paused_ns=paused, goroutines=gs,
                        channels=channels, locks=locks,
                        traceback_labels=await self._traceback_labels())

    def paused_ns(self) -> int:
        """How long the target has been stopped so far (0 while it runs, or a core)."""
        if self.core or self._rpc is None or self.rpc.running or self._halted_at_ns is None:
            return 0
        return time.monotonic_ns() - self._halted_at_ns

    async def thread_goroutines(self) -> list[Goroutine]:
        """The goroutines on an OS thread at this stop (running Go code, in a system
        call or in C): their location comes from the thread's registers, which only a
        stopped target shows. One ListThreads, then one stack per such goroutine."""
        res = await self.rpc.call("ListThreads", {})
        threads = {int(t.get("goroutineID") or 0): t for t in res.get("Threads") or []}
        threads.pop(0, None)  # threads running no goroutine (idle Ms, g0)

        async def one(goid: int, thread: dict[str, Any]) -> Goroutine:
            try:
                frames = await self.stack(goid)
            except GotuiError as exc:
                if self.rpc.closed:
                    raise
                frames = [Frame(note=f"stack unreadable: {exc}")]
            current = frames[0].location if frames and frames[0].function \
                else convert.location(thread)
            user = next((f.location for f in frames if f.kind == "go"), current)
            return Goroutine(goid, current=current, user_current=user,
                             thread_id=int(thread.get("id", 0)), stack=frames)

        return list(await asyncio.gather(*(one(g, t) for g, t in threads.items())))

    async def buffer_values(self, buf: int, elem_type: str, cap: int, recvx: int,
                            count: int) -> list[Any] | None:
        """`count` values buffered in a channel of `elem_type` whose ring of `cap` slots
        is at `buf`, in receive order from slot `recvx` (None: Delve cannot read them)."""
        return await buffer_values(self.rpc, f"*[{cap}]{elem_type}", buf, count, cap, recvx,
                                   LOAD_CONFIG)

    async def _eval_quiet(self, goid: int, expr: str, cfg: dict[str, Any]) -> dict[str, Any]:
        """Eval's Variable, {} when Delve cannot evaluate it (the connection lost: raise)."""
        try:
            res = await self.rpc.call("Eval", {"Scope": _scope(goid, 0), "Expr": expr,
                                               "Cfg": cfg})
        except GotuiError:
            if self.rpc.closed:
                raise
            return {}
        return res.get("Variable") or {}

    async def _fill_g_fields(self, g: Goroutine, with_parent: bool) -> None:
        """What the goroutine dump's header needs and api.Goroutine lacks, from the g
        itself (one Eval): parentGoid, lockedm, the synctest bubble, the scan bit."""
        fields = convert.g_fields(await self._eval_quiet(g.id, "runtime.curg", _G_CONFIG))
        if with_parent:
            g.parent_id = fields.get("parentGoid", 0)
        g.locked_to_thread = bool(fields.get("lockedm"))
        g.scan = bool(fields.get("atomicstatus", 0) & SCAN_BIT)
        if fields.get("bubble") or fields.get("syncGroup"):
            expr = ("runtime.curg.bubble.id" if "bubble" in fields
                    else "runtime.curg.syncGroup.root.goid")
            value = (await self._eval_quiet(g.id, expr, LOAD_CONFIG)).get("value", "")
            g.synctest_bubble = int(value) if value.isdigit() else 0
            facts = self.binary()
            idle = facts.idle_in_synctest() if facts is not None else frozenset()
            g.synctest_durable = any(facts.wait_reasons[i] == g.wait_reason for i in idle
                                     if i < len(facts.wait_reasons))  # type: ignore[union-attr]

    async def _traceback_labels(self) -> bool:
        """The target's GODEBUG tracebacklabels (runtime.debug.tracebacklabels, 1.26+)."""
        if self._go_minor and self._go_minor < 26:
            return False
        v = await self._eval_quiet(-1, "runtime.debug.tracebacklabels.value", LOAD_CONFIG)
        return v.get("value") == "1"

    async def channels(self, goroutines: list[Goroutine]) -> list[Channel]:
        return await read_channels(self.rpc, goroutines, LOAD_CONFIG)

    # ------------------------------------------------------------ variables
    async def locals(self, goid: int, frame: int) -> list[Variable]:
        frame = self._delve_frame(goid, frame)
        res = await self.rpc.call("ListLocalVars", {"Scope": _scope(goid, frame),
                                                    "Cfg": LOAD_CONFIG})
        return [convert.variable(v) for v in res.get("Variables") or []]

    async def args(self, goid: int, frame: int) -> list[Variable]:
        frame = self._delve_frame(goid, frame)
        res = await self.rpc.call("ListFunctionArgs", {"Scope": _scope(goid, frame),
                                                       "Cfg": LOAD_CONFIG})
        return [convert.variable(v) for v in res.get("Args") or []]

    async def eval(self, expr: str, goid: int = -1, frame: int = 0) -> Variable:
        frame = self._delve_frame(goid, frame)
        res = await self.rpc.call("Eval", {"Scope": _scope(goid, frame), "Expr": expr,
                                           "Cfg": LOAD_CONFIG})
        v = convert.variable(res["Variable"])
        v.name = v.name or expr
        return v

    # ------------------------------------------------------------ breakpoints
    async def breakpoints(self) -> list[Breakpoint]:
        res = await self.rpc.call("ListBreakpoints", {"All": False})
        # Delve's own breakpoints (unrecovered panic, fatal throw) have ids < 0
        return [convert.breakpoint(b) for b in res.get("Breakpoints") or [] if b["id"] > 0]

    async def create_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        if bp.file:
            locexpr = f"{bp.file}:{bp.line}"
        elif bp.function:
            locexpr = bp.function
        else:
            raise GotuiError("a breakpoint needs a file:line or a function")
        req: dict[str, Any] = {
            "name": bp.name, "Cond": bp.cond, "HitCond": bp.hit_cond,
            "HitCondPerG": bp.hit_cond_per_g, "continue": bp.tracepoint,
            "disabled": not bp.enabled,
        }
        before = await self._breakpoint_ids()
        try:
            await self.rpc.call("FindLocation", {"Scope": _scope(-1, 0), "Loc": locexpr})
            res = await self.rpc.call("CreateBreakpoint", {"Breakpoint": req,
                                                           "LocExpr": locexpr})
            created = convert.breakpoint(res["Breakpoint"])
            if not created.addrs:
                raise GotuiError(f"location {locexpr!r} has no code")
        except GotuiError as exc:
            # Delve 1.27 can leave an address-less logical breakpoint behind
            for stale in await self._breakpoint_ids() - before:
                with contextlib.suppress(GotuiError):
                    await self.rpc.call("ClearBreakpoint", {"Id": stale})
            raise GotuiError(f"cannot set breakpoint at {locexpr}: {exc}") from None
        await self._track_code_addrs()
        if not bp.enabled:  # CreateBreakpoint ignores Disabled; only Amend applies it
            created.cond, created.hit_cond, created.enabled = bp.cond, bp.hit_cond, False
            created.name, created.tracepoint = bp.name, bp.tracepoint
            created.hit_cond_per_g = bp.hit_cond_per_g
            return await self.amend_breakpoint(created)
        return created

    async def _breakpoint_ids(self) -> set[int]:
        # All=false lists logical breakpoints (All=true lists physical ones per address)
        res = await self.rpc.call("ListBreakpoints", {"All": False})
        return {int(b["id"]) for b in res.get("Breakpoints") or []}

    async def amend_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        # AmendBreakpoint replaces the whole breakpoint: start from Delve's own copy.
        full = (await self.rpc.call("GetBreakpoint", {"Id": bp.id}))["Breakpoint"]
        full.update({"name": bp.name, "Cond": bp.cond, "HitCond": bp.hit_cond,
                     "HitCondPerG": bp.hit_cond_per_g, "continue": bp.tracepoint,
                     "disabled": not bp.enabled})
        try:
            await self.rpc.call("AmendBreakpoint", {"Breakpoint": full})
        except GotuiError as exc:
            raise GotuiError(f"cannot change breakpoint {bp.id}: {exc}") from None
        return convert.breakpoint((await self.rpc.call("GetBreakpoint",
                                                       {"Id": bp.id}))["Breakpoint"])

    async def clear_breakpoint(self, bp_id: int) -> None:
        await self.rpc.call("ClearBreakpoint", {"Id": bp_id})
        await self._track_code_addrs()


def go_version_problem(target: str, version: dict[str, Any]) -> str:
    """Delve's own refusal text (pkg/goversion/compat.go) if the target's Go version
    is outside the range GetVersion reports. dlv only checks this when launching or
    opening a core, not on attach, so gotui checks it (and then detaches)."""
    minor = waitreasons.go_minor(target)
    lo = waitreasons.go_minor("go" + version.get("MinSupportedVersionOfGo", ""))
    hi = waitreasons.go_minor("go" + version.get("MaxSupportedVersionOfGo", ""))
    ver = target.removeprefix("go")
    if not minor or not lo or not hi:
        return ""
    if minor < lo:
        return (f"Go version {ver} is too old for this version of Delve (minimum supported "
                f"version 1.{lo}, suppress this error with --check-go-version=false)")
    if minor > hi:
        return (f"Version of Delve is too old for Go version {ver} (maximum supported "
                f"version 1.{hi}, suppress this error with --check-go-version=false)")
    return ""


def _exited_state(exc: GotuiError) -> TargetState:
    """Delve answers "Process N has exited with status S" once the target is gone;
    anything else is re-raised."""
    exited = re.search(r"has exited with status (-?\d+)", str(exc))
    if exited is None:
        raise exc
    return TargetState(running=False, exited=True, stop_reason="exited",
                       exit_status=int(exited.group(1)))


def _scope(goid: int, frame: int) -> dict[str, int]:
    return {"GoroutineID": goid, "Frame": frame, "DeferredCall": 0}


def is_local_address(address: str) -> bool:
    """A Delve address only this machine can reach (unix socket or loopback)."""
    return address.startswith("unix:") or is_loopback(host_of(address))
