"""The overhead guard: unit behaviour with made-up rates, and on a real channel
ping-pong where probes on scheduler paths would cost far over budget."""

from __future__ import annotations

from gotui.backends.ebpf.guard import GuardConfig, OverheadGuard
from gotui.backends.ebpf.trace import Tracer

from tests import gofixtures
from tests.ebpf.conftest import collect


def test_guard_samples_the_most_expensive_probe_and_restores_it() -> None:
    g = OverheadGuard(GuardConfig(budget=0.03, window_s=0.5), per_hit_ns=5000)
    where = {"hot": "runtime.park_m entry", "cold": "runtime.goexit0 entry"}
    # hot: 100k hits/s x 5 us = 50 % of a CPU; cold: 100/s = 0.05 %
    decisions = g.update(0.0, {"hot": 100_000, "cold": 100}, where)
    assert [(d.key, d.attach) for d in decisions] == [("hot", False)]
    ev = g.events.pop()
    assert ev.type == "guard" and ev.data["action"] == "sampling" and ev.data["probe"] == "hot"
    assert "over the 3.0% budget" in ev.message
    duty = ev.data["duty"]
    assert 0.01 <= duty <= 0.06
    # off until its window is due, then attached for one window
    assert g.update(1.0, {"cold": 100}, where) == []
    off_for = 0.5 * (1 - duty) / duty
    decisions = g.update(off_for + 0.1, {"cold": 100}, where)
    assert [(d.key, d.attach) for d in decisions] == [("hot", True)]
    assert g.state("hot") == "window"
    # the window shows the load is gone: keep it
    g.update(off_for + 0.7, {"hot": 200, "cold": 100}, where)
    assert g.state("hot") == "on"
    assert g.events.pop().data["action"] == "restored"


def test_guard_detach_mode_keeps_it_off() -> None:
    g = OverheadGuard(GuardConfig(budget=0.03, mode="detach"), per_hit_ns=5000)
    g.update(0.0, {"hot": 100_000}, {})
    assert g.state("hot") == "disabled" and g.events[-1].data["action"] == "detached"
    assert g.update(100.0, {}, {}) == []


def test_guard_leaves_cheap_probes_alone() -> None:
    g = OverheadGuard(GuardConfig(budget=0.03), per_hit_ns=5000)
    assert g.update(0.0, {"a": 1000, "b": 2000}, {}) == []  # 1.5 % of a CPU
    assert g.events == []


def _rate(target, n: int = 3) -> float:
    """Median of the next n RATE lines of the ping-pong fixture."""
    rates = sorted(float(target.proc.stdout.readline().split()[1]) for _ in range(n))
    return rates[n // 2]


def test_pingpong_deep_mode_trips_the_guard(need_bpf: None) -> None:
    exe = gofixtures.build("ebpf_pingpong", optimize=True)
    with gofixtures.run(exe, "-every", "250ms") as target:
        with Tracer(target.pid, deep=True) as tracer:
            events = collect(tracer, 5, until=lambda evs: {
                e.data["probe"] for e in evs if e.type == "guard"} >= {"blocked", "unblocked"})
            guard = [e for e in events if e.type == "guard"]
            assert {e.data["probe"] for e in guard} >= {"blocked", "unblocked"}
            assert all(e.data["action"] == "sampling" and e.data["est_cpu"] > 0.03
                       for e in guard)
            states = {s.key: s.state for s in tracer.stats()}
            assert states["blocked"] in ("off", "window")
            assert states["created"] == "on" and states["exited"] == "on"
            # backed off: the target runs at a rate close to untraced most of the time
            for _ in range(4):
                target.proc.stdout.readline()  # skip the lines from the probed period
            backed_off = _rate(target, 5)
        untraced = _rate(target, 5)
    assert backed_off > 0.5 * untraced, (backed_off, untraced)
