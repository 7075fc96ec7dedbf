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
- leak (proof): goroutines the runtime's own leak detector (Go 1.26+, the goroutineleak
  profile) moved to _Gleaked: the GC proved nothing reachable can wake them.
- leak (hint): a creation site (go statement) whose parked goroutines grew across the
  history and never fell.
- deadlock cycle (hint, or proof when every link was observed: backends/waitfor.py):
  a closed group of parked goroutines that can only wake each other. A lock's waker is
  its holder (Lock.holders, exact or inferred); without one, and for channels, "who
  could wake G" is approximated by Goroutine.stack_refs: the goroutines whose stack holds the
  channel's or lock's address (live reader: a scan of the stack words; Delve: the args
  and locals of every frame), other than those waiting on it on the same side.
  A group is reported when every candidate of every wait of every member is itself a
  parked member, e.g. A sends on x then receives on y while B sends on y then receives
  on x, or two goroutines taking two mutexes in opposite orders. A goroutine may still
  reach the channel or lock through a global or a heap object, so this is a hint; a
  mutex held by a goroutine that sleeps or runs is never part of one. Snapshots without
  stack_refs (gdb) get no cycle findings.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from gotui.backends.model import Channel, Finding, Goroutine, Lock, Snapshot, frame_kind

# Wait reasons that only another goroutine can end.
CHAN_REASONS = frozenset({"chan receive", "chan send", "select"})
NIL_CHAN_REASONS = frozenset({"chan receive (nil chan)", "chan send (nil chan)",
                              "select (no cases)"})
SYNC_REASONS = frozenset({"semacquire", "sync.Mutex.Lock", "sync.RWMutex.RLock",
                          "sync.RWMutex.Lock", "sync.Cond.Wait", "sync.WaitGroup.Wait",
                          "sync.WaitGroup.Wait (durable)"})
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


def waits_of(g: Goroutine) -> list[tuple[str, str]]:
    waits = g.waiting_on or ([g.blocked_on] if g.blocked_on else [])
    return [(w.chan, w.op) for w in waits]


def is_stuck(g: Goroutine, timer_chans: set[str]) -> bool:
    """Parked in a way only another goroutine can end (not sleep, IO, syscall, timer)."""
    if g.status == "leaked":
        return True
    if g.status != "waiting" or g.wait_reason not in STUCK_REASONS:
        return False
    return not any(chan in timer_chans for chan, _ in waits_of(g))


def timer_chans(snap: Snapshot) -> set[str]:
    return {c.addr for c in snap.channels if c.elem_type == TIMER_ELEM}


def _ids(gs: Iterable[Goroutine]) -> list[int]:
    return sorted(g.id for g in gs)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def global_deadlock(snap: Snapshot) -> list[Finding]:
    users = user_goroutines(snap)
    timers = timer_chans(snap)
    if not users or not all(is_stuck(g, timers) for g in users):
        return []
    chans = sorted({chan for g in users for chan, _ in waits_of(g)})
    return [Finding(
        "deadlock", "error", f"deadlock: all {_plural(len(users), 'goroutine')} are blocked",
        "Every user goroutine waits on a channel or a lock and none can be woken by a timer, "
        "IO or a syscall (the Go runtime's \"all goroutines are asleep\"): this is a proof, "
        "unless a cgo callback or a signal starts a new goroutine.",
        _ids(users), chans, sorted({g.blocked_on_lock for g in users if g.blocked_on_lock}),
        proof=True)]


def wait_cycles(snap: Snapshot) -> list[Finding]:
    """Closed groups of parked goroutines that only each other could wake (see the
    module doc and backends/waitfor.py: a proof only when every link was observed)."""
    from gotui.backends.waitfor import WaitGraph

    users = user_goroutines(snap)
    if not any(g.stack_refs for g in users) and not any(lk.holders for lk in snap.locks):
        return []
    return WaitGraph(snap).cycles()


def nil_channel_waits(snap: Snapshot) -> list[Finding]:
    gs = [g for g in user_goroutines(snap)
          if g.status == "waiting" and g.wait_reason in NIL_CHAN_REASONS]
    if not gs:
        return []
    return [Finding(
        "nil-chan", "error", f"{_plural(len(gs), 'goroutine')} blocked forever on a nil channel",
        "A send or receive on a nil channel (or an empty select) never completes: "
        "these goroutines are leaked for good.", _ids(gs), proof=True)]


def _one_sided(snap: Snapshot) -> dict[tuple[str, str], set[int]]:
    """(chan, op) -> waiting goroutine ids, for channels waited on from one side only.

    A select waits on several channels; its side per channel is not in the snapshot
    (op "select"), so it counts as a counterpart on both sides and is never an orphan."""
    sides: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for g in user_goroutines(snap):
        for chan, op in waits_of(g):
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


def _busy_sites(snap: Snapshot) -> set[str]:
    """Creation sites with a goroutine seen not parked on a channel or lock."""
    timers = timer_chans(snap)
    return {g.go_statement.short() for g in user_goroutines(snap)
            if g.go_statement.function and not is_stuck(g, timers)}


@dataclass(frozen=True)
class Summary:
    """What the history rules (leaks, orphan waits) need of an earlier snapshot: a few
    sets and counts instead of 100k goroutines (a UI keeping the last snapshots whole
    kept hundreds of MB alive at 100k goroutines)."""

    pid: int
    taken_at: float
    one_sided: dict[tuple[str, str], set[int]]
    busy: set[str]
    parked: dict[str, int]  # creation site -> goroutines parked there


def summarize(snap: Snapshot) -> Summary:
    return Summary(snap.pid, snap.taken_at, _one_sided(snap), _busy_sites(snap),
                   {site: len(gs) for site, gs in _parked_by_site(snap).items()})


History = Sequence[Snapshot | Summary]


def _summaries(history: History) -> list[Summary]:
    return [h if isinstance(h, Summary) else summarize(h) for h in history]


def orphan_waits(snap: Snapshot, history: History) -> list[Finding]:
    """Needs history: the same goroutines waiting on one side in every snapshot.

    Waits of one creation site on one side are one finding (a leak of many goroutines,
    each on its own channel, is one line). An idle worker pool looks the same in any
    one snapshot; a pool with a member seen at work in any snapshot is left out, and a
    single goroutine parked in every sample is still only a hint."""
    past = _summaries(history)
    runs = len(past) + 1
    if runs < 2:
        return []
    skip = {c.addr for c in snap.channels if c.closed} | timer_chans(snap)
    elem = {c.addr: c.elem_type for c in snap.channels}
    by_id = {g.id: g for g in snap.goroutines}
    earlier = [h.one_sided for h in past]
    span = snap.taken_at - past[0].taken_at
    busy = _busy_sites(snap).union(*(h.busy for h in past))
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
            f"Waited in all {runs} snapshots ({span:.1f} s) and no {other} was ever "
            f"seen; a running goroutine may still {'receive' if op == 'send' else 'send'}, "
            "so this is a hint, not a proof.",
            sorted(gs), sorted(chans)))
    return findings


def _parked_by_site(snap: Snapshot) -> dict[str, list[Goroutine]]:
    timers = timer_chans(snap)
    sites: dict[str, list[Goroutine]] = defaultdict(list)
    for g in user_goroutines(snap):
        if g.go_statement.function and is_stuck(g, timers):
            sites[g.go_statement.short()].append(g)
    return sites


def leaks(snap: Snapshot, history: History) -> list[Finding]:
    """Sites whose parked count never fell across the history and grew by LEAK_GROWTH:
    refreshes faster than the leak see equal counts between steps."""
    counts = [h.parked for h in _summaries(history)]
    runs = len(counts) + 1
    if runs < LEAK_MIN_SNAPSHOTS:
        return []
    findings = []
    for site, gs in _parked_by_site(snap).items():
        series = [c.get(site, 0) for c in counts] + [len(gs)]
        if (series[-1] - series[0] < LEAK_GROWTH
                or any(a > b for a, b in zip(series, series[1:], strict=False))):
            continue
        chans = sorted({chan for g in gs for chan, _ in waits_of(g)})
        growth = series[-1] - series[0]
        findings.append(Finding(
            "leak", "warning",
            f"leak? {site}: {_plural(len(gs), 'parked goroutine')} (+{growth})",
            f"Goroutines created here and parked ({gs[0].wait_reason}) grew, never fell, "
            f"across the last {runs} snapshots ({' → '.join(map(str, series))}); a hint, not a "
            "proof: they may still be woken.",
            _ids(gs), chans))
    findings.sort(key=lambda f: -len(f.goroutines))
    return findings


def proven_leaks(snap: Snapshot) -> list[Finding]:
    """One finding per creation site of the goroutines in status "leaked"."""
    sites: dict[str, list[Goroutine]] = defaultdict(list)
    for g in user_goroutines(snap):
        if g.status == "leaked":
            sites[g.go_statement.short() if g.go_statement.function else "?"].append(g)
    found = []
    for site, gs in sorted(sites.items(), key=lambda kv: -len(kv[1])):
        chans = sorted({chan for g in gs for chan, _ in waits_of(g)})
        reasons = ", ".join(sorted({g.wait_reason or "waiting" for g in gs}))
        found.append(Finding(
            "leak", "error", f"leaked: {_plural(len(gs), 'goroutine')} (go {site})",
            f"Proof: the Go runtime's leak detector found these goroutines ({reasons}) "
            "blocked on objects nothing running can reach, so nothing can ever wake them; "
            "they hold their stacks until the process exits.",
            _ids(gs), chans, sorted({g.blocked_on_lock for g in gs if g.blocked_on_lock}),
            proof=True))
    return found


def findings(snap: Snapshot, history: History | None = None) -> list[Finding]:
    """Every finding on `snap`, most severe first. `history`: earlier snapshots of the
    same process (or their summarize()), oldest first (the leak and orphan rules need
    them)."""
    history = _summaries([s for s in history or [] if s.pid == snap.pid and s is not snap])
    proven = proven_leaks(snap)
    known = {goid for f in proven for goid in f.goroutines}
    leaked = [f for f in leaks(snap, history) if not set(f.goroutines) <= known]
    whole = global_deadlock(snap)
    cycles = [] if whole else wait_cycles(snap)
    from gotui.backends.waitfor import WaitGraph

    graph = WaitGraph(snap)
    in_cycles = {goid for f in cycles for goid in f.goroutines}
    stuck = [] if whole else graph.stuck_holders(in_cycles)
    explained = {goid for f in [*proven, *leaked, *cycles] for goid in f.goroutines}
    orphans = [f for f in orphan_waits(snap, history) if not set(f.goroutines) <= explained]
    found = [*whole, *proven, *cycles, *stuck, *nil_channel_waits(snap), *leaked, *orphans]
    for f in found:
        if not f.chain and f.goroutines:
            f.chain = graph.chain(f.goroutines[0])
    order = {id(f): i for i, f in enumerate(found)}
    return sorted(found, key=lambda f: (SEVERITY_RANK.get(f.severity, 9),
                                        -len(f.goroutines), order[id(f)]))


# ------------------------------------------------------------ blocking groups

@dataclass
class BlockGroup:
    """Goroutines blocked the same way outside channels: on one lock (key = its address)
    or in IO wait / sleep / a syscall / a cgo call / sync.Cond.Wait (key = the kind)."""

    kind: str  # mutex | rwmutex | waitgroup | sema | cond | io | sleep | syscall | cgo
    key: str
    goroutines: list[int] = field(default_factory=list)
    longest_ns: int = 0


GROUP_ORDER = ("mutex", "rwmutex", "waitgroup", "sema", "cond", "io", "sleep", "syscall",
               "cgo")
_REASON_GROUP = {"IO wait": "io", "sleep": "sleep", "sync.Cond.Wait": "cond"}


def blocking_kind(g: Goroutine) -> str:
    """The non-channel group a goroutine belongs to ("" for none)."""
    if g.status == "syscall":
        stack_kinds = {f.kind for f in g.stack[:8]}
        if frame_kind(g.current.function) == "cgo" or stack_kinds & {"cgo", "c"}:
            return "cgo"
        return "syscall"
    if g.status == "waiting":
        return _REASON_GROUP.get(g.wait_reason, "")
    return ""


def blocking_groups(goroutines: list[Goroutine], locks: list[Lock],
                    kind_groups: list[BlockGroup] | None = None) -> list[BlockGroup]:
    """Locks with waiters (one group per lock), then Cond / IO / sleep / syscall / cgo
    groups of user goroutines; each sorted by its goroutines. `kind_groups`: those
    Cond / IO / ... groups when the caller keeps them itself (BlockingTracker), with
    `goroutines` then only the ones waiting on a channel or a lock."""
    users = [g for g in goroutines if g.status != "dead" and not is_system(g)]
    wait_ns = {g.id: g.wait_ns for g in goroutines}
    groups = [BlockGroup(lk.kind, lk.addr, sorted(lk.waiters)) for lk in locks]
    known = {lk.addr for lk in locks}
    for g in users:  # a lock seen only through a goroutine (merged or remote snapshots)
        if g.blocked_on_lock and g.blocked_on_lock not in known:
            known.add(g.blocked_on_lock)
            groups.append(BlockGroup("sema", g.blocked_on_lock,
                                     [h.id for h in users
                                      if h.blocked_on_lock == g.blocked_on_lock]))
    if kind_groups is None:
        by_kind: dict[str, list[int]] = defaultdict(list)
        for g in users:
            kind = kind_of_blocked(g)
            if kind:
                by_kind[kind].append(g.id)
        groups += [BlockGroup(k, k, sorted(ids)) for k, ids in by_kind.items()]
    for grp in groups:
        grp.longest_ns = max((wait_ns.get(i, 0) for i in grp.goroutines), default=0)
    groups += kind_groups or []
    rank = {k: i for i, k in enumerate(GROUP_ORDER)}
    return sorted(groups, key=lambda x: (rank.get(x.kind, 99), -len(x.goroutines), x.key))


def kind_of_blocked(g: Goroutine) -> str:
    """The Cond / IO / sleep / syscall / cgo group of a user goroutine ("" for none; a
    goroutine that waits on a known lock is listed under its lock, a Cond's too)."""
    return "" if g.blocked_on_lock else blocking_kind(g)


# ------------------------------------------------------------ kept per changed goroutine
#
# A UI refreshing a snapshot of 100k goroutines every second cannot afford walking all
# of them for each rule: these keep what the rules need up to date from what changed
# between two snapshots (added goroutines, (before, now) pairs, gone ones), so that the
# rules run over the few goroutines that matter. Each is checked against the batch
# function it stands for (tests/test_analysis.py).

Changed = Iterable[tuple[Goroutine, Goroutine]]
Lookup = Callable[[int], Goroutine | None]
PATCH_LIMIT = 2048  # more changes than this to one sorted list: sort it again


def _is_user(g: Goroutine) -> bool:
    return g.status != "dead" and not is_system(g)


def _kind_of(g: Goroutine) -> str:
    return kind_of_blocked(g) if _is_user(g) else ""


def _site(g: Goroutine) -> str:
    return g.go_statement.short() if g.go_statement.function else ""


def waits_on_something(g: Goroutine) -> bool:
    """Waits on a channel or a lock, or parks where only another goroutine wakes it."""
    return bool(g.waiting_on or g.blocked_on or g.blocked_on_lock) or (
        g.status == "waiting" and g.wait_reason in STUCK_REASONS)


def takes_part(g: Goroutine) -> bool:
    """Waits on something, or holds addresses others wait on (stack_refs): the
    goroutines the findings look at one by one, and every goroutine of a wait-for chain
    but its last step (backends/waitfor.py)."""
    return waits_on_something(g) or bool(g.stack_refs)


def _listed(ids: Iterable[int], lookup: Lookup) -> list[Goroutine]:
    return [g for g in map(lookup, sorted(set(ids))) if g is not None]


def _queued(channels: Iterable[Channel], locks: Iterable[Lock]) -> set[int]:
    """Goroutines named by channel queues, and by locks as waiters or holders."""
    ids: set[int] = set()
    for c in channels:
        ids.update(c.senders, c.receivers)
    for lk in locks:
        ids.update(lk.waiters, lk.holders)
    return ids


class BlockingTracker:
    """The goroutines the Blocking pane needs: those waiting on a channel or a lock
    (`waiting`, usually few) and the members of each Cond / IO / sleep / syscall / cgo
    group (maybe all of them), kept per changed goroutine.

    groups(lookup, channels, locks) == blocking_groups(all goroutines, locks)."""

    def __init__(self) -> None:
        self.waiting: set[int] = set()
        self.kinds: dict[str, list[int]] = {}  # kind -> member goids, sorted
        self._longest: dict[str, int] = {}  # kind -> member that waits longest
        self._challengers: dict[str, set[int]] = defaultdict(set)  # newcomers since

    def update(self, added: Iterable[Goroutine], changed: Changed,
               gone: Iterable[Goroutine]) -> None:
        adds: dict[str, list[Goroutine]] = defaultdict(list)
        drops: dict[str, list[int]] = defaultdict(list)
        waiting = self.waiting
        # (where a goroutine was is known from the object it was: nothing kept per id)
        for g in gone:
            waiting.discard(g.id)
            kind = _kind_of(g)
            if kind:
                drops[kind].append(g.id)
        for old, g in changed:
            kind = _kind_of(old)
            if kind:
                drops[kind].append(old.id)
            self._add(g, adds)
        for g in added:
            self._add(g, adds)
        for kind in adds.keys() | drops.keys():
            self._apply(kind, adds.get(kind, []), drops.get(kind, []))

    def _add(self, g: Goroutine, adds: dict[str, list[Goroutine]]) -> None:
        user = _is_user(g)
        if user and waits_on_something(g):
            self.waiting.add(g.id)
        else:
            self.waiting.discard(g.id)
        kind = kind_of_blocked(g) if user else ""
        if kind:
            adds[kind].append(g)

    def _apply(self, kind: str, adds: list[Goroutine], drops: list[int]) -> None:
        members = self.kinds.get(kind, [])
        if len(adds) + len(drops) > PATCH_LIMIT:
            keep = set(members).difference(drops)
            keep.update(g.id for g in adds)
            members = sorted(keep)
        else:
            members = list(members)
            for goid in drops:
                i = bisect_left(members, goid)
                if i < len(members) and members[i] == goid:
                    del members[i]
            for g in adds:
                insort(members, g.id)
        self.kinds[kind] = members
        if self._longest.get(kind) in drops:
            del self._longest[kind]  # found again when asked
        if kind in self._longest:
            # the others waited as long as before plus the same time: only a newcomer
            # (one that had waited long before it showed up) can wait longer
            self._challengers[kind].update(g.id for g in adds)

    def _longest_wait(self, kind: str, lookup: Lookup) -> int:
        def wait(goid: int) -> int:
            g = lookup(goid)
            return g.wait_ns if g is not None else -1

        holder = self._longest.get(kind)
        challengers = self._challengers.pop(kind, set())
        if holder is None or lookup(holder) is None:
            holder = max(self.kinds[kind], key=wait)
        else:
            holder = max((holder, *challengers), key=wait)
        self._longest[kind] = holder
        return max(wait(holder), 0)

    def groups(self, lookup: Lookup, channels: list[Channel], locks: list[Lock]
               ) -> list[BlockGroup]:
        kind_groups = [BlockGroup(kind, kind, list(ids), self._longest_wait(kind, lookup))
                       for kind, ids in self.kinds.items() if ids]
        return blocking_groups(self.goroutines(lookup, channels, locks), locks, kind_groups)

    def goroutines(self, lookup: Lookup, channels: list[Channel], locks: list[Lock]
                   ) -> list[Goroutine]:
        """The goroutines waiting on a channel or a lock, and those the channels' queues
        and the locks name, by id."""
        return _listed(self.waiting | _queued(channels, locks), lookup)


class FindingsInput:
    """The goroutines findings() looks at, kept per changed goroutine: every user
    goroutine that waits on a channel or a lock, parks where only another goroutine
    wakes it, or holds addresses others wait on (stack_refs); of the others, one per
    creation site (which sites have a goroutine at work; that not every goroutine is
    stuck).

    findings(pruned snapshot) == findings(whole snapshot), for snapshots ordered by id."""

    def __init__(self) -> None:
        self.relevant: set[int] = set()
        self.rest: dict[str, set[int]] = defaultdict(set)  # site -> other user goroutines

    def update(self, added: Iterable[Goroutine], changed: Changed,
               gone: Iterable[Goroutine]) -> None:
        for g in gone:
            self._drop(g)
        for old, g in changed:
            self._drop(old)
            self._add(g)
        for g in added:
            self._add(g)

    def _drop(self, g: Goroutine) -> None:
        """(Where it was is known from the object it was: nothing kept per id.)"""
        self.relevant.discard(g.id)
        members = self.rest.get(_site(g))
        if members is not None:
            members.discard(g.id)
            if not members:
                del self.rest[_site(g)]

    def _add(self, g: Goroutine) -> None:
        if not _is_user(g):
            return
        if takes_part(g):
            self.relevant.add(g.id)
            return
        self.rest[_site(g)].add(g.id)

    def snapshot(self, whole: Snapshot, lookup: Lookup) -> Snapshot:
        """`whole` with only the goroutines the rules need (ordered by id)."""
        ids = self.relevant | _queued(whole.channels, whole.locks)
        ids.update(min(members) for members in self.rest.values())
        return Snapshot(pid=whole.pid, exe=whole.exe, go_version=whole.go_version,
                        source=whole.source, taken_at=whole.taken_at,
                        target_paused_ns=whole.target_paused_ns,
                        goroutines=_listed(ids, lookup), channels=whole.channels,
                        locks=whole.locks)
