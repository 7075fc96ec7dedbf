"""Exact sync.Mutex holders by eBPF (`gotui attach --deep`, `gotui check --exact`): every place a Mutex changes hands is probed
(backends/gobinary/locksites.py mutex_sites: the CAS of each inlined or called
Lock/TryLock, the XADD of each Unlock, lockSlow's entry and RETs) and a BPF map keeps
Mutex address -> (goroutine, when it took it). An RWMutex's writer holds its `w`
Mutex, at the RWMutex's own address.

What it can claim: a holder is `exact` when the map has the Mutex, the Mutex's state
word says locked, and tracking ran without a gap since it was taken. It never sees
locks taken before it started (those stay inferred); if any site cannot be probed,
tracking does not start (a missed Unlock would leave a wrong holder); if the guard
finds the probes over budget, they are all detached and the map cleared, so nothing
stale survives a gap.

Cost: one uprobe hit (~5 us here) per Lock and per Unlock of any Mutex in the target,
plus two per contended Lock (lockSlow). The guard (its own thread, every
GUARD_EVERY_S) detaches everything above `budget` (default 3 % of one CPU) and tries
again after RETRY_S. Hence opt-in: a hot Mutex pays the trap until the guard acts.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gotui.backends.ebpf import program
from gotui.backends.ebpf.guard import DEFAULT_PER_HIT_NS
from gotui.backends.ebpf.loader import check_environment
from gotui.backends.ebpf.probes import Probe, ProbeSet
from gotui.backends.ebpf.symbols import G_FIELDS, M_FIELDS, SUDOG_FIELDS, Offsets
from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.locksites import MutexSites, mutex_sites
from gotui.backends.live.memory import load_bias, read_maps
from gotui.backends.model import GotuiError
from gotui.backends.procinfo import exe_path_for_reading

ACQ, REL, SLOW_IN, SLOW_OUT, CALIBRATE = range(5)
RETRY_S = 10.0
GUARD_EVERY_S = 0.1  # the guard's own thread checks the hit rate this often
RATE_WINDOW_S = 1.0  # ...over the last second (start-up bursts are not a hot Mutex)
BURST = 10  # ...and detaches at once when the last check's rate is this far over
MUTEX_LOCKED = 1


@dataclass(frozen=True)
class Held:
    goid: int
    t_ns: int  # CLOCK_MONOTONIC when it was taken


REG_INDEX = {r: i for i, r in enumerate(("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
                                         "rsp", *(f"r{i}" for i in range(8, 16))))}
REG_NONE = 255


def program_text(offsets: object) -> str:
    parts = program._defines(offsets, 5, False)  # type: ignore[arg-type]
    parts += [program.bpf_file("common.h"), program.bpf_file("holders.c")]
    return "\n".join(parts)


def _probes(sites: MutexSites) -> list[Probe]:
    return [
        Probe("holders.lock", ACQ, "on_site", sorted({s.at for s in sites.acquire}),
              f"after the CAS of sync.Mutex Lock/TryLock ({len(sites.acquire)} sites)"),
        Probe("holders.unlock", REL, "on_site", sorted({s.at for s in sites.release}),
              f"before the XADD of sync.Mutex Unlock ({len(sites.release)} sites)"),
        Probe("holders.slow_in", SLOW_IN, "on_slow_in", sites.slow_entry,
              "sync.Mutex lockSlow entry"),
        Probe("holders.slow_out", SLOW_OUT, "on_slow_out", sites.slow_ret,
              "sync.Mutex lockSlow RETs"),
    ]


def _fill_sites(table: object, sites: MutexSites, bias: int) -> None:
    for kind, group in ((ACQ, sites.acquire), (REL, sites.release)):
        for s in group:
            key = table.Key(s.at + bias)  # type: ignore[attr-defined]
            v = table.Leaf()  # type: ignore[attr-defined]
            v.kind = kind
            v.reg = REG_INDEX[s.reg] if s.reg else REG_NONE
            v.disp = s.disp + bias if s.static else s.disp
            v.deref = int(s.deref)
            v.add = s.add
            table[key] = v  # type: ignore[index]


def _offsets(facts: BinaryFacts) -> Offsets:
    """The g/m/sudog offsets the BPF code needs, from this tracker's own BinaryFacts
    (not the shared, cached GoBinary: the lifecycle feed's thread reads its file at the
    same time, and its seeks and reads interleave)."""
    lay = facts.layouts
    g, m, sg = (lay[n].offsets for n in ("runtime.g", "runtime.m", "runtime.sudog"))
    return Offsets(g={k: g[k] for k in G_FIELDS if k in g},
                   m={k: m[k] for k in M_FIELDS if k in m},
                   sudog={k: sg[k] for k in SUDOG_FIELDS if k in sg},
                   source=lay["runtime.g"].source)


class HolderTracker:
    """Exact Mutex holders of one process. `start()` compiles and attaches (seconds:
    call it off the event loop); `lookup()` and `check()` from one thread at a time."""

    def __init__(self, pid: int, *, budget: float = 0.03) -> None:
        self.pid = pid
        self.budget = budget
        self.per_hit_ns = DEFAULT_PER_HIT_NS
        self.sites: MutexSites | None = None
        self.pset: ProbeSet | None = None
        self.probes: list[Probe] = []
        self.attached = False
        self.since_ns = 0  # monotonic ns since when every hand-over was seen
        self.status = "not started"  # one line for the UI
        self._lock = threading.Lock()
        self._history: deque[tuple[float, int]] = deque()
        self._off_until = 0.0
        self._stop = threading.Event()
        self._guard: threading.Thread | None = None

    def start(self) -> None:
        check_environment()
        exe = exe_path_for_reading(self.pid)
        facts = BinaryFacts.load(exe)
        sites = mutex_sites(facts)
        if sites.unusable:
            raise GotuiError(f"exact lock holders off: {len(sites.unusable)} Mutex sites "
                             f"cannot be probed safely ({sites.unusable[0]})")
        if not sites.slow_entry or not (sites.acquire or sites.release):
            raise GotuiError("exact lock holders off: no sync.Mutex code found")
        self.sites = sites
        offsets = _offsets(facts)
        self.probes = _probes(sites)
        bias = load_bias(self.pid, exe, read_maps(self.pid), facts.load_base)
        with self._lock:
            self.pset = ProbeSet(program_text(offsets), exe, self.pid, self.probes,
                                 lambda _raw: None)
            _fill_sites(self.pset.bpf[b"sites"], sites, bias)
            cal = self.pset.calibrate(CALIBRATE)
            self.per_hit_ns = cal or self.per_hit_ns
            self._attach()
        self._guard = threading.Thread(target=self._guard_loop, name="gotui-holders-guard",
                                       daemon=True)
        self._guard.start()

    def _guard_loop(self) -> None:
        """A hot Mutex costs a uprobe hit per Lock and Unlock: check often, not only
        when a snapshot is taken."""
        while not self._stop.wait(GUARD_EVERY_S):
            with contextlib.suppress(Exception):
                self.check()

    def _attach(self) -> None:
        assert self.pset is not None
        self.pset.bpf[b"holders"].clear()
        self.pset.bpf[b"pending"].clear()
        try:
            for p in self.probes:
                self.pset.attach(p)
        except GotuiError:
            self._detach()
            raise
        self.attached = True
        self.since_ns = time.monotonic_ns()
        self._history = deque([(time.monotonic(), self._total_hits())])
        n = sum(len(p.addrs) for p in self.probes)
        self.status = f"exact lock holders: {n} probes on sync.Mutex"

    def _detach(self) -> None:
        assert self.pset is not None
        for p in self.probes:
            with contextlib.suppress(Exception):
                self.pset.detach(p)
        self.attached = False
        with contextlib.suppress(Exception):
            self.pset.bpf[b"holders"].clear()  # a gap: nothing in it can be trusted
            self.pset.bpf[b"pending"].clear()

    def _total_hits(self) -> int:
        assert self.pset is not None
        return sum(int(self.pset.bpf[b"hits"][ctypes.c_int(i)].value) for i in range(4))

    def check(self) -> None:
        """The guard: over budget, detach everything (and forget the map); retry later."""
        with self._lock:
            if self.pset is None:
                return
            now = time.monotonic()
            if not self.attached:
                if now >= self._off_until:
                    with contextlib.suppress(GotuiError):
                        self._attach()
                return
            hits = self._total_hits()
            self._history.append((now, hits))
            while len(self._history) > 2 and now - self._history[0][0] > RATE_WINDOW_S:
                self._history.popleft()
            t0, h0 = self._history[0]
            t1, h1 = self._history[-2] if len(self._history) > 1 else self._history[0]
            rate = (hits - h0) / max(now - t0, RATE_WINDOW_S)  # over >= 1 s
            burst = (hits - h1) / (now - t1) if now > t1 else 0.0  # since the last check
            cost = rate * self.per_hit_ns / 1e9
            if cost > self.budget or burst * self.per_hit_ns / 1e9 > BURST * self.budget:
                self._detach()
                self._off_until = now + RETRY_S
                self.status = (f"exact lock holders paused: {max(rate, burst):.0f} Lock/Unlock "
                               f"per s cost ~{max(cost, burst * self.per_hit_ns / 1e9):.1%} "
                               f"of a CPU, over the {self.budget:.0%} budget "
                               f"(retry in {RETRY_S:.0f} s)")

    def overflowed(self) -> bool:
        assert self.pset is not None
        return int(self.pset.bpf[b"overflow"][ctypes.c_int(0)].value) > 0

    def lookup(self, addrs: list[int]) -> dict[int, Held]:
        """Mutex address -> its holder, for those the map has (none while detached)."""
        with self._lock:
            if self.pset is None or not self.attached or self.overflowed():
                return {}
            table = self.pset.bpf[b"holders"]
            out = {}
            for a in addrs:
                try:
                    v = table[ctypes.c_uint64(a)]
                except KeyError:
                    continue
                out[a] = Held(int(v.goid), int(v.t_ns))
            return out

    def close(self) -> None:
        self._stop.set()
        if self._guard is not None and self._guard is not threading.current_thread():
            self._guard.join(2)
        with self._lock:
            if self.pset is not None:
                self.pset.close()
                self.pset = None
            self.attached = False
            self.status = "closed"


def start_in_background(pid: int, ready: Callable[[HolderTracker], None],
                        failed: Callable[[str], None]) -> threading.Thread:
    """Compile and attach off the caller's thread (BCC takes seconds); `ready` gets
    the tracker once it watches, `failed` the one-line reason when it cannot."""

    def run() -> None:
        tracker = HolderTracker(pid)
        try:
            tracker.start()
        except Exception as exc:  # noqa: BLE001 - reported, the session goes on
            tracker.close()
            failed(str(exc) if isinstance(exc, GotuiError) else
                   f"exact lock holders off: {type(exc).__name__}: {exc}")
            return
        ready(tracker)

    thread = threading.Thread(target=run, name="gotui-holders-start", daemon=True)
    thread.start()
    return thread
