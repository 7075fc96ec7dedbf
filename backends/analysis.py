"""Wait-for analysis: who waits on what, and which waits can never end.

Works on plain snapshots (no Textual, no backend). What the data can prove and what
it cannot, and so what each finding claims:

- deadlock (proof): every user goroutine is parked on a channel or a sync primitive and
  none can be woken by time, IO or a syscall - what the Go runtime calls "all goroutines
  are asleep". A wait on a `chan time.Time` counts as wakeable (time.After, timers).
- nil-chan (proof): a send or receive on a nil channel never completes.
- orphan-wait (hint): goroutines waited on one side of a channel in every snapshot of
  the history and nobody was ever seen on the other side. A running goroutine may still
  hold the channel, so this is a hint.
- leak (hint): a creation site (go statement) whose parked goroutines grew across the
  history and never fell.
Cycles through channels are not provable without knowing who holds which channel, and
a mutex's holder is not in the snapshot, so neither is reported on its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from backends.model import Finding, Goroutine, Snapshot

# Wait reasons that only another goroutine can end.
CHAN_REASONS = frozenset({"chan receive", "chan send", "select"})
NIL_CHAN_REASONS = frozenset({"chan receive (nil chan)", "chan send (nil chan)",
                              "select (no cases)"})
SYNC_REASONS = frozenset({"semacquire", "sync.Mutex.Lock", "sync.RWMutex.RLock",
                          "sync.RWMutex.Lock", "sync.Cond.Wait", "sync.WaitGroup.Wait"})
STUCK_REASONS = CHAN_REASONS | NIL_CHAN_REASONS | SYNC_REASONS
TIMER_ELEM = "time.Time"
LEAK_MIN_SNAPSHOTS = 3  # a leak needs this many snapshots...
LEAK_GROWTH = 2  # ...and this many more parked goroutines in the last than in the first
SEVERITY_RANK = {"error": 0, "warning": 1, "hint": 2}


def is_system(g: Goroutine) -> bool:
    """Runtime-internal goroutines (GC workers, finalizer...), as runtime.isSystemGoroutine."""
    fn = g.start.function
    return fn.startswith("runtime.") and fn != "runtime.main"


def user_goroutines(snap: Snapshot) -> list[Goroutine]:
    return [g for g in snap.goroutines if g.status != "dead" and not is_system(g)]


def _waits(g: Goroutine) -> list[tuple[str, str]]:
    waits = g.waiting_on or ([g.blocked_on] if g.blocked_on else [])
    return [(w.chan, w.op) for w in waits]


def is_stuck(g: Goroutine, timer_chans: set[str]) -> bool:
    """Parked in a way only another goroutine can end (not sleep, IO, syscall, timer)."""
    if g.status != "waiting" or g.wait_reason not in STUCK_REASONS:
        return False
    return not any(chan in timer_chans for chan, _ in _waits(g))


def _timer_chans(snap: Snapshot) -> set[str]:
    return {c.addr for c in snap.channels if c.elem_type == TIMER_ELEM}


def _ids(gs: Iterable[Goroutine]) -> list[int]:
    return sorted(g.id for g in gs)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def global_deadlock(snap: Snapshot) -> list[Finding]:
    users = user_goroutines(snap)
    timers = _timer_chans(snap)
    if not users or not all(is_stuck(g, timers) for g in users):
        return []
    chans = sorted({chan for g in users for chan, _ in _waits(g)})
    return [Finding(
        "deadlock", "error", f"deadlock: all {_plural(len(users), 'goroutine')} are blocked",
        "Every user goroutine waits on a channel or a lock and none can be woken by a timer, "
        "IO or a syscall (the Go runtime's \"all goroutines are asleep\"): this is a proof, "
        "unless a cgo callback or a signal starts a new goroutine.",
        _ids(users), chans)]


def nil_channel_waits(snap: Snapshot) -> list[Finding]:
    gs = [g for g in user_goroutines(snap)
          if g.status == "waiting" and g.wait_reason in NIL_CHAN_REASONS]
    if not gs:
        return []
    return [Finding(
        "nil-chan", "error", f"{_plural(len(gs), 'goroutine')} blocked forever on a nil channel",
        "A send or receive on a nil channel (or an empty select) never completes: "
        "these goroutines are leaked for good.", _ids(gs))]


def _one_sided(snap: Snapshot) -> dict[tuple[str, str], set[int]]:
    """(chan, op) -> waiting goroutine ids, for channels waited on from one side only.

    A select waits on several channels; its side per channel is not in the snapshot
    (op "select"), so it counts as a counterpart on both sides and is never an orphan."""
    sides: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for g in user_goroutines(snap):
        for chan, op in _waits(g):
            sides[chan][op].add(g.id)
    for c in snap.channels:
        sides[c.addr]["send"].update(c.senders)
        sides[c.addr]["recv"].update(c.receivers)
    out: dict[tuple[str, str], set[int]] = {}
    for chan, by_op in sides.items():
        if by_op.get("select"):
            continue
        ops = [op for op, ids in by_op.items() if ids]
        if len(ops) == 1:
            out[(chan, ops[0])] = set(by_op[ops[0]])
    return out


def _busy_sites(runs: list[Snapshot]) -> set[str]:
    """Creation sites with a goroutine seen not parked on a channel or lock."""
    busy = set()
    for s in runs:
        timers = _timer_chans(s)
        busy.update(g.go_statement.short() for g in user_goroutines(s)
                    if g.go_statement.function and not is_stuck(g, timers))
    return busy


def orphan_waits(snap: Snapshot, history: list[Snapshot]) -> list[Finding]:
    """Needs history: the same goroutines waiting on one side in every snapshot.

    Waits of one creation site on one side are one finding (a leak of many goroutines,
    each on its own channel, is one line). An idle worker pool looks the same in any
    one snapshot; a pool with a member seen at work in any snapshot is left out, and a
    single goroutine parked in every sample is still only a hint."""
    runs = [*history, snap]
    if len(runs) < 2:
        return []
    skip = {c.addr for c in snap.channels if c.closed} | _timer_chans(snap)
    elem = {c.addr: c.elem_type for c in snap.channels}
    by_id = {g.id: g for g in snap.goroutines}
    earlier = [_one_sided(s) for s in history]
    span = snap.taken_at - runs[0].taken_at
    busy = _busy_sites(runs)
    groups: dict[tuple[str, str], tuple[set[int], set[str]]] = {}
    for (chan, op), ids in sorted(_one_sided(snap).items()):
        stuck = set(ids)
        for sides in earlier:
            stuck &= sides.get((chan, op), set())
        if chan in skip or not stuck:
            continue
        for goid in stuck:
            g = by_id.get(goid)
            if g is not None and 0 < g.wait_ns < span * 1e9:
                continue  # its wait began inside the window: it was served meanwhile
            site = g.go_statement.short() if g is not None and g.go_statement.function else ""
            if site in busy:
                continue  # a pool whose members were seen at work: it is being served
            gs, chans = groups.setdefault((op, site or chan), (set(), set()))
            gs.add(goid)
            chans.add(chan)
    findings = []
    for (op, site), (gs, chans) in groups.items():
        other = "receiver" if op == "send" else "sender"
        verb = "sending on" if op == "send" else "receiving from"
        what = (f"chan {next(iter(chans))} {elem.get(next(iter(chans)), '')}".rstrip()
                if len(chans) == 1 else f"{len(chans)} channels")
        findings.append(Finding(
            "orphan-wait", "hint",
            f"{_plural(len(gs), 'goroutine')} stuck {verb} {what}"
            + ("" if site in chans else f" (go {site})"),
            f"Waited in all {len(runs)} snapshots ({span:.1f} s) and no {other} was ever "
            f"seen; a running goroutine may still {'receive' if op == 'send' else 'send'}, "
            "so this is a hint, not a proof.",
            sorted(gs), sorted(chans)))
    return findings


def _parked_by_site(snap: Snapshot) -> dict[str, list[Goroutine]]:
    timers = _timer_chans(snap)
    sites: dict[str, list[Goroutine]] = defaultdict(list)
    for g in user_goroutines(snap):
        if g.go_statement.function and is_stuck(g, timers):
            sites[g.go_statement.short()].append(g)
    return sites


def leaks(snap: Snapshot, history: list[Snapshot]) -> list[Finding]:
    """Sites whose parked count never fell across the history and grew by LEAK_GROWTH:
    refreshes faster than the leak see equal counts between steps."""
    runs = [*history, snap]
    if len(runs) < LEAK_MIN_SNAPSHOTS:
        return []
    counts = [{site: len(gs) for site, gs in _parked_by_site(s).items()} for s in runs[:-1]]
    findings = []
    for site, gs in _parked_by_site(snap).items():
        series = [c.get(site, 0) for c in counts] + [len(gs)]
        if (series[-1] - series[0] < LEAK_GROWTH
                or any(a > b for a, b in zip(series, series[1:], strict=False))):
            continue
        chans = sorted({chan for g in gs for chan, _ in _waits(g)})
        growth = series[-1] - series[0]
        findings.append(Finding(
            "leak", "warning",
            f"leak? {site}: {_plural(len(gs), 'parked goroutine')} (+{growth})",
            f"Goroutines created here and parked ({gs[0].wait_reason}) grew, never fell, "
            f"across the last {len(runs)} snapshots ({' → '.join(map(str, series))}); a hint, not a "
            "proof: they may still be woken.",
            _ids(gs), chans))
    findings.sort(key=lambda f: -len(f.goroutines))
    return findings


def findings(snap: Snapshot, history: list[Snapshot] | None = None) -> list[Finding]:
    """Every finding on `snap`, most severe first. `history`: earlier snapshots of the
    same process, oldest first (the leak and orphan rules need them)."""
    history = [s for s in history or [] if s.pid == snap.pid and s is not snap]
    leaked = leaks(snap, history)
    in_leak = {goid for f in leaked for goid in f.goroutines}
    orphans = [f for f in orphan_waits(snap, history) if not set(f.goroutines) <= in_leak]
    found = [*global_deadlock(snap), *nil_channel_waits(snap), *leaked, *orphans]
    order = {id(f): i for i, f in enumerate(found)}
    return sorted(found, key=lambda f: (SEVERITY_RANK.get(f.severity, 9),
                                        -len(f.goroutines), order[id(f)]))
