"""Small fake backends for the remote tests (a real Session runs on top of them)."""

from __future__ import annotations

import asyncio
import copy

from gotui.backends.model import (
    Breakpoint,
    Channel,
    Frame,
    Goroutine,
    Location,
    Snapshot,
    TargetInfo,
    TargetState,
    Variable,
)

SOURCE_FILE = "/src/app/main.go"


def fake_info() -> TargetInfo:
    """The fake target the remote tests' sessions are on."""
    return TargetInfo(pid=4242, exe="/src/app/app", go_version="go1.26.0")


def make_goroutine(gid: int, pad: int = 0) -> Goroutine:
    loc = Location("main.worker", SOURCE_FILE, 10 + gid % 50, 0x401000 + gid)
    return Goroutine(
        id=gid, status="waiting", wait_reason="chan receive", wait_ns=0,
        labels={"pad": "x" * pad} if pad else {}, current=loc, user_current=loc,
        go_statement=Location("main.main", SOURCE_FILE, 5, 0x400f00), start=loc,
        stack=[Frame("main.worker", SOURCE_FILE, 10 + gid % 50, 0x401000 + gid)])


class FakeLive:
    """A LiveSource whose goroutines the test changes between snapshots."""

    def __init__(self, info: TargetInfo, count: int = 5, pad: int = 0) -> None:
        self.info = info
        self.pad = pad
        self.goroutines = {gid: make_goroutine(gid, pad) for gid in range(1, count + 1)}
        self.snapshots = 0
        self.closed = False
        self.auto_tick = False  # tick() before every snapshot

    def tick(self) -> None:
        """Every goroutine changes (its "tick" label counts the ticks)."""
        for g in self.goroutines.values():
            g.labels["tick"] = str(int(g.labels.get("tick", "0")) + 1)

    def spawn(self, gid: int) -> None:
        self.goroutines[gid] = make_goroutine(gid, self.pad)

    def exit(self, gid: int) -> None:
        del self.goroutines[gid]

    def snapshot(self) -> Snapshot:
        self.snapshots += 1
        if self.auto_tick:
            self.tick()
        return Snapshot(pid=self.info.pid, exe=self.info.exe, go_version=self.info.go_version,
                        source="live", goroutines=copy.deepcopy(list(self.goroutines.values())),
                        channels=[Channel("0xc000010000", "int", 0, 0)])

    def goroutine_count(self) -> int:
        return len(self.goroutines)

    def stack(self, goid: int, depth: int = 64) -> list[Frame]:
        g = self.goroutines.get(goid)
        return list(g.stack[:depth]) if g else []

    def close(self) -> None:
        self.closed = True


class FakeStop:
    """A StopBackend: starts halted; cont() waits for `gate`, runs until halt()."""

    name = "fake"

    def __init__(self, info: TargetInfo, live: FakeLive) -> None:
        self.info = info
        self.live = live
        self.running = False
        self.gate = asyncio.Event()
        self.gate.set()
        self._halt = asyncio.Event()
        self._stopped = asyncio.Event()
        self.calls: list[str] = []
        self.bps: dict[int, Breakpoint] = {}
        self.current_g = 1

    def _state(self, reason: str = "") -> TargetState:
        return TargetState(running=self.running, current_goroutine=self.current_g,
                           stop_reason=reason,
                           current=None if self.running else Location("main.worker",
                                                                      SOURCE_FILE, 12, 0))

    async def start(self) -> None:
        self.calls.append("start")

    async def state(self) -> TargetState:
        return self._state()

    async def goroutines(self) -> list[Goroutine]:
        return list(self.live.goroutines.values())

    async def snapshot(self, stacks: bool = True) -> Snapshot:
        snap = self.live.snapshot()
        snap.source = "fake"
        return snap

    async def channels(self, goroutines: list[Goroutine]) -> list[Channel]:
        return []

    async def stack(self, goid: int, depth: int = 64) -> list[Frame]:
        return self.live.stack(goid, depth)

    async def locals(self, goid: int, frame: int) -> list[Variable]:
        return [Variable("i", "int", "42", "int")]

    async def args(self, goid: int, frame: int) -> list[Variable]:
        return [Variable("id", "int", str(goid), "int")]

    async def eval(self, expr: str, goid: int, frame: int) -> Variable:
        self.calls.append(f"eval {expr}")
        return Variable(expr, "int", "7", "int")

    async def breakpoints(self) -> list[Breakpoint]:
        return list(self.bps.values())

    async def create_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        self.calls.append("create_breakpoint")
        bp = copy.deepcopy(bp)
        bp.id = max(self.bps, default=0) + 1
        self.bps[bp.id] = bp
        return bp

    async def amend_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        self.bps[bp.id] = copy.deepcopy(bp)
        return bp

    async def clear_breakpoint(self, bp_id: int) -> None:
        self.calls.append("clear_breakpoint")
        self.bps.pop(bp_id, None)

    async def cont(self) -> TargetState:
        self.calls.append("cont")
        await self.gate.wait()
        self._halt.clear()
        self._stopped.clear()
        self.running = True
        await self._halt.wait()
        self.running = False
        self._stopped.set()
        return self._state("halt")

    async def halt(self) -> TargetState:
        self.calls.append("halt")
        if self.running:
            self._halt.set()
            await self._stopped.wait()
        return self._state("halt")

    async def _step(self, name: str) -> TargetState:
        self.calls.append(name)
        return self._state(name)

    async def next(self) -> TargetState:
        return await self._step("next")

    async def step(self) -> TargetState:
        return await self._step("step")

    async def step_out(self) -> TargetState:
        return await self._step("step_out")

    async def switch_goroutine(self, goid: int) -> TargetState:
        self.current_g = goid
        return self._state("switch")

    async def detach(self, kill: bool = False) -> None:
        self.calls.append("detach")
