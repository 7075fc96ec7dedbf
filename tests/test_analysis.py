"""Wait-for analysis (backends/analysis.py): synthetic snapshots, then real programs read
by the live reader (a channel deadlock cycle plus a leak; the stuck `basic` fixture)."""

from __future__ import annotations

import time

import pytest
from gotui.backends.analysis import blocking_groups, findings, summarize
from gotui.backends.live.reader import LiveReader
from gotui.backends.model import BlockedOn, Channel, Goroutine, Location, Lock, Snapshot

from tests import gofixtures

SITE = Location("main.main", "/src/main.go", 40)
LEAK_SITE = Location("main.leakLoop", "/src/main.go", 60)


def g(goid: int, reason: str = "", chan: str = "", op: str = "recv",
      site: Location = SITE, status: str = "waiting") -> Goroutine:
    wait = BlockedOn(chan, op) if chan else None  # type: ignore[arg-type]
    return Goroutine(goid, status=status, wait_reason=reason, go_statement=site,
                     start=Location(f"main.f{goid}"), blocked_on=wait,
                     waiting_on=[wait] if wait else [])


def runtime_g(goid: int) -> Goroutine:
    return Goroutine(goid, wait_reason="GC sweep wait",
                     start=Location("runtime.bgsweep"), go_statement=Location("runtime.gcenable"))


def snap(goroutines: list[Goroutine], channels: list[Channel] | None = None,
         at: float = 100.0) -> Snapshot:
    return Snapshot(pid=42, taken_at=at, goroutines=goroutines, channels=channels or [])


def main_g(reason: str = "sleep") -> Goroutine:
    return Goroutine(1, wait_reason=reason, start=Location("runtime.main"))


def test_all_goroutines_blocked_is_a_deadlock_and_system_goroutines_do_not_count() -> None:
    s = snap([main_g("chan receive"), g(5, "chan send", "0xa", "send"), runtime_g(2)],
             [Channel("0xa", "int", senders=[5])])
    s.goroutines[0].blocked_on = BlockedOn("0xb", "recv")
    (f,) = findings(s)
    assert (f.kind, f.severity, f.goroutines, f.channels) == ("deadlock", "error", [1, 5],
                                                              ["0xa", "0xb"])
    assert "all goroutines are asleep" in f.message


@pytest.mark.parametrize("other", [
    g(6, "sleep"), g(6, "IO wait"), g(6, "", status="running"), g(6, "", status="runnable"),
    g(6, "", status="syscall"), g(6, "select", "0xtimer"),  # select on time.After
])
def test_a_goroutine_that_can_wake_up_means_no_deadlock(other: Goroutine) -> None:
    s = snap([main_g("chan receive"), g(5, "chan send", "0xa", "send"), other],
             [Channel("0xa", "int", senders=[5]), Channel("0xtimer", "time.Time")])
    assert findings(s) == []


def test_nil_channel_is_a_proof() -> None:
    (f,) = findings(snap([main_g(), g(7, "chan receive (nil chan)")]))
    assert (f.kind, f.severity, f.goroutines) == ("nil-chan", "error", [7])


def test_goroutines_the_runtime_marked_leaked_are_a_proof() -> None:
    """Status "leaked" (the Go 1.26+ leak detector's _Gleaked): one proof per site, and
    the growth rule's hint does not name them again."""
    leaked = [g(i, "chan receive", f"0x{i}", site=LEAK_SITE, status="leaked")
              for i in (10, 11, 12)]
    history = [snap([main_g(), *leaked[:k]], at=100.0 + k) for k in (1, 2)]
    found = findings(snap([main_g(), *leaked], at=103.0), history)
    (f,) = found
    assert (f.kind, f.severity, f.proof, f.goroutines) == ("leak", "error", True, [10, 11, 12])
    assert "main.leakLoop" in f.title and "Proof" in f.message


def test_one_sided_wait_needs_history_and_is_a_hint() -> None:
    def at(t: float) -> Snapshot:
        return snap([main_g(), g(5, "chan receive", "0xa")], [Channel("0xa", "int")], at=t)

    assert findings(at(100)) == []  # a single snapshot proves nothing
    (f,) = findings(at(102), [at(100), at(101)])
    assert (f.kind, f.severity, f.goroutines, f.channels) == ("orphan-wait", "hint", [5],
                                                              ["0xa"])
    assert "hint, not a proof" in f.message and "receiving from chan 0xa int" in f.title


def test_a_counterpart_seen_once_or_a_changing_waiter_is_no_orphan() -> None:
    quiet = snap([main_g(), g(5, "chan receive", "0xa")], [Channel("0xa", "int")])
    served = snap([main_g(), g(5, "chan receive", "0xa"), g(6, "chan send", "0xa", "send")],
                  [Channel("0xa", "int")])
    assert findings(quiet, [served]) == []
    other_waiter = snap([main_g(), g(8, "chan receive", "0xa")], [Channel("0xa", "int")])
    assert findings(quiet, [other_waiter]) == []  # a worker pool turning over
    closed = snap([main_g(), g(5, "chan receive", "0xa")], [Channel("0xa", "int", closed=True)])
    assert findings(closed, [closed]) == []


def test_a_wait_younger_than_the_history_was_served_meanwhile() -> None:
    def at(t: float, wait_s: float) -> Snapshot:
        waiting = g(5, "chan receive", "0xa")
        waiting.wait_ns = int(wait_s * 1e9)
        return snap([main_g(), waiting], [Channel("0xa", "int")], at=t)

    assert findings(at(110, 3), [at(100, 1)]) == []  # re-parked 3 s ago, window 10 s
    assert [f.kind for f in findings(at(110, 30), [at(100, 20)])] == ["orphan-wait"]


def test_a_pool_seen_at_work_is_no_orphan() -> None:
    def idle() -> Snapshot:
        return snap([main_g(), g(5, "chan receive", "0xa"), g(6, "chan receive", "0xa")],
                    [Channel("0xa", "int")])

    one_busy = snap([main_g(), g(5, "chan receive", "0xa"), g(6, "sleep")],
                    [Channel("0xa", "int")])
    assert findings(idle(), [one_busy, idle()]) == []
    (f,) = findings(idle(), [idle(), idle()])
    assert f.goroutines == [5, 6]


def test_select_waits_are_never_orphans() -> None:
    s = snap([main_g(), g(5, "select", "0xa", "select")], [Channel("0xa", "int")])
    assert findings(s, [s, s]) == []


def leak_snap(n: int, at: float) -> Snapshot:
    gs = [main_g(), *(g(100 + i, "chan receive", f"0x{i:x}", site=LEAK_SITE)
                      for i in range(n))]
    return snap(gs, [Channel(f"0x{i:x}", "string") for i in range(n)], at=at)


def test_growing_site_is_a_leak_and_hides_its_own_orphan_hints() -> None:
    history = [leak_snap(2, 1), leak_snap(4, 2)]
    (f,) = findings(leak_snap(7, 3), history)
    assert (f.kind, f.severity) == ("leak", "warning")
    assert f.goroutines == list(range(100, 107)) and len(f.channels) == 7
    assert "main.leakLoop main.go:60" in f.title and "2 → 4 → 7" in f.message


def test_summaries_stand_in_for_whole_snapshots_in_the_history() -> None:
    """The TUI keeps summarize()d snapshots, not 100k goroutines each."""
    leak = [leak_snap(2, 1), leak_snap(4, 2)]
    assert findings(leak_snap(7, 3), [summarize(s) for s in leak]) == findings(
        leak_snap(7, 3), leak)
    pool = [snap([main_g(), g(5, "chan receive", "0xa"), g(6, "sleep")],
                 [Channel("0xa", "int")]), snap([main_g(), g(5, "chan receive", "0xa"),
                                                  g(6, "chan receive", "0xa")],
                                                 [Channel("0xa", "int")])]
    assert findings(pool[1], [summarize(pool[0])]) == findings(pool[1], pool[:1]) == []
    mixed = [leak[0], summarize(leak[1])]
    assert [f.kind for f in findings(leak_snap(7, 3), mixed)] == ["leak"]


def test_a_count_that_falls_or_barely_grows_is_no_leak() -> None:
    assert [f.kind for f in findings(leak_snap(4, 4), [leak_snap(2, 1), leak_snap(4, 2),
                                                      leak_snap(4, 3)])] == ["leak"]
    dip = [leak_snap(2, 1), leak_snap(5, 2), leak_snap(4, 3)]
    assert [f.kind for f in findings(dip[-1], dip[:-1])] == ["orphan-wait"]
    slow = [leak_snap(2, 1), leak_snap(2, 2), leak_snap(3, 3)]
    assert [f.kind for f in findings(slow[-1], slow[:-1])] == ["orphan-wait"]
    short = findings(leak_snap(7, 3), [leak_snap(4, 2)])  # too short a history for a leak
    assert [f.kind for f in short] == ["orphan-wait"] and len(short[0].goroutines) == 4


def test_findings_are_ranked_by_severity_then_size() -> None:
    history = [leak_snap(1, 1), leak_snap(2, 2)]
    current = leak_snap(3, 3)
    current.goroutines.append(g(50, "chan send (nil chan)"))
    assert [f.kind for f in findings(current, history)] == ["nil-chan", "leak"]


def snapshots(pid: int, n: int = 3, every: float = 0.3) -> list[Snapshot]:
    reader = LiveReader(pid)
    try:
        out = []
        for _ in range(n):
            out.append(reader.snapshot())
            time.sleep(every)
        return out
    finally:
        reader.close()


@pytest.mark.integration
def test_real_channel_cycle_and_leak_are_named() -> None:
    exe = gofixtures.build("chans_deadlock")
    with gofixtures.run(exe) as t:
        snaps = snapshots(t.pid)
        assert gofixtures.tracer_pid(t.pid) == 0
    by_fn = {g.start.function: g for g in snaps[-1].goroutines}
    found = findings(snaps[-1], snaps[:-1])
    assert [f.kind for f in found] == ["leak", "orphan-wait", "orphan-wait"]
    leak = found[0]
    assert "main.leakLoop" in leak.title
    fetchers = {g.id for g in snaps[-1].goroutines if g.start.function == "main.fetch"}
    assert set(leak.goroutines) == fetchers and len(fetchers) > 3
    cycle = {(f.goroutines[0], f.channels[0]) for f in found[1:]}
    left, right = by_fn["main.left"], by_fn["main.right"]
    assert left.blocked_on is not None and right.blocked_on is not None
    assert cycle == {(left.id, left.blocked_on.chan), (right.id, right.blocked_on.chan)}


@pytest.mark.integration
def test_stuck_basic_fixture_gets_hints_only() -> None:
    """basic parks receivers and senders on purpose and nobody ever serves them: two
    one-sided hints are right; sleepers, the mutex waiter (holder unknown) and the
    ticker are not findings, and nothing claims a proof."""
    exe = gofixtures.build("basic")
    with gofixtures.run(exe) as t:
        snaps = snapshots(t.pid)
    found = findings(snaps[-1], snaps[:-1])
    fn = {g.id: g.start.function for g in snaps[-1].goroutines}
    assert sorted((f.kind, f.severity, sorted({fn[i] for i in f.goroutines}), len(f.goroutines))
                  for f in found) == [("orphan-wait", "hint", ["main.receiver"], 3),
                                      ("orphan-wait", "hint", ["main.sender"], 2)]


@pytest.mark.integration
def test_demo_leak_is_named_and_nothing_else() -> None:
    """The demo service (workers, mutex contenders, a cgo sleeper, HTTP self-load) is
    healthy but for its leak. A job rate below the workers' capacity keeps the buffer from
    filling: a producer parked on a full buffer in every sample while every consumer is
    busy would read as a stuck sender (a hint, said so) - see orphan_waits."""
    exe = gofixtures.build("demo")
    with gofixtures.run(exe, "-addr", "127.0.0.1:0", "-rate", "20",
                        "-leak-every", "150ms") as t:
        snaps = snapshots(t.pid, n=4, every=0.5)
        assert gofixtures.tracer_pid(t.pid) == 0
    found = findings(snaps[-1], snaps[:-1])
    assert [f.kind for f in found] == ["leak"]
    fn = {g.id: g.start.function for g in snaps[-1].goroutines}
    assert "main.leakLoop" in found[0].title
    assert {fn[i] for i in found[0].goroutines} == {"main.leakyFetch"}


# ------------------------------------------------------------ wait cycles, groups

def refs(goroutine: Goroutine, *addrs: str) -> Goroutine:
    goroutine.stack_refs = list(addrs)
    return goroutine


def locked(goid: int, lock: str, *holds: str) -> Goroutine:
    out = g(goid, "sync.Mutex.Lock")
    out.blocked_on_lock = lock
    out.stack_refs = [lock, *holds]
    return out


def test_channel_cycle_is_a_hint_with_both_goroutines_and_channels() -> None:
    a = refs(g(5, "chan send", "0xa", "send"), "0xa", "0xb")
    b = refs(g(6, "chan send", "0xb", "send"), "0xa", "0xb")
    found = findings(snap([main_g(), a, b]))
    (cyc,) = [f for f in found if f.kind == "deadlock"]
    assert cyc.goroutines == [5, 6] and cyc.channels == ["0xa", "0xb"]
    assert cyc.title.startswith("channel deadlock cycle") and "Hint, not a proof" in cyc.message


def test_no_cycle_when_a_live_goroutine_holds_the_channel() -> None:
    a = refs(g(5, "chan send", "0xa", "send"), "0xa", "0xb")
    b = refs(g(6, "chan send", "0xb", "send"), "0xa", "0xb")
    runner = refs(Goroutine(7, status="running", start=Location("main.r")), "0xb")
    assert not [f for f in findings(snap([main_g(), a, b, runner])) if f.kind == "deadlock"]
    sleeper = refs(g(7, "sleep"), "0xa")
    assert not [f for f in findings(snap([main_g(), a, b, sleeper])) if f.kind == "deadlock"]


def test_waiters_on_the_same_side_cannot_wake_each_other() -> None:
    # two selects receiving from the same channels (live_chans): not a cycle
    s1 = refs(g(5, "select", "0xa", "select"), "0xa")
    s2 = refs(g(6, "select", "0xa", "select"), "0xa")
    ch = Channel("0xa", "int", receivers=[5, 6])
    assert not [f for f in findings(snap([main_g(), s1, s2], [ch])) if f.kind == "deadlock"]
    # ...and waiters on one mutex that someone else (unseen) holds
    m1, m2 = locked(5, "0xm"), locked(6, "0xm")
    assert not [f for f in findings(snap([main_g(), m1, m2])) if f.kind == "deadlock"]


def test_mutex_cycle_names_the_locks() -> None:
    found = findings(snap([main_g(), locked(5, "0xm1", "0xm2"), locked(6, "0xm2", "0xm1")]))
    (cyc,) = [f for f in found if f.kind == "deadlock"]
    assert cyc.goroutines == [5, 6] and cyc.locks == ["0xm1", "0xm2"] and cyc.channels == []
    assert cyc.title.startswith("mutex deadlock cycle")


def test_timer_channels_are_never_in_a_cycle() -> None:
    a = refs(g(5, "chan receive", "0xt"), "0xt", "0xb")
    b = refs(g(6, "chan send", "0xb", "send"), "0xt", "0xb")
    timer = Channel("0xt", "time.Time", 0, 1)
    assert not [f for f in findings(snap([main_g(), a, b], [timer])) if f.kind == "deadlock"]


def test_blocking_groups_order_and_kinds() -> None:
    io = g(3, "IO wait")
    sleeper = g(4, "sleep")
    sc = Goroutine(5, status="syscall", start=Location("main.s"))
    cgo = Goroutine(6, status="syscall", start=Location("main.c"),
                    current=Location("runtime.cgocall"))
    cond = g(7, "sync.Cond.Wait")
    m = locked(8, "0xm")
    lock = Lock("0xm", "mutex", "0xm4", [8])
    groups = blocking_groups([main_g(), io, sleeper, sc, cgo, cond, m, runtime_g(9)], [lock])
    assert [(x.kind, x.key, x.goroutines) for x in groups] == [
        ("mutex", "0xm", [8]), ("cond", "cond", [7]), ("io", "io", [3]),
        ("sleep", "sleep", [1, 4]), ("syscall", "syscall", [5]), ("cgo", "cgo", [6])]
