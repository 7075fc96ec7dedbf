"""One debugged target: owns its backends, merges their views, publishes changes.

The live reader (never stops the target) gives the default view. A stop-the-world
backend (Delve or gdb) is attached on demand, the first time the user asks for
something that needs a stop, or up front. While the target is halted the halted view
replaces the live one: the live reader's reads, exact while nothing moves, plus what
only the stop backend knows (backends/halted.py).

Listeners get notices (backends/notices.py): StateChanged, EventArrived, ErrorRaised,
BackendChanged. It implements backends/target.py's TargetSession.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gotui.backends import cgostack
from gotui.backends.base import LiveSource, StopBackend
from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.scopes import check_breakpoint
from gotui.backends.model import (
    Breakpoint,
    Event,
    Frame,
    GotuiError,
    NeedsAction,
    Snapshot,
    TargetInfo,
    TargetState,
    Variable,
)
from gotui.backends.notices import (
    BackendChanged,
    ErrorRaised,
    EventArrived,
    Publisher,
    StateChanged,
)
from gotui.backends.sourcefiles import process_uid, read_source_file
from gotui.backends.target import Capabilities

if TYPE_CHECKING:
    from gotui.backends.ebpf.feed import EbpfFeed

StopFactory = Callable[[], Awaitable[StopBackend]]
# while halted, how often to check that the stop backend (dlv) is still there
LOST_POLL_SECONDS = 1.0
# The most of one core that periodic live reads (a TUI's refresh, a share server's
# pulls for its viewers) may take: a debugger must be the lightest thing on the host.
LIVE_READ_SHARE = 0.10
# The intervals a live refresh or pull stretches to when it would take more (seconds)
LIVE_STEPS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 30.0)
# The first live reads parse the binary's tables and build everything: their cost says
# nothing about the next ones (at 100k goroutines the first pull cost 1.5 s of CPU, the
# next ones 0.15 s), so this many are not used to stretch the interval.
LIVE_WARMUP = 2


T = TypeVar("T")


def thread_cpu(fn: Callable[[], T]) -> tuple[T, float]:
    """fn's result and the CPU its own thread spent on it: run in a worker, it leaves
    out what the other threads did meanwhile (a share host compressing for its viewers)."""
    started = time.thread_time()
    out = fn()
    return out, time.thread_time() - started


def live_step(seconds: float) -> float:
    """The shortest of LIVE_STEPS that is at least `seconds` (the longest if none)."""
    return next((s for s in LIVE_STEPS if s >= seconds), LIVE_STEPS[-1])


class Session(Publisher):
    def __init__(
        self,
        info: TargetInfo,
        *,
        live: LiveSource | None = None,
        stop: StopBackend | None = None,
        stop_factory: StopFactory | None = None,
        resume_on_attach: bool = True,
    ) -> None:
        super().__init__()
        self.info = info
        self.live = live
        self.stop = stop
        self._stop_factory = stop_factory
        self._resume_on_attach = resume_on_attach
        # The one owner of the run state: every path that may halt or resume the target
        # holds it, so nothing resumes what someone else halted (see _while_stoppable).
        self._run_lock = asyncio.Lock()
        # What the session knows of the breakpoints: kept up to date on create/amend/
        # clear and refreshed whenever the target stops, so listing them never needs
        # the target halted (a viewer's read-only command must not change its state).
        self._breakpoints: list[Breakpoint] = []
        self._live_lock = asyncio.Lock()  # the live reader is not re-entrant
        self.state = TargetState(running=True)
        self._run_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._closed = False
        self._started = False
        self.last_snapshot: Snapshot | None = None
        self.read_cpu = 0.0  # CPU seconds of the last live read (0: none, or halted)
        # the halted view of the current stop: (state it was read in, with stacks, it)
        self._halted_view: tuple[TargetState, bool, Snapshot] | None = None
        self._source_cache: dict[str, list[str]] = {}
        # eBPF events (lifecycle, tracepoints, probe status); started by start()
        self.ebpf: EbpfFeed | None = None

    def _set_state(self, state: TargetState) -> None:
        if not state.running and state.halted_since is None:
            state.halted_since = (
                self.state.halted_since if not self.state.running and self.state.halted_since
                else time.time()
            )
        self.state = state
        self.publish(StateChanged(state))
        if not state.running and not state.exited and self.stop is not None:
            self._watch_halted(self.stop)

    def _watch_halted(self, stop: StopBackend) -> None:
        """Nothing talks to the stop backend while the target sits halted: poll it, so
        that its death (the kernel then lets the target run) is noticed."""
        if self._watch_task is not None and not self._watch_task.done():
            return

        async def watch() -> None:
            while not self._closed and self.stop is stop and not self.state.running:
                await asyncio.sleep(LOST_POLL_SECONDS)
                if self._closed or self.stop is not stop or self.state.running:
                    return
                try:
                    await stop.state()
                except Exception as exc:  # noqa: BLE001 - any failure: the backend is gone
                    await self._stop_lost(stop, exc)
                    return

        self._watch_task = asyncio.get_running_loop().create_task(watch())

    async def _stop_lost(self, stop: StopBackend, why: Exception) -> None:
        """The stop backend died: forget it (the next halt attaches a new one)."""
        if self.stop is not stop or self._closed:
            return
        self.stop = None
        self._breakpoints = []  # they went with the debugger
        self.info.backend = self.backend_name
        self.publish(BackendChanged(self.info))
        self._set_state(TargetState(running=True, stop_reason="debugger lost"))
        name = "Delve" if stop.name == "delve" else stop.name
        self.publish(ErrorRaised(f"{name} went away ({why}); target released"))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(stop.detach(), timeout=10)

    # ------------------------------------------------------------ lifecycle
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def has_stop_backend(self) -> bool:
        return self.stop is not None

    @property
    def can_stop(self) -> bool:
        return self.stop is not None or self._stop_factory is not None

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(post_mortem=self.post_mortem, can_stop=self.can_stop,
                            has_stop_backend=self.has_stop_backend,
                            has_ebpf=self.ebpf is not None, remote=False)

    async def poll_state(self) -> TargetState:
        """The stop backend's state now (it may have stopped or resumed since the last
        published state); the published one without a stop backend."""
        stop = self.stop
        return await stop.state() if stop is not None else self.state

    @property
    def backend_name(self) -> str:
        if self.stop is not None:
            return self.stop.name if self.live is None else f"live+{self.stop.name}"
        return "live" if self.live is not None else "none"

    def _take_notices(self, stop: StopBackend) -> None:
        """What a stop backend did by itself (e.g. disabled a breakpoint whose condition
        fails) is shown as an error, once."""
        if hasattr(stop, "on_notice"):
            stop.on_notice = lambda message: self.publish(ErrorRaised(message))

    async def start(self) -> None:
        if self.stop is not None:
            self._take_notices(self.stop)
            await self.stop.start()
            st = await self.stop.state()
            if not st.running:
                await self._refresh_breakpoints(self.stop)
            self._set_state(st)
        self.info.backend = self.backend_name
        self.publish(BackendChanged(self.info))
        self._started = True
        if self.ebpf is not None:
            self.ebpf.start(self.publish)

    def attach_ebpf(self, feed: EbpfFeed) -> None:
        """Give the session its eBPF feed (started now if the session is: a TUI adds it
        after its first paint)."""
        self.ebpf = feed
        if self._started and not self._closed:
            feed.start(self.publish)

    async def ensure_stop(self) -> StopBackend:
        """Attach the stop-the-world backend if it is not attached yet.

        Attaching halts the target (ptrace); if the target was running before, it
        is resumed, so attaching alone never leaves it stopped."""
        if self.stop is not None:
            return self.stop
        if self._stop_factory is None:
            raise GotuiError("no stop-the-world backend is available for this session")
        async with self._run_lock:  # attaching halts the target, then resumes it
            if self.stop is None:
                self.publish(EventArrived(Event(type="log", message="attaching Delve...")))
                backend = await self._stop_factory()
                self._take_notices(backend)
                await backend.start()
                self.stop = backend
                self.info.backend = self.backend_name
                self.publish(BackendChanged(self.info))
                st = await backend.state()
                if not st.running:
                    await self._refresh_breakpoints(backend)
                if not st.running and not st.exited and self._resume_on_attach:
                    self._start_running(backend)
                else:
                    self._set_state(st)
        assert self.stop is not None
        return self.stop

    async def close(self, resume: bool = True, kill: bool = False) -> None:
        """Release the target: continue (unless told to keep it), detach, close."""
        if self._closed:
            return
        self._closed = True
        stop = self.stop
        if stop is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stop.detach(kill=kill), timeout=10)
            if not resume and not kill and self.info.pid and not self.post_mortem \
                    and pid_alive(self.info.pid):
                # The user asked to leave it halted for another debugger: detaching
                # resumes it, so stop it again with a plain signal.
                with contextlib.suppress(OSError):
                    os.kill(self.info.pid, signal.SIGSTOP)
        for task in (self._run_task, self._watch_task):
            if task is not None:
                task.cancel()
        if self.ebpf is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.ebpf.close)
        if self.live is not None:
            with contextlib.suppress(Exception):
                self.live.close()

    # ------------------------------------------------------------ views
    async def snapshot(self, stacks: bool = False) -> Snapshot:
        """The current view: while halted, the halted view (backends/halted.py: the live
        reader, exact while nothing moves, plus the stop backend for what only it
        knows), else the live reader's."""
        if self.stop is not None and not self.state.running and not self.state.exited:
            self.read_cpu = 0.0
            snap = await self._halted_snapshot(self.stop, stacks)
        elif self.live is not None:
            async with self._live_lock:
                snap, self.read_cpu = await asyncio.to_thread(thread_cpu, self.live.snapshot)
        elif self.last_snapshot is not None:
            return self.last_snapshot
        else:
            raise GotuiError("target is running and no live reader is available: halt to list")
        self.last_snapshot = snap
        return snap

    async def _halted_snapshot(self, stop: StopBackend, stacks: bool) -> Snapshot:
        from gotui.backends.halted import halted_snapshot
        from gotui.backends.live.reader import LiveReader

        if not isinstance(self.live, LiveReader):  # a core, a remote Delve, fakes
            return await stop.snapshot(stacks=stacks)
        # Nothing changes until the target runs again (a new state): one read per stop.
        done = self._halted_view
        if done is not None and done[0] is self.state and (done[1] or not stacks):
            return done[2]
        state = self.state
        async with self._live_lock:
            snap = await halted_snapshot(self.live, stop, stacks=stacks)
        self._halted_view = (state, stacks, snap)
        return snap

    async def stack(self, goid: int, depth: int = 64) -> list[Frame]:
        if self.stop is not None and not self.state.running:
            frames = await self.stop.stack(goid, depth)
            if self.live is not None and cgostack.has_cgo(frames):
                # Debuggers lose the Go frames below a cgo call; the goroutine's own
                # saved state (g.sched) still has them.
                with contextlib.suppress(Exception):
                    async with self._live_lock:
                        go = await asyncio.to_thread(self.live.stack, goid, depth)
                    frames = cgostack.stitch(go, frames)
            return frames
        if self.live is not None:
            async with self._live_lock:
                frames = await asyncio.to_thread(self.live.stack, goid, depth)
            tid = self._thread_of(goid)
            if tid and frames and frames[0].kind == "cgo":
                # in a cgo call: the C frames from its thread, without stopping it
                from gotui.backends.live.cgo_thread import with_c_frames

                frames = await asyncio.to_thread(with_c_frames, self.info.pid, tid,
                                                 self.info.exe, frames)
            return frames
        return []

    def _thread_of(self, goid: int) -> int:
        snap = self.last_snapshot
        g = next((g for g in snap.goroutines if g.id == goid), None) if snap else None
        return g.thread_id if g is not None and g.status == "syscall" else 0

    async def locals(self, goid: int, frame: int) -> list[Variable]:
        stop = self._halted_stop("read locals")
        return await stop.locals(goid, frame)

    async def args(self, goid: int, frame: int) -> list[Variable]:
        stop = self._halted_stop("read arguments")
        return await stop.args(goid, frame)

    async def eval(self, expr: str, goid: int = -1, frame: int = 0) -> Variable:
        stop = self._halted_stop("evaluate")
        return await stop.eval(expr, goid, frame)

    def _halted_stop(self, what: str) -> StopBackend:
        if self.stop is None or self.state.running:
            raise NeedsAction(f"halt the target to {what}", "halt")
        return self.stop

    def read_source(self, path: str) -> list[str]:
        """Lines of a source file the target's debug info names; [] for one gotui must
        not show (confined: backends/sourcefiles.py)."""
        if path not in self._source_cache:
            owner = process_uid(self.info.pid) if self.info.pid and not self.post_mortem \
                else None
            self._source_cache[path] = read_source_file(path, owner)
        return self._source_cache[path]

    # ------------------------------------------------------------ breakpoints
    async def breakpoints(self) -> list[Breakpoint]:
        """The breakpoints as the session last knew them. Never talks to the backend,
        so it never halts the target (viewers call this)."""
        return [copy.copy(bp) for bp in self._breakpoints]

    async def create_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        await self._check_condition(bp)  # before anything attaches or stops the target
        stop = await self.ensure_stop()
        created = await self._while_stoppable(stop, lambda: stop.create_breakpoint(bp))
        self._keep_breakpoint(created)
        return created

    async def _check_condition(self, bp: Breakpoint) -> None:
        """A condition naming a variable not in scope at the location fails on every hit:
        refuse it, saying where it would work (backends/gobinary/scopes.py)."""
        facts = getattr(self.live, "facts", None)
        if facts is None and self.stop is not None and hasattr(self.stop, "binary"):
            facts = self.stop.binary()
        if isinstance(facts, BinaryFacts) and bp.cond:
            await asyncio.to_thread(check_breakpoint, facts, bp.function, bp.file, bp.line,
                                    bp.cond)

    async def amend_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        await self._check_condition(bp)
        stop = await self.ensure_stop()
        amended = await self._while_stoppable(stop, lambda: stop.amend_breakpoint(bp))
        self._keep_breakpoint(amended)
        return amended

    async def clear_breakpoint(self, bp_id: int) -> None:
        stop = await self.ensure_stop()
        await self._while_stoppable(stop, lambda: stop.clear_breakpoint(bp_id))
        self._breakpoints = [b for b in self._breakpoints if b.id != bp_id]

    async def move_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        """Breakpoint `bp.id`, moved to `bp`'s location with all of `bp`'s settings
        (see replace_breakpoint); returns the new breakpoint (a new id)."""
        await self._check_condition(bp)
        stop = await self.ensure_stop()
        moved = await self._while_stoppable(stop, lambda: replace_breakpoint(stop, bp))
        self._breakpoints = [b for b in self._breakpoints if b.id != bp.id]
        self._keep_breakpoint(moved)
        return moved

    def _keep_breakpoint(self, bp: Breakpoint) -> None:
        """Put what the backend answered into the kept list (replacing its old copy)."""
        kept = [b for b in self._breakpoints if b.id != bp.id]
        self._breakpoints = sorted([*kept, copy.copy(bp)], key=lambda b: b.id)

    async def _refresh_breakpoints(self, stop: StopBackend) -> None:
        """Read the list from the backend (the target is halted: callers make sure)."""
        with contextlib.suppress(Exception):  # kept as it was; the next stop retries
            self._breakpoints = await stop.breakpoints()

    async def _while_stoppable(self, stop: StopBackend,
                               op: Callable[[], Awaitable[Any]]) -> Any:
        """Delve only takes most calls while halted: halt, do it, resume. Under the run
        lock, and it resumes only a target that it halted itself: one that stopped on a
        breakpoint meanwhile stays stopped."""
        async with self._run_lock:
            if self.stop is not stop:
                raise GotuiError("the debugger went away; try again")
            halted_here = False
            if self.state.running:
                st = await self._halt_quietly(stop)
                halted_here = not st.exited and not st.breakpoint_id
            try:
                return await op()
            finally:
                if halted_here and self.stop is stop:
                    self._start_running(stop)

    async def _halt_quietly(self, stop: StopBackend) -> TargetState:
        """Halt (run lock held) and return the state the target stopped in."""
        st = await stop.halt()
        task = self._run_task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), timeout=15)
            self._run_task = None
            st = self.state
        return st

    # ------------------------------------------------------------ execution
    def _start_running(self, stop: StopBackend) -> None:
        self._set_state(TargetState(running=True))

        async def run() -> None:
            try:
                st = await stop.cont()
            except Exception as exc:  # noqa: BLE001 - shown to the user, session goes on
                try:
                    st = await stop.state()
                except Exception:  # noqa: BLE001 - no answer at all: the backend is gone
                    await self._stop_lost(stop, exc)
                    return
                self.publish(ErrorRaised(f"continue failed: {exc}"))
                self._set_state(st)
                return
            if not st.running and not st.exited:
                # hit counts moved; read before the stop is published. Nobody resumes
                # meanwhile: the state still says running, so cont() is a no-op and
                # halt() waits for this task.
                await self._refresh_breakpoints(stop)
            self._set_state(st)

        self._run_task = asyncio.get_running_loop().create_task(run())

    @property
    def post_mortem(self) -> bool:
        """A core file: everything can be read, nothing can run."""
        return self.state.stop_reason == "core"

    def _require_process(self, what: str) -> None:
        if self.post_mortem:
            raise GotuiError(f"cannot {what}: this is a core file (post-mortem)")

    async def cont(self) -> None:
        self._require_process("continue")
        stop = await self.ensure_stop()
        async with self._run_lock:
            if self.state.running or self.stop is not stop:
                return
            self._start_running(stop)

    async def halt(self) -> TargetState:
        stop = await self.ensure_stop()
        async with self._run_lock:
            if self.state.running and self.stop is stop:
                st = await stop.halt()
                if self._run_task is not None:  # it publishes the stop
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await asyncio.wait_for(asyncio.shield(self._run_task), timeout=30)
                    self._run_task = None
                else:
                    if not st.running:
                        await self._refresh_breakpoints(stop)
                    self._set_state(st)
        return self.state

    async def _step(self, name: str) -> TargetState:
        self._require_process(name)
        async with self._run_lock:
            stop = self._halted_stop(name)
            self._set_state(TargetState(running=True))
            fn = {"next": stop.next, "step": stop.step, "step out": stop.step_out}[name]
            try:
                st = await fn()
            except Exception:
                self._set_state(await stop.state())
                raise
            await self._refresh_breakpoints(stop)
            self._set_state(st)
            return st

    async def next(self) -> TargetState:
        return await self._step("next")

    async def step(self) -> TargetState:
        return await self._step("step")

    async def step_out(self) -> TargetState:
        return await self._step("step out")

    async def switch_goroutine(self, goid: int) -> TargetState:
        async with self._run_lock:
            stop = self._halted_stop("switch goroutine")
            st = await stop.switch_goroutine(goid)
            self._set_state(st)
            return st


class BreakpointOps(Protocol):
    async def create_breakpoint(self, bp: Breakpoint) -> Breakpoint: ...
    async def amend_breakpoint(self, bp: Breakpoint) -> Breakpoint: ...
    async def clear_breakpoint(self, bp_id: int) -> None: ...


async def replace_breakpoint(ops: BreakpointOps, bp: Breakpoint) -> Breakpoint:
    """Move breakpoint `bp.id` to `bp`'s location, keeping `bp`'s name, condition, hit
    condition (per goroutine or not), tracepoint flag and enabled state.

    No backend can move a breakpoint: make the new one, drop the old one. Names are
    unique (Delve refuses a second one), so the new one gets the name last. If the old
    one cannot be dropped, the new one goes and the old one stays as it was."""
    moved = dataclasses.replace(bp, id=0, name="", total_hits=0, hits_per_goroutine={},
                                addrs=[])
    created = await ops.create_breakpoint(moved)
    try:
        await ops.clear_breakpoint(bp.id)
    except Exception:
        with contextlib.suppress(Exception):
            await ops.clear_breakpoint(created.id)
        raise
    if bp.name:
        created = await ops.amend_breakpoint(dataclasses.replace(created, name=bp.name))
    return created


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
