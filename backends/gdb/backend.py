"""GdbBackend: backends.base.StopBackend on gdb/MI (pygdbmi), for live pids and cores.

gdb runs all-stop with MI async on. Every MI exchange blocks, so it runs in a worker
thread (asyncio.to_thread); `cont()` parks a worker thread until gdb reports *stopped,
and `halt()` sends -exec-interrupt around it. Goroutines and stitched Go+C stacks come
from gdbside.py, sourced into gdb, in one round trip per snapshot.

Target safety: detach() always leaves a live target running and untraced; gdb itself
detaches on SIGTERM/SIGHUP/EOF (it gets SIGTERM when Python dies, via PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from gotui.backends.gdb import convert
from gotui.backends.gdb.mi import GdbMI, MIResult, StopRecord
from gotui.backends.model import (
    Breakpoint,
    Channel,
    Frame,
    Goroutine,
    GotuiError,
    Location,
    Snapshot,
    TargetInfo,
    TargetState,
    Variable,
)
from gotui.backends.procinfo import process_facts, require_untraced

GDBSIDE_PACKAGE = "gotui.backends.gdb"
# Signals the Go runtime uses on its own (preemption, profiling, ...): never stop on them.
STEP_OFF_TIMEOUT = 5.0  # s for the one instruction a thread steps off a breakpoint
PASS_SIGNALS = "SIGURG SIGPIPE SIGPROF SIGCHLD SIGWINCH SIGALRM SIGUSR1 SIGUSR2 SIGIO SIGHUP"
HIT_COND = re.compile(r"^\s*(>=|>)\s*(\d+)\s*$")


def gdbside_path() -> str:
    """gdbside.py as a file gdb can `source` (pip and pipx install plain files)."""
    path = files(GDBSIDE_PACKAGE).joinpath("gdbside.py")
    if not isinstance(path, Path) or not path.is_file():
        raise GotuiError(f"gdbside.py is not a plain file ({path}): reinstall gotui unzipped")
    return str(path)


# gdb runs as root: it never runs a script the target names (.debug_gdb_scripts points
# at a runtime-gdb.py, or holds inline Python), nor a .gdbinit or libthread_db from the
# target's directories, nor fetches debug info over the network. gdbside.py reads the
# runtime itself; libthread_db still comes from the system directories ($sdir).
NO_AUTO_LOAD = (
    "set auto-load gdb-scripts off", "set auto-load python-scripts off",
    "set auto-load local-gdbinit off", "set auto-load libthread-db off",
    "set auto-load safe-path /nonexistent-gotui", "set libthread-db-search-path $sdir",
    "set debuginfod enabled off",
)


def _json_line(text: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise GotuiError(f"gdb helper failed: {text.strip().splitlines()[-1:] or ['no output']}")


def _mi_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# gdb >= 14 runs a host shell command from an expression: never from a driver's text
_SHELL_FUNCTIONS = re.compile(r"\$_shell\b")


def user_text(s: str, what: str) -> str:
    """A driver's text (expression, condition, location) as one safe piece of an MI
    command. A newline would end the command and start another, and gdb takes a plain
    line as a CLI command (`shell ...` as root), so control characters are refused."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        raise GotuiError(f"{what}: control characters are not allowed")
    if _SHELL_FUNCTIONS.search(s):
        raise GotuiError(f"{what}: $_shell is not allowed")
    return s


def _variable(d: dict[str, Any]) -> Variable:
    return Variable(name=str(d.get("name", "")), type=str(d.get("type", "")),
                    value=str(d.get("value", "")))


def _ensure_running(pid: int) -> None:
    """After gdb is gone: a process left in stopped state (a SIGSTOP gdb queued while
    attaching) gets SIGCONT, so no exit path leaves the target frozen."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        tracer = process_facts(pid).tracer_pid
    except (OSError, GotuiError, IndexError):
        return
    if state in ("T", "t") and tracer == 0:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGCONT)


class GdbBackend:
    name = "gdb"

    def __init__(self, *, pid: int = 0, exe: str = "", core: str = "") -> None:
        if bool(pid) == bool(core):
            raise ValueError("give exactly one of pid or core")
        self.info = TargetInfo(pid=pid, exe=exe, backend="gdb")
        self.core = core
        self._mi: GdbMI | None = None
        self._halted_since: float | None = None
        self._halted_at_ns: int | None = None  # monotonic, for paused_ns()
        self._stop: StopRecord | None = None
        self._cont_task: asyncio.Future[StopRecord] | None = None
        self._resumed = asyncio.Event()  # clear while a cont/step is in flight
        self._resumed.set()
        self._detached = False
        self._goid = 0
        self._thread = 0  # gdb thread number of the current thread

    @classmethod
    def for_pid(cls, pid: int) -> GdbBackend:
        return cls(pid=pid)

    @classmethod
    def for_core(cls, exe: str, core: str) -> GdbBackend:
        return cls(exe=exe, core=core)

    @property
    def mi(self) -> GdbMI:
        if self._mi is None:
            raise GotuiError("gdb is not running")
        return self._mi

    @property
    def gdb_pid(self) -> int:
        return self._mi.pid if self._mi is not None else 0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.info.pid:
            facts = process_facts(self.info.pid)
            require_untraced(facts)
            self.info.exe = facts.exe
        elif not (os.path.isfile(self.info.exe) and os.path.isfile(self.core)):
            raise GotuiError(f"cannot read {self.info.exe!r} or core {self.core!r}")
        else:  # both go into gdb command lines
            user_text(self.info.exe, "executable path")
            user_text(self.core, "core path")
        exe_for_gdb = f"/proc/{self.info.pid}/exe" if self.info.pid else self.info.exe
        args = ["-iex", "set pagination off", "-iex", "set confirm off",
                "-iex", "set width 0", "-iex", "set non-stop off", "-iex", "set mi-async on"]
        for setting in NO_AUTO_LOAD:
            args += ["-iex", setting]
        self._mi = await asyncio.to_thread(GdbMI, args)
        try:
            await asyncio.to_thread(self._setup, exe_for_gdb)
        except BaseException:
            await self._abandon()
            raise
        self._halted_since = time.time()
        self._halted_at_ns = time.monotonic_ns()
        info = await self._info()
        self.info.go_version = info.get("go_version", "")
        self._goid = int(info.get("goid", 0))
        self._thread = int(info.get("thread", 0))

    def _setup(self, exe: str) -> None:
        mi = self.mi
        mi.console(f"handle {PASS_SIGNALS} nostop noprint pass")
        mi.check(f"-file-exec-and-symbols {_mi_quote(exe)}", timeout=120)
        mi.console(f"source {gdbside_path()}")
        if self.core:
            mi.console(f"core-file {self.core}", timeout=120)
            return
        res = mi.command(f"-target-attach {self.info.pid}", timeout=60)
        if res.cls == "error":
            raise GotuiError(f"gdb could not attach to pid {self.info.pid}: {res.msg}")
        mi.wait_stopped(timeout=60)

    async def _abandon(self) -> None:
        if self._mi is not None:
            await asyncio.to_thread(self._mi.close)
            self._mi = None
        if self.info.pid:
            _ensure_running(self.info.pid)

    async def detach(self, kill: bool = False) -> None:
        """Leave the target running and untraced (or kill it if asked)."""
        if self._detached:
            return
        self._detached = True
        mi = self._mi
        if mi is None:
            return
        try:
            if mi.alive() and not self.core:
                await self._stop_if_running()
                if kill:
                    await asyncio.to_thread(mi.console, "kill")
                else:
                    await asyncio.to_thread(mi.command, "-target-detach", 30)
        except (GotuiError, TimeoutError):
            pass  # closing gdb below detaches too (-gdb-exit, then SIGTERM)
        finally:
            await self._abandon()

    async def _stop_if_running(self) -> None:
        if self.mi.running:
            self.mi.interrupt()
            await self._await_stop(timeout=10)

    # ------------------------------------------------------------ state

    async def _info(self) -> dict[str, Any]:
        return _json_line(await asyncio.to_thread(self.mi.console, "python gotui_info()"))

    async def state(self) -> TargetState:
        mi = self._mi
        if mi is None:
            return TargetState(running=False, exited=True)
        running = mi.running
        st = TargetState(running=running, exited=mi.exited, exit_status=mi.exit_code,
                         halted_since=None if running else self._halted_since,
                         current_goroutine=self._goid)
        stop = self._stop
        if stop is not None and not running:
            st.stop_reason = self._reason(stop)
            st.current_thread = int(stop.payload.get("thread-id", 0) or 0)
            bkpt = stop.payload.get("bkptno")
            st.breakpoint_id = int(bkpt) if bkpt else 0
            frame = stop.payload.get("frame") or {}
            if frame:
                st.current = Location(str(frame.get("func", "")),
                                              str(frame.get("fullname", frame.get("file", ""))),
                                              int(frame.get("line", 0) or 0),
                                              int(str(frame.get("addr", "0")), 16))
        if self.core:
            st.stop_reason = "core"
        return st

    @staticmethod
    def _reason(stop: StopRecord) -> str:
        if stop.reason == "breakpoint-hit":
            return f"breakpoint {stop.payload.get('bkptno', '')}".strip()
        if stop.reason == "signal-received" and stop.payload.get("signal-name") == "SIGINT":
            return "halt"
        if stop.reason in ("end-stepping-range", "function-finished"):
            return "step"
        return stop.reason or "manual"

    # ------------------------------------------------------------ goroutines

    async def _dump(self, depth: int, goid: int = 0, on_threads: bool = False
                    ) -> dict[str, Any]:
        self._require_halted("read goroutines")
        return await asyncio.to_thread(self._dump_sync, depth, goid, on_threads)

    def _dump_sync(self, depth: int, goid: int, on_threads: bool) -> dict[str, Any]:
        fd, path = tempfile.mkstemp(prefix="gotui-gdb-", suffix=".json")
        os.close(fd)
        try:
            out = self.mi.console(
                f"python gotui_dump({str(path)!r}, {depth}, {goid}, {on_threads})")
            try:
                with open(path) as fh:
                    return json.load(fh)
            except (OSError, ValueError):
                last = (out.strip().splitlines() or ["no output"])[-1]
                raise GotuiError(f"gdb helper failed: {last}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _require_halted(self, what: str) -> None:
        if self.mi.running:
            raise GotuiError(f"halt the target first: gdb cannot {what} while it runs")

    async def goroutines(self) -> list[Goroutine]:
        return convert.goroutines(await self._dump(64), live_clock=not self.core,
                                  stacks=False)

    async def snapshot(self, stacks: bool = True) -> Snapshot:
        t0 = time.monotonic_ns()
        dump = await self._dump(64)
        gs = convert.goroutines(dump, live_clock=not self.core, stacks=stacks)
        return Snapshot(pid=self.info.pid, exe=self.info.exe, go_version=self.info.go_version,
                        source="gdb", target_paused_ns=time.monotonic_ns() - t0,
                        goroutines=gs, channels=convert.channels(dump, gs))

    def paused_ns(self) -> int:
        """How long the target has been stopped so far (0 while it runs, or a core)."""
        if self.core or self._halted_at_ns is None or self._mi is None or self.mi.running:
            return 0
        return time.monotonic_ns() - self._halted_at_ns

    async def thread_goroutines(self) -> list[Goroutine]:
        """The goroutines an OS thread runs at this stop (m.curg), with their stitched
        stacks: what only the threads' registers tell."""
        return convert.goroutines(await self._dump(64, on_threads=True),
                                  live_clock=not self.core, stacks=True)

    async def buffer_values(self, buf: int, elem_type: str, cap: int, recvx: int,
                            count: int) -> list[Any] | None:
        return None  # gdb cannot name Go types in a cast: the values stay unknown

    async def channels(self, goroutines: list[Goroutine]) -> list[Channel]:
        dump = await self._dump(1)
        return convert.channels(dump, goroutines)

    async def stack(self, goid: int, depth: int = 64) -> list[Frame]:
        gs = convert.goroutines(await self._dump(depth, goid), live_clock=False, depth=depth)
        if not gs:
            raise GotuiError(f"no goroutine {goid}")
        return gs[0].stack

    # ------------------------------------------------------------ variables

    async def _thread_of(self, goid: int) -> int:
        """gdb thread number running goroutine goid (-1/0: the current thread)."""
        if goid in (-1, 0) or goid == self._goid:
            return self._thread
        dump = await self._dump(1, goid)
        if not dump["goroutines"]:
            raise GotuiError(f"no goroutine {goid}")
        lwp = int(dump["goroutines"][0]["thread"])
        for t in dump["threads"]:
            if int(t["lwp"]) == lwp and lwp:
                return int(t["num"])
        raise GotuiError(f"goroutine {goid} is parked: gdb only reads variables of "
                         "goroutines that run on a thread (use the delve backend)")

    async def _scoped(self, cmd: str, goid: int, frame: int) -> MIResult:
        self._require_halted("read variables")
        thread = await self._thread_of(goid)
        name, rest = cmd.split(" ", 1)
        return await asyncio.to_thread(self.mi.check,
                                       f"{name} --thread {thread} --frame {frame} {rest}")

    async def _variables(self, goid: int, frame: int) -> list[dict[str, Any]]:
        res = await self._scoped("-stack-list-variables --simple-values", goid, frame)
        return list((res.payload or {}).get("variables", []))

    async def locals(self, goid: int, frame: int) -> list[Variable]:
        return [_variable(v) for v in await self._variables(goid, frame) if not v.get("arg")]

    async def args(self, goid: int, frame: int) -> list[Variable]:
        return [_variable(v) for v in await self._variables(goid, frame) if v.get("arg")]

    async def eval(self, expr: str, goid: int = -1, frame: int = 0) -> Variable:
        quoted = _mi_quote(user_text(expr, "eval"))
        res = await self._scoped(f"-data-evaluate-expression {quoted}", goid, frame)
        return Variable(name=expr, value=str((res.payload or {}).get("value", "")))

    # ------------------------------------------------------------ breakpoints

    async def breakpoints(self) -> list[Breakpoint]:
        res = await asyncio.to_thread(self.mi.check, "-break-list")
        table = (res.payload or {}).get("BreakpointTable", {})
        return [_breakpoint(b) for b in table.get("body", [])]

    async def create_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        self._require_halted("set breakpoints")
        where = bp.function or (f"{bp.file}:{bp.line}" if bp.file else "")
        if not where:
            raise GotuiError("a breakpoint needs a function or file:line")
        parts = ["-break-insert"]
        if bp.cond:
            parts += ["-c", _mi_quote(user_text(bp.cond, "condition"))]
        ignore = _ignore_count(bp.hit_cond)
        if ignore:
            parts += ["-i", str(ignore)]
        if not bp.enabled:
            parts.append("-d")
        parts.append(_mi_quote(user_text(where, "location")))
        res = await asyncio.to_thread(self.mi.command, " ".join(parts))
        if res.cls == "error":
            raise GotuiError(f"cannot set a breakpoint at {where}: {res.msg}")
        out = _breakpoint(res.payload["bkpt"])
        out.hit_cond = bp.hit_cond
        return out

    async def amend_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        self._require_halted("change breakpoints")
        mi = self.mi
        cond = user_text(bp.cond, "condition")
        await asyncio.to_thread(mi.check, f"-break-condition {bp.id} {cond}".rstrip())
        await asyncio.to_thread(mi.check, f"-break-after {bp.id} {_ignore_count(bp.hit_cond)}")
        await asyncio.to_thread(mi.check, f"-break-{'enable' if bp.enabled else 'disable'} "
                                          f"{bp.id}")
        for b in await self.breakpoints():
            if b.id == bp.id:
                b.hit_cond = bp.hit_cond
                return b
        raise GotuiError(f"breakpoint {bp.id} vanished")

    async def clear_breakpoint(self, bp_id: int) -> None:
        self._require_halted("clear breakpoints")
        await asyncio.to_thread(self.mi.check, f"-break-delete {bp_id}")

    # ------------------------------------------------------------ execution

    async def _await_stop(self, timeout: float | None = None) -> StopRecord:
        if self._cont_task is not None and not self._cont_task.done():
            return await asyncio.wait_for(asyncio.shield(self._cont_task), timeout)
        return await asyncio.to_thread(self.mi.wait_stopped, timeout)

    async def _resume(self, cmd: str) -> TargetState:
        if self.core:
            raise GotuiError("a core file cannot run")
        if self.mi.running:
            raise GotuiError("the target is already running")
        self.mi.clear_stops()
        self._resumed.clear()
        try:
            await asyncio.to_thread(self.mi.check, cmd)
            self._halted_since = self._halted_at_ns = None
            loop = asyncio.get_running_loop()
            self._cont_task = loop.run_in_executor(None, self.mi.wait_stopped, None)
            self._stop = await asyncio.shield(self._cont_task)
            self._halted_since = time.time()
            self._halted_at_ns = time.monotonic_ns()
            if not self.mi.exited:
                with contextlib.suppress(GotuiError):
                    info = await self._info()
                    self._goid = int(info.get("goid", 0))
                    self._thread = int(info.get("thread", 0))
        finally:
            self._resumed.set()
        return await self.state()

    async def cont(self) -> TargetState:
        stop = self._stop
        if (stop is not None and stop.reason == "breakpoint-hit" and not self.core
                and not self.mi.running and not self.mi.exited):
            thread = int(stop.payload.get("thread-id", 0) or 0)
            off = await asyncio.to_thread(self._step_off_breakpoint, thread) if thread else None
            if off is not None and off.reason != "end-stepping-range":
                self._stop = off  # that one instruction stopped somewhere else: report it
                self._halted_since = time.time()
                self._halted_at_ns = time.monotonic_ns()
                return await self.state()
        return await self._resume("-exec-continue")

    def _step_off_breakpoint(self, thread: int) -> StopRecord | None:
        """Go's asynchronous preemption re-runs a breakpoint: a SIGURG delivered while gdb
        steps the thread over the breakpoint makes it call asyncPreempt, which returns to
        the breakpoint's address, and gdb reports the same call's hit a second time (2 %
        of continues from a breakpoint in main.hot; none with asyncpreemptoff=1). So the
        thread steps off alone first, with SIGURG held back (the runtime sends another)."""
        mi = self.mi
        mi.console("handle SIGURG nopass")
        mi.console("set scheduler-locking step")
        try:
            mi.clear_stops()
            mi.check(f"-exec-step-instruction --thread {thread}")
            return mi.wait_stopped(STEP_OFF_TIMEOUT)
        except GotuiError:
            if mi.running:  # (one instruction that blocks: a syscall) let it run
                mi.interrupt()
                with contextlib.suppress(GotuiError):
                    mi.wait_stopped(10)
            return None
        finally:
            mi.console("set scheduler-locking replay")
            mi.console("handle SIGURG pass")

    async def halt(self) -> TargetState:
        # The Session resumes right after attaching: that cont() may be scheduled but
        # not yet running, or its -exec-continue not yet answered. Let it reach gdb
        # first, or the halt is lost and the target runs on.
        await asyncio.sleep(0)
        deadline = time.monotonic() + 10
        while not self._resumed.is_set() and not self.mi.running \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self.mi.running:
            self.mi.interrupt()
            # with a cont() in flight the stop is cont()'s to record: waiting for it here
            # too could take it before cont() waits (between its -exec-continue and its
            # wait), and cont() would then wait for good
            if self._resumed.is_set():
                await self._await_stop(timeout=10)
        if not self._resumed.is_set():  # let cont() record the stop first
            await asyncio.wait_for(self._resumed.wait(), timeout=10)
        return await self.state()

    async def next(self) -> TargetState:
        return await self._resume("-exec-next")

    async def step(self) -> TargetState:
        return await self._resume("-exec-step")

    async def step_out(self) -> TargetState:
        return await self._resume("-exec-finish")

    async def switch_goroutine(self, goid: int) -> TargetState:
        thread = await self._thread_of(goid)
        await asyncio.to_thread(self.mi.check, f"-thread-select {thread}")
        self._goid, self._thread = goid, thread
        return await self.state()


def _ignore_count(hit_cond: str) -> int:
    """gdb's only hit condition is an ignore count: "> N" (or ">= N") stops after N hits."""
    if not hit_cond.strip():
        return 0
    m = HIT_COND.match(hit_cond)
    if m is None:
        raise GotuiError(f"gdb supports hit conditions '> N' and '>= N' only, not {hit_cond!r}")
    n = int(m.group(2))
    return n if m.group(1) == ">" else max(0, n - 1)


def _breakpoint(b: dict[str, Any]) -> Breakpoint:
    func = str(b.get("func", "") or b.get("original-location", "")).removeprefix("-function ")
    addrs = []
    with contextlib.suppress(ValueError):
        addrs = [int(str(b.get("addr", "")), 16)]
    return Breakpoint(
        id=int(b.get("number", 0)), file=str(b.get("fullname", b.get("file", ""))),
        line=int(b.get("line", 0) or 0), function=func, cond=str(b.get("cond", "")),
        enabled=b.get("enabled", "y") == "y", total_hits=int(b.get("times", 0) or 0),
        addrs=addrs)


async def open_core(exe: str, core: str, backend: str = "gdb") -> GdbBackend:
    """A started gdb StopBackend on a core file (Delve: DelveBackend.for_core)."""
    if backend != "gdb":
        raise GotuiError(f"open_core opens cores with gdb, not {backend!r}")
    b = GdbBackend.for_core(exe, core)
    await b.start()
    return b
