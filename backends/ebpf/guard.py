"""The overhead guard: keeps the estimated CPU cost of all probes under a budget.

cost of a probe = its hits per second (counted in the kernel) x the cost of one hit
(measured at start by `calibrate`, ~5 us on these VMs). When the attached probes
together go over the budget (default 3 % of one CPU), the most expensive ones are
detached; in "sample" mode each is then re-attached for short windows, a duty cycle
that keeps its average cost within what is left of the budget, and kept attached
again once a window shows it fits. Every change is reported as a `guard` Event.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gotui.backends.model import Event

DEFAULT_PER_HIT_NS = 5000.0


@dataclass
class GuardConfig:
    budget: float = 0.03  # fraction of one CPU
    mode: str = "sample"  # "sample": duty-cycle hot probes; "detach": keep them off
    window_s: float = 0.5  # length of one sampling window
    min_duty: float = 0.01


@dataclass
class _State:
    mode: str = "on"  # on | off | window | disabled
    until: float = 0.0
    duty: float = 1.0


@dataclass
class Decision:
    key: str
    attach: bool  # True: attach it now; False: detach it now


@dataclass
class OverheadGuard:
    config: GuardConfig = field(default_factory=GuardConfig)
    per_hit_ns: float = DEFAULT_PER_HIT_NS
    states: dict[str, _State] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)  # guard events not yet taken

    def cost(self, rate: float) -> float:
        """Fraction of one CPU that `rate` hits per second cost."""
        return rate * self.per_hit_ns / 1e9

    def state(self, key: str) -> str:
        return self.states.setdefault(key, _State()).mode

    def update(self, now: float, rates: dict[str, float], where: dict[str, str]) -> list[Decision]:
        """`rates`: hits/s of every probe that was attached since the last update.
        Returns the attach/detach decisions to carry out now."""
        budget = self.config.budget
        out: list[Decision] = []
        on = {k: self.cost(r) for k, r in rates.items() if self.state(k) == "on"}
        total = sum(on.values())
        # Windows that ended: keep the probe if it now fits, else back to sampling.
        for key, rate in rates.items():
            st = self.states[key]
            if st.mode != "window" or now < st.until:
                continue
            c = self.cost(rate)
            if total + c <= budget:
                st.mode, total = "on", total + c
                self._emit(key, where, "restored", rate, c,
                           f"probe {key!r} ({where.get(key, '')}) fits the budget again "
                           f"({rate:.0f} hits/s, ~{c:.1%} CPU): attached")
            else:
                st.mode, st.duty = "off", self._duty(budget - total, c)
                st.until = now + self.config.window_s * (1 - st.duty) / st.duty
                out.append(Decision(key, False))
        # Over budget: detach the most expensive probes until the rest fits.
        if total > budget:
            for key, c in sorted(on.items(), key=lambda kv: -kv[1]):
                if total <= budget:
                    break
                total -= c
                st = self.states[key]
                out.append(Decision(key, False))
                rate = rates[key]
                if self.config.mode == "sample":
                    st.mode, st.duty = "off", self._duty(budget - total, c)
                    st.until = now + self.config.window_s * (1 - st.duty) / st.duty
                    action = f"detached; sampling it {st.duty:.1%} of the time"
                else:
                    st.mode, st.duty = "disabled", 0.0
                    action = "detached"
                self._emit(key, where, "sampling" if st.mode == "off" else "detached", rate, c,
                           f"probe {key!r} ({where.get(key, '')}) costs ~{c:.1%} of a CPU at "
                           f"{rate:.0f} hits/s, over the {budget:.1%} budget: {action}",
                           duty=st.duty)
        # Sampling windows that are due.
        for key, st in self.states.items():
            if st.mode == "off" and now >= st.until:
                st.mode, st.until = "window", now + self.config.window_s
                out.append(Decision(key, True))
        return out

    def _duty(self, left: float, cost: float) -> float:
        if cost <= 0:
            return 1.0
        return min(0.5, max(self.config.min_duty, left / cost))

    def _emit(self, key: str, where: dict[str, str], action: str, rate: float, cost: float,
              message: str, duty: float = 1.0) -> None:
        self.events.append(Event(
            type="guard", t_ns=time.time_ns(), message=message,
            data={"probe": key, "where": where.get(key, ""), "action": action,
                  "hits_per_s": round(rate, 1), "est_cpu": round(cost, 4),
                  "budget": self.config.budget, "duty": round(duty, 4),
                  "per_hit_ns": round(self.per_hit_ns)}))


def calibrate(attach: Callable[[], None], detach: Callable[[], None],
              hits: Callable[[], int], calls: int = 20000) -> float | None:
    """Per-hit cost in ns of a counting uprobe on libc's labs() in this process.

    `attach` must put such a probe on labs for os.getpid(); `hits` reads its counter.
    Returns None when the probe did not fire (then the caller keeps a default)."""
    libc = ctypes.CDLL(None)
    labs = libc.labs
    labs.argtypes = [ctypes.c_long]
    labs.restype = ctypes.c_long

    def loop() -> int:
        t0 = time.perf_counter_ns()
        for i in range(calls):
            labs(i)
        return time.perf_counter_ns() - t0

    base = min(loop() for _ in range(3))
    before = hits()
    attach()
    try:
        probed = min(loop() for _ in range(3))
    finally:
        detach()
    if hits() - before < calls:
        return None
    return max(100.0, (probed - base) / calls)
