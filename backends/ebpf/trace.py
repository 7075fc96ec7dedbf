"""The eBPF backend's front: a Tracer owns the probe sets on one target process,
turns their records into model.Events, and runs the overhead guard.

Default probe set (lifecycle): `created` at the return address of each
`CALL runtime.newproc1` (RAX = the new g, goid already set), `exited` at
runtime.goexit0's entry (RAX = the exiting g). Deep mode adds `blocked` at
runtime.park_m (RAX = the parking g) and `unblocked` at runtime.ready (RAX = the
readied g). Conditional tracepoints are uprobes on a function's entry, one BPF
program each. No uretprobes anywhere: Go moves stacks.

    with Tracer(pid, deep=True) as t:           # attaches; detaches on exit
        t.add_tracepoint("main.hot", "i == 500")
        while True:
            for ev in t.poll(0.1): ...
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from gotui.backends.ebpf import program
from gotui.backends.ebpf.abi import INT_REGS, function_params
from gotui.backends.ebpf.cond import Capture, Compiled, compile_condition
from gotui.backends.ebpf.decode import Decoder, TracepointInfo
from gotui.backends.ebpf.guard import GuardConfig, OverheadGuard
from gotui.backends.ebpf.loader import check_environment
from gotui.backends.ebpf.probes import Probe, ProbeSet
from gotui.backends.ebpf.symbols import GoBinary
from gotui.backends.model import Event, GotuiError
from gotui.backends.procinfo import exe_path_for_reading

RATE_WINDOW = 1.0  # seconds of hit history behind a rate
NEWPROC1_CALLERS = ("runtime.newproc.func1", "runtime.debugCallWrap.func1", "runtime.newcoro",
                    "runtime.newcoro.func1")


@dataclass
class ProbeStats:
    key: str
    where: str
    state: str  # on | off (sampling, detached for now) | window (sampling) | disabled
    attached: bool
    hits: int
    hits_per_s: float
    est_cpu: float


class Tracer:
    def __init__(self, pid: int, *, deep: bool = False, lifecycle: bool = True,
                 budget: float = 0.03, guard_mode: str = "sample",
                 per_hit_ns: float | None = None, check_interval: float = 0.25) -> None:
        self.pid = pid
        self.deep = deep
        self.lifecycle = lifecycle
        self.guard = OverheadGuard(GuardConfig(budget=budget, mode=guard_mode))
        self._per_hit_ns = per_hit_ns
        self.check_interval = check_interval
        self.sets: list[ProbeSet] = []
        self._pending: list[tuple[int, bytes]] = []
        self._last_check = 0.0
        self._rates: dict[str, float] = {}
        self._tp_count = 0
        self.exe = ""
        self.binary: GoBinary | None = None
        self.decoder: Decoder | None = None
        self.target_exited = False
        self.started = False
        # called once the lifecycle program is compiled, before the per-hit cost is
        # measured (the eBPF helper compiles at a lower priority and restores it here)
        self.compiled: Callable[[], None] | None = None

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> Tracer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        check_environment()
        if not os.path.exists(f"/proc/{self.pid}"):
            raise GotuiError(f"no process {self.pid}")
        # uprobes attach by inode: /proc/<pid>/exe names the running image even when
        # the file was replaced on disk or is in another mount namespace
        self.exe = exe_path_for_reading(self.pid)
        if not os.path.exists(self.exe):
            raise GotuiError(f"no process {self.pid} (or its executable is gone)")
        self.binary = GoBinary.load(self.exe)
        if not self.binary.go_version and not self.binary.symbol("runtime.goexit0"):
            raise GotuiError(f"{self.exe} does not look like a Go program")
        self.decoder = Decoder(self.binary)
        self.started = True
        try:
            if self.lifecycle:
                self._start_lifecycle()
        except BaseException:
            self.close()
            raise

    def _start_lifecycle(self) -> None:
        b = self.binary
        assert b is not None
        offsets = b.offsets()
        created = b.call_sites("runtime.newproc1", NEWPROC1_CALLERS)
        if not created:
            raise GotuiError(f"{self.exe}: cannot find the call of runtime.newproc1 "
                             "(goroutine creation cannot be traced in this Go version)")
        probes = [Probe("created", program.PROBE_CREATED, "on_created", created,
                        "after CALL runtime.newproc1")]
        probes.append(Probe("exited", program.PROBE_EXITED, "on_exited",
                            [self._entry("runtime.goexit0")], "runtime.goexit0 entry"))
        if self.deep:
            probes.append(Probe("blocked", program.PROBE_BLOCKED, "on_blocked",
                                [self._entry("runtime.park_m")], "runtime.park_m entry",
                                optional=True))
            probes.append(Probe("unblocked", program.PROBE_UNBLOCKED, "on_unblocked",
                                [self._entry("runtime.ready")], "runtime.ready entry",
                                optional=True))
        text = program.lifecycle_source(offsets, deep=self.deep)
        pset = self._add_set(text, probes)
        if self.compiled is not None:
            self.compiled()
        if self._per_hit_ns is None:
            self._per_hit_ns = pset.calibrate(program.PROBE_CALIBRATE) or self.guard.per_hit_ns
        self.guard.per_hit_ns = self._per_hit_ns
        for p in probes:
            self._attach(pset, p)

    def _entry(self, name: str) -> int:
        assert self.binary is not None
        addr = self.binary.symbol(name)
        if addr is None:
            raise GotuiError(f"{self.exe}: no symbol {name} (needed for eBPF tracing)")
        return addr

    def _add_set(self, text: str, probes: list[Probe]) -> ProbeSet:
        set_id = len(self.sets)
        pset = ProbeSet(text, self.exe, self.pid, probes,
                        lambda raw: self._pending.append((set_id, raw)))
        self.sets.append(pset)
        return pset

    def _attach(self, pset: ProbeSet, probe: Probe) -> None:
        pset.attach(probe)
        probe.extra["attached_at"] = time.monotonic()
        probe.extra["history"] = deque([(probe.extra["attached_at"], pset.hits(probe))])

    def close(self) -> None:
        """Detach every probe and unload every BPF program (idempotent)."""
        sets, self.sets = self.sets, []
        for pset in sets:
            with contextlib.suppress(Exception):
                pset.close()

    # ------------------------------------------------------------ tracepoints
    def add_tracepoint(self, func: str, cond: str | None = None) -> str:
        """Trace calls of `func` whose arguments satisfy `cond` (see cond.py for the
        syntax). Returns the tracepoint's key ("tp1", ...). Errors are GotuiErrors
        (e.g. `cond: unknown name "usr" ... at column 5`)."""
        if not self.started:
            raise GotuiError("the tracer is not started")
        b = self.binary
        assert b is not None and self.decoder is not None
        addr = b.symbol(func)
        if addr is None:
            raise GotuiError(f"no function {func!r} in {self.exe}")
        compiled = self._compile(func, cond)
        self._tp_count += 1
        key = f"tp{self._tp_count}"
        probe = Probe(key, 0, "on_tp_0", [addr], f"{func} entry", optional=True,
                      extra={"cond": cond or ""})
        text = program.tracepoint_source(b.offsets(), [program.TracepointSource(0, compiled)])
        pset = self._add_set(text, [probe])
        set_id = len(self.sets) - 1
        self.decoder.tracepoints[(set_id, 0)] = TracepointInfo(
            key, func, b.location(addr), compiled.captures)
        self._attach(pset, probe)
        return key

    def _compile(self, func: str, cond: str | None) -> Compiled:
        b = self.binary
        assert b is not None
        die = b.function_die(func) if b.has_dwarf else None
        if die is None:
            if cond and cond.strip():
                why = "has no DWARF" if not b.has_dwarf else f"has no DWARF entry for {func}"
                raise GotuiError(
                    f"cond: {self.exe} {why}, so the names and types of its arguments are "
                    "unknown: conditions are not possible (trace it without a condition to "
                    "see the raw argument registers)")
            caps = [Capture(r, "uint", i, expr=f"ctx->{r}")
                    for i, r in enumerate(INT_REGS[: program.TP_NVALS])]
            return Compiled([], "1", caps)
        return compile_condition(cond, function_params(die), func,
                                 nvals=program.TP_NVALS, nstrs=program.TP_NSTRS)

    def remove_tracepoint(self, key: str) -> None:
        for pset in self.sets:
            for p in pset.probes:
                if p.key == key:
                    pset.close()
                    pset.probes = []
                    return
        raise GotuiError(f"no tracepoint {key}")

    # ------------------------------------------------------------ events
    def _probes(self) -> list[tuple[ProbeSet, Probe]]:
        return [(s, p) for s in self.sets for p in s.probes]

    def poll(self, timeout: float = 0.1) -> list[Event]:
        """Wait up to `timeout` s for records; return decoded events plus any `lost`
        and `guard` events. Runs the guard every `check_interval` seconds."""
        assert self.decoder is not None
        for i, pset in enumerate(self.sets):
            with contextlib.suppress(Exception):
                pset.poll(int(timeout * 1000) if i == 0 else 0)
        if not self.sets and timeout:
            time.sleep(timeout)
        pending, self._pending = self._pending, []
        out = [ev for sid, raw in pending if (ev := self.decoder.decode(sid, raw)) is not None]
        for pset in self.sets:
            with contextlib.suppress(Exception):
                n = pset.new_lost()
                if n:
                    out.append(Event(type="lost", t_ns=time.time_ns(),
                                     message=f"{n} events lost: the ring buffer was full",
                                     data={"count": n}))
        now = time.monotonic()
        if now - self._last_check >= self.check_interval:
            self._check(now)
        out += self.guard.events
        self.guard.events = []
        if not os.path.exists(f"/proc/{self.pid}"):
            self.target_exited = True
        return out

    def _check(self, now: float) -> None:
        rates: dict[str, float] = {}
        where: dict[str, str] = {}
        for pset, p in self._probes():
            where[p.key] = p.where
            if not p.attached:
                continue
            # Rate over about the last RATE_WINDOW s since it was attached (at least
            # one check interval, so a short burst does not read as a load).
            h = pset.hits(p)
            hist: deque[tuple[float, int]] = p.extra.setdefault("history", deque([(now, h)]))
            hist.append((now, h))
            while len(hist) > 2 and hist[1][0] <= now - RATE_WINDOW:
                hist.popleft()
            base_t, base_h = hist[0]
            rates[p.key] = (h - base_h) / max(now - base_t, self.check_interval)
        self._last_check = now
        self._rates.update(rates)
        for d in self.guard.update(now, rates, where):
            for pset, p in self._probes():
                if p.key == d.key:
                    if d.attach:
                        with contextlib.suppress(GotuiError):
                            self._attach(pset, p)
                    else:
                        pset.detach(p)

    def stats(self) -> list[ProbeStats]:
        out = []
        for pset, p in self._probes():
            rate = self._rates.get(p.key, 0.0)
            out.append(ProbeStats(p.key, p.where, self.guard.state(p.key), p.attached,
                                  pset.hits(p), rate, self.guard.cost(rate)))
        return out

    @property
    def per_hit_ns(self) -> float:
        return self.guard.per_hit_ns


async def trace_events(pid: int, *, duration: float | None, deep: bool, func: str | None,
                       cond: str | None, budget: float = 0.03) -> AsyncIterator[Event]:
    """Events of `gotui trace`: lifecycle (and deep) events, plus a conditional
    tracepoint on `func` when given. Ends after `duration` s, when the target exits,
    or when the consumer stops iterating; every probe is removed on every way out."""
    if cond and not func:
        raise GotuiError("--cond needs --func")
    tracer = Tracer(pid, deep=deep, budget=budget)
    await asyncio.to_thread(tracer.start)
    try:
        if func:
            await asyncio.to_thread(tracer.add_tracepoint, func, cond)
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            left = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
            for ev in await asyncio.to_thread(tracer.poll, left):
                yield ev
            if tracer.target_exited:
                break
    finally:
        tracer.close()


def tracer_status(tracer: Tracer) -> dict[str, Any]:
    """A JSON-able summary for a status line: per-hit cost and each probe's load."""
    return {"per_hit_ns": round(tracer.per_hit_ns),
            "budget": tracer.guard.config.budget,
            "probes": [vars(s) for s in tracer.stats()]}
