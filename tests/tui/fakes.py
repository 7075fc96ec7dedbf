"""A fake target behind the real Session protocols, for TUI tests.

FakeLive (LiveSource) serves N synthetic goroutines; tests add/remove some between
refreshes. FakeStop (StopBackend) keeps breakpoints, a current line and variables
in memory; `cont()` blocks until `halt()` like Delve's continue does.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from gotui.backends.model import (
    BlockedOn,
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
from gotui.backends.session import Session, pid_alive

# the environment of TUI tests and screenshots: a fixed time zone, a 256-colour terminal
STABLE_ENV = {"TZ": "UTC", "TERM": "xterm-256color"}
UNSET_ENV = ("NO_COLOR", "COLORTERM")

SOURCE = "\n".join(
    ["package main", "", 'import "fmt"', ""]
    + [f"// filler line {n}" for n in range(5, 20)]
    + ["func worker(id int, jobs <-chan int) {",  # line 20
       "\tfor j := range jobs {",
       "\t\tresult := j * 2",
       "\t\tfmt.Println(id, result)",
       "\t}",
       "}",
       "",
       "func main() {",
       "\tjobs := make(chan int)",
       "\tfor i := 0; i < 4; i++ {",
       "\t\tgo worker(i, jobs)",  # line 30
       "\t}",
       "\tselect {}",
       "}"]
    + [f"// trailing line {n}" for n in range(34, 60)]
) + "\n"

FUNCS = [("main.worker", 21, "waiting", "chan receive"),
         ("main.handler", 22, "waiting", "select"),
         ("main.poller", 23, "syscall", ""),
         ("main.compute", 22, "runnable", ""),
         ("main.sleeper", 24, "waiting", "sleep")]
JOBS_CHAN = "0xc000020060"
GO_SITES = [("main.main", 30), ("main.serve", 31), ("main.startPollers", 32)]


def write_source(directory: Path) -> str:
    path = directory / "main.go"
    path.write_text(SOURCE)
    return str(path)


def make_goroutine(goid: int, source: str) -> Goroutine:
    func, line, status, reason = FUNCS[goid % len(FUNCS)]
    site_fn, site_line = GO_SITES[goid % len(GO_SITES)]
    loc = Location(func, source, line, 0x401000 + goid)
    return Goroutine(
        id=goid,
        status="running" if goid == 1 else status,
        wait_reason="" if goid == 1 else reason,
        wait_ns=(goid % 7) * 61_000_000_000 if reason and goid != 1 else 0,
        labels={"worker": str(goid % 3)} if goid % 4 == 0 else {},
        current=Location("runtime.gopark", "/usr/lib/go/src/runtime/proc.go", 460),
        user_current=loc,
        go_statement=Location(site_fn, source, site_line),
        start=Location(func, source, line - 1),
        parent_id=1,
        blocked_on=BlockedOn(JOBS_CHAN, "recv") if reason == "chan receive" else None,
    )


def make_stack(g: Goroutine, line: int | None = None) -> list[Frame]:
    user = g.user_current
    return [
        Frame("runtime.gopark", "/usr/lib/go/src/runtime/proc.go", 460, 0x1, "runtime"),
        Frame("runtime.chanrecv", "/usr/lib/go/src/runtime/chan.go", 664, 0x2, "runtime"),
        Frame(user.function, user.file, line or user.line, user.pc, "go"),
        Frame(g.go_statement.function, g.go_statement.file, g.go_statement.line, 0x3, "go"),
        Frame("runtime.goexit", "/usr/lib/go/src/runtime/asm_amd64.s", 1700, 0x4, "runtime"),
    ]


class FakeLive:
    """LiveSource with synthetic goroutines 1..n; `ids` can be edited between snapshots."""

    def __init__(self, n: int, source: str, info: TargetInfo) -> None:
        self.info = info
        self.source = source
        self.ids: list[int] = list(range(1, n + 1))
        self._cache: dict[int, Goroutine] = {}
        self.snapshots = 0
        self.closed = False

    def goroutines(self) -> list[Goroutine]:
        out = []
        for goid in self.ids:
            g = self._cache.get(goid)
            if g is None:
                g = self._cache[goid] = make_goroutine(goid, self.source)
            out.append(g)
        return out

    def snapshot(self) -> Snapshot:
        self.snapshots += 1
        return Snapshot(pid=self.info.pid, exe=self.info.exe, go_version=self.info.go_version,
                        source="live", taken_at=1_700_000_000.0, goroutines=self.goroutines(),
                        channels=[Channel(JOBS_CHAN, "int", 1, 4)])

    def goroutine_count(self) -> int:
        return len(self.ids)

    def stack(self, goid: int, depth: int = 64) -> list[Frame]:
        if goid not in self.ids:
            return []
        return make_stack(self._cache.get(goid) or make_goroutine(goid, self.source))[:depth]

    def close(self) -> None:
        self.closed = True


class FakeStop:
    """StopBackend in memory. Starts running; halt() stops at goroutine 1, line 21."""

    name = "fake"

    def __init__(self, live: FakeLive, halted_at: float = 1_700_000_000.0) -> None:
        self.live = live
        self.info = live.info
        self.halted_at = halted_at
        self.running = True
        self.line = 21
        self.goid = 1
        self.bps: dict[int, Breakpoint] = {}
        self.next_id = 1
        self.detached: list[bool] = []  # kill flag of each detach
        self.calls: list[str] = []
        self._stopped = asyncio.Event()
        self.step_gate: asyncio.Event | None = None  # when set, steps wait for it
        self.list_gate: asyncio.Event | None = None  # when set, breakpoints() waits
        self.lost = False  # the debugger process died: state() has no answer
        self.variables = {"id": Variable("id", "int", "7", "int"),
                          "j": Variable("j", "int", "3", "int"),
                          "jobs": Variable("jobs", "<-chan int", "chan int 0/0", "chan")}

    def _state(self, reason: str = "") -> TargetState:
        if self.running:
            return TargetState(running=True)
        return TargetState(running=False, halted_since=self.halted_at, current_goroutine=self.goid,
                           stop_reason=reason,
                           current=Location("main.worker", self.live.source, self.line))

    async def start(self) -> None:
        self.calls.append("start")

    async def state(self) -> TargetState:
        if self.lost:
            raise GotuiError("lost connection to Delve: connection reset")
        return self._state()

    async def goroutines(self) -> list[Goroutine]:
        return self.live.goroutines()

    async def snapshot(self, stacks: bool = True) -> Snapshot:
        snap = self.live.snapshot()
        snap.source = "delve"
        snap.channels = [Channel(JOBS_CHAN, "int", 1, 4, elements=[7])]  # halted: values
        return snap

    async def channels(self, goroutines: list[Goroutine]) -> list[Channel]:
        return []

    async def stack(self, goid: int, depth: int = 64) -> list[Frame]:
        g = make_goroutine(goid, self.live.source)
        return make_stack(g, self.line if goid == self.goid else None)[:depth]

    def _check_halted(self) -> None:
        if self.running:
            raise GotuiError("target is running")

    async def locals(self, goid: int, frame: int) -> list[Variable]:
        self._check_halted()
        return [self.variables["j"]]

    async def args(self, goid: int, frame: int) -> list[Variable]:
        self._check_halted()
        return [self.variables["id"], self.variables["jobs"]]

    async def eval(self, expr: str, goid: int, frame: int) -> Variable:
        self._check_halted()
        self.calls.append(f"eval {expr} g{goid} f{frame}")
        if expr in self.variables:
            return self.variables[expr]
        if expr.isdigit():
            return Variable(expr, "int", expr, "int")
        raise GotuiError(f'could not find symbol value for {expr}')

    async def breakpoints(self) -> list[Breakpoint]:
        listed = [dataclasses.replace(b) for b in self.bps.values()]
        if self.list_gate is not None:
            await self.list_gate.wait()  # a slow listing: the answer is from before
        return listed

    async def create_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        if bp.function and not bp.function.startswith("main."):
            raise GotuiError(f'could not find function "{bp.function}"')
        if bp.file and not (1 <= bp.line <= len(SOURCE.splitlines())):
            raise GotuiError(f"could not find statement at {bp.file}:{bp.line}")
        if any(b.file == bp.file and b.line == bp.line and b.function == bp.function
               for b in self.bps.values()):
            raise GotuiError(f"breakpoint exists at {bp.where()}")
        created = dataclasses.replace(bp, id=self.next_id)
        self.next_id += 1
        self.bps[created.id] = created
        return dataclasses.replace(created)

    async def amend_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        if bp.id not in self.bps:
            raise GotuiError(f"no breakpoint with id {bp.id}")
        if "syntax error" in bp.cond:
            raise GotuiError(f"error evaluating expression: {bp.cond}")
        self.bps[bp.id] = dataclasses.replace(bp)
        return dataclasses.replace(bp)

    async def clear_breakpoint(self, bp_id: int) -> None:
        if self.bps.pop(bp_id, None) is None:
            raise GotuiError(f"no breakpoint with id {bp_id}")

    async def cont(self) -> TargetState:
        self.running = True
        self._stopped.clear()
        await self._stopped.wait()
        if self.lost:
            raise GotuiError("lost connection to Delve: connection reset")
        return self._state("halt")

    def die(self) -> None:
        """The debugger process dies: a continue in flight fails, nothing answers."""
        self.lost = True
        self._stopped.set()

    async def halt(self) -> TargetState:
        self.calls.append("halt")
        self.running = False
        self._stopped.set()
        return self._state("halt")

    async def _move(self, delta: int, reason: str) -> TargetState:
        self._check_halted()
        if self.step_gate is not None:
            await self.step_gate.wait()
        self.line += delta
        return self._state(reason)

    async def next(self) -> TargetState:
        return await self._move(1, "next")

    async def step(self) -> TargetState:
        return await self._move(1, "step")

    async def step_out(self) -> TargetState:
        return await self._move(9, "step out")

    async def switch_goroutine(self, goid: int) -> TargetState:
        self._check_halted()
        self.goid = goid
        return self._state("switch")

    async def detach(self, kill: bool = False) -> None:
        self.detached.append(kill)
        if not kill:
            self.running = True
            self._stopped.set()


class RecordingSession(Session):
    """A real Session that also records the arguments of close()."""

    close_calls: list[tuple[bool, bool]]

    async def close(self, resume: bool = True, kill: bool = False) -> None:
        self.close_calls.append((resume, kill))
        await super().close(resume=resume, kill=kill)


# Above the kernel's PID_MAX_LIMIT (2^22): no real process has it. Session.close()
# signals info.pid on "keep halted", so a fake must never name a real pid.
FAKE_PID = 4_999_999


def make_session(tmp: Path, n: int = 40, with_stop: bool = True,
                 cls: type[RecordingSession] = RecordingSession) -> RecordingSession:
    source = write_source(tmp)
    assert not pid_alive(FAKE_PID)
    info = TargetInfo(pid=FAKE_PID, exe="/srv/app/fakesvc", go_version="go1.26.0", backend="live")
    live = FakeLive(n, source, info)
    stop = FakeStop(live) if with_stop else None
    session = cls(info, live=live, stop=stop)
    session.close_calls = []
    return session
