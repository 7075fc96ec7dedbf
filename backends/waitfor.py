"""The wait-for graph: goroutine -> what it waits on (lock, channel, WaitGroup, Cond)
-> who could end that wait -> goroutine ..., the chain of one goroutine in words,
and the findings built on it.

Links and their basis:
- a lock (Mutex / RWMutex) -> its holders (Lock.holders): `exact` when gotui saw the
  holder take it (eBPF) and nobody release it since, `inferred` from the holder's
  stack (backends/live/holders.py); with no holder known, the goroutines whose stack
  holds the lock's address (`inferred`, weaker), else `unknown`.
- a channel -> the goroutines whose stack holds the channel (Goroutine.stack_refs),
  other than those waiting on it on the same side: who could send or receive. Always
  `inferred`: a goroutine may reach a channel through a global or the heap.
- a WaitGroup / Cond -> the goroutines whose stack holds it: who could call Done /
  Signal (`inferred`).

A cycle whose links are all `exact` is a deadlock proof (under the rule Go's docs
leave open: only a lock's holder unlocks it; an unlock by another goroutine since
gotui started watching is seen and would have removed the holder). Any inferred link
makes it a hint, and the finding names it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial

from gotui.backends.analysis import (
    is_stuck,
    takes_part,
    timer_chans,
    user_goroutines,
    waits_of,
)
from gotui.backends.formats import human_duration
from gotui.backends.model import (
    ChainStep,
    Finding,
    Goroutine,
    Holding,
    Location,
    Snapshot,
    WaitTarget,
)

MAX_STEPS = 8
LOCK_KINDS = ("mutex", "rwmutex", "sema")
_OP_OF_REASON = {"sync.RWMutex.RLock": "rlock", "sync.WaitGroup.Wait": "wait",
                 "sync.WaitGroup.Wait (durable)": "wait", "sync.Cond.Wait": "wait"}


@dataclass
class Link:
    target: WaitTarget
    to: list[int]
    basis: str  # exact | inferred | unknown
    holding: Holding | None = None  # the first holder's details (lock links)


@dataclass
class WaitGraph:
    snap: Snapshot
    by_id: dict[int, Goroutine] = field(init=False)
    _links: dict[int, list[Link]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        snap = self.snap
        self.users = user_goroutines(snap)
        self.by_id = {g.id: g for g in snap.goroutines}
        self.locks = {lk.addr: lk for lk in snap.locks}
        self.wakeable = timer_chans(snap) | {c.addr for c in snap.channels if c.closed}
        self.refs: dict[str, set[int]] = defaultdict(set)
        for g in self.users:
            for addr in g.stack_refs:
                self.refs[addr].add(g.id)
        side: dict[tuple[str, int], str] = {}
        for c in snap.channels:
            side.update({(c.addr, i): "send" for i in c.senders})
            side.update({(c.addr, i): "recv" for i in c.receivers})
        self.side = side
        self.same_side: dict[tuple[str, str], set[int]] = defaultdict(set)
        for g in self.users:
            for addr, op in waits_of(g):
                op = side.get((addr, g.id), op)
                self.same_side[(addr, op)].add(g.id)
                if op == "select":  # unknown side: counts as both
                    self.same_side[(addr, "send")].add(g.id)
                    self.same_side[(addr, "recv")].add(g.id)
        self.lock_waiters: dict[str, set[int]] = defaultdict(set)
        for g in self.users:
            if g.blocked_on_lock:
                self.lock_waiters[g.blocked_on_lock].add(g.id)
        for lk in snap.locks:
            self.lock_waiters[lk.addr].update(lk.waiters)
        for key in [k for k in self.same_side if k[1] in ("send", "recv")]:
            self.same_side[key] |= self.same_side.get((key[0], "select"), set())

    # ------------------------------------------------------------ links
    def links(self, g: Goroutine) -> list[Link]:
        got = self._links.get(g.id)
        if got is None:
            got = self._links[g.id] = self._make_links(g)
        return got

    def _make_links(self, g: Goroutine) -> list[Link]:
        out = []
        for addr, op in waits_of(g):
            op = self.side.get((addr, g.id), op)
            to = sorted(self.refs.get(addr, set()) - self.same_side[(addr, op)] - {g.id})
            out.append(Link(WaitTarget("chan", addr, op), to, "inferred" if to else "unknown"))
        if g.blocked_on_lock:
            lock = self.locks.get(g.blocked_on_lock)
            kind = lock.kind if lock is not None else "sema"
            op = _OP_OF_REASON.get(g.wait_reason, "lock")
            target = WaitTarget(kind, g.blocked_on_lock, op)
            if lock is not None and lock.holders and kind in LOCK_KINDS:
                holders = [h for h in lock.holders if h != g.id]
                first = next((h for h in lock.holding if h.goroutine in holders), None)
                out.append(Link(target, holders, lock.holders_basis, first))
            else:
                waiters = self.lock_waiters[g.blocked_on_lock]
                to = sorted(self.refs.get(g.blocked_on_lock, set()) - waiters - {g.id})
                out.append(Link(target, to, "inferred" if to else "unknown"))
        return out

    def stuck(self, g: Goroutine) -> bool:
        return is_stuck(g, self.wakeable) and not any(
            a in self.wakeable for a, _ in waits_of(g))

    # ------------------------------------------------------------ chains
    def chain(self, goid: int, lookup: Callable[[int], Goroutine | None] | None = None
              ) -> list[ChainStep]:
        """The wait-for chain from goroutine `goid`: each step says what it waits on
        and who could end it; it follows a link while exactly one goroutine could,
        and stops at a goroutine that waits on nothing only another could end, or
        where the chain closes on itself. `lookup` finds a goroutine by id (default:
        among the graph's own)."""
        find = lookup or self.by_id.get
        steps: list[ChainStep] = []
        seen: set[int] = set()
        g = find(goid)
        while g is not None and len(steps) < MAX_STEPS:
            seen.add(g.id)
            step = ChainStep(g.id, g.status, g.wait_reason, g.wait_ns,
                             g.user_current if g.user_current.function else g.current)
            steps.append(step)
            links = self.links(g) if g.status == "waiting" else []
            if not links:
                break
            link = _main_link(links)
            step.waits_for, step.next, step.basis = link.target, list(link.to), link.basis
            if link.holding is not None:
                step.held_ns, step.held_at = link.holding.held_ns, link.holding.location
            if len(link.to) != 1:
                break
            if link.to[0] in seen:
                step.cycle = True
                break
            g = find(link.to[0])
        return steps

    # ------------------------------------------------------------ findings
    def cycles(self) -> list[Finding]:
        """Closed groups of stuck goroutines that only each other could wake."""
        wakers: dict[int, set[int]] = {}
        for g in self.users:
            if not self.stuck(g):
                continue
            links = self.links(g)
            if links and all(link.to for link in links):
                wakers[g.id] = set().union(*(set(link.to) for link in links))
        group = set(wakers)
        while True:  # drop members that someone outside the group could wake
            keep = {goid for goid in group if wakers[goid] <= group}
            if keep == group:
                break
            group = keep
        found = []
        for comp in components(group, wakers):
            found.append(self._cycle_finding(sorted(comp)))
        return found

    def _cycle_finding(self, ids: list[int]) -> Finding:
        gs = [self.by_id[i] for i in ids]
        links = [link for g in gs for link in self.links(g)]
        chans = sorted({lk.target.addr for lk in links if lk.target.kind == "chan"})
        locks = sorted({lk.target.addr for lk in links if lk.target.kind != "chan"})
        proof = all(lk.basis == "exact" for lk in links)
        via = ", ".join([*(f"chan {c}" for c in chans), *(f"lock {x}" for x in locks)])
        members = " ↔ ".join(str(i) for i in ids[:6]) + (" …" if len(ids) > 6 else "")
        what = "mutex" if not chans else "channel" if not locks else "channel/mutex"
        chain = self.chain(ids[0])
        words = chain_text(chain)
        if proof:
            title = f"{what} deadlock (proof): goroutines {members} ({via})"
            message = (f"Proof: {words}. gotui saw each holder take its lock and nobody "
                       "release it; each waits for a lock another one holds.")
        else:
            weak = [f"{lk.target.kind} {lk.target.addr}" for lk in links
                    if lk.basis != "exact"]
            title = f"{what} deadlock cycle: goroutines {members} ({via})"
            message = (f"Hint, not a proof: {words}. Inferred, not observed: "
                       f"{', '.join(dict.fromkeys(weak))} (a goroutine could still reach "
                       "a channel or lock through a global or a heap object).")
        return Finding("deadlock", "error", title, message, ids, chans, locks, proof, chain)

    def stuck_holders(self, skip: set[int]) -> list[Finding]:
        """Locks whose holder is itself stuck (parked on a channel or lock that only
        another goroutine could end), outside any cycle: one finding per lock."""
        found = []
        for lock in self.snap.locks:
            if not lock.waiters or not lock.holders or set(lock.waiters) <= skip:
                continue
            holders = [self.by_id[h] for h in lock.holders if h in self.by_id]
            if not holders or not all(self.stuck(h) for h in holders):
                continue
            chain = self.chain(lock.waiters[0])
            n = len(lock.waiters)
            found.append(Finding(
                "stuck-holder", "warning",
                f"{n} goroutine{'s' if n != 1 else ''} wait{'s' if n == 1 else ''} for "
                f"{lock.kind} {lock.addr}, held by "
                f"{', '.join(f'g{h.id}' for h in holders)}, itself stuck",
                f"{chain_text(chain)}. A hint: the holder "
                f"{'was seen taking the lock' if lock.holders_basis == 'exact' else 'is inferred from its stack'}"
                ", and what it waits on may still come.",
                sorted({*lock.waiters, *lock.holders}), [], [lock.addr], False, chain))
        return found


def _main_link(links: list[Link]) -> Link:
    """The link a chain follows: a lock first, else the wait with the fewest wakers."""
    locks = [lk for lk in links if lk.target.kind != "chan"]
    if locks:
        return locks[0]
    return min(links, key=lambda lk: (len(lk.to) == 0, len(lk.to)))


def components(nodes: set[int], edges: dict[int, set[int]]) -> list[set[int]]:
    """Connected components of the undirected graph over `nodes`."""
    adj: dict[int, set[int]] = defaultdict(set)
    for a in nodes:
        for b in edges[a] & nodes:
            adj[a].add(b)
            adj[b].add(a)
    seen: set[int] = set()
    out = []
    for start in sorted(nodes):
        if start in seen:
            continue
        comp, todo = set(), [start]
        while todo:
            n = todo.pop()
            if n not in comp:
                comp.add(n)
                todo.extend(adj[n] - comp)
        seen |= comp
        out.append(comp)
    return out


# ------------------------------------------------------------ words

def _who(ids: Iterable[int]) -> str:
    ids = list(ids)
    text = ", ".join(f"g{i}" for i in ids[:4]) + (f" (+{len(ids) - 4})" if len(ids) > 4 else "")
    return text


def _where(loc: Location) -> str:
    return loc.short() if loc.function else ""


_CHAN_VERBS = {"send": ("waits to send on", "receive from"),
               "recv": ("waits to receive on", "send to"),
               "select": ("waits in a select on", "wake it through")}
_STATE_WORDS = {"running": "is running", "runnable": "is runnable", "syscall": "is in a syscall",
                "idle": "has not started", "dead": "has exited"}
_REASON_WORDS = {"sleep": "sleeps", "IO wait": "waits on IO", "select (no cases)": "blocks forever",
                 "chan receive (nil chan)": "receives from a nil channel",
                 "chan send (nil chan)": "sends on a nil channel"}


def step_text(step: ChainStep) -> str:
    """One step, from its goroutine's view: "waits for mutex 0x.. held by g40 (...)"."""
    w = step.waits_for
    if w is None:
        if step.status == "waiting":
            return _REASON_WORDS.get(step.wait_reason, f"waits ({step.wait_reason})")
        return _STATE_WORDS.get(step.status, step.status)
    basis = {"inferred": ", inferred", "exact": ", seen"}.get(step.basis, "")
    if w.kind == "chan":
        verb, other = _CHAN_VERBS.get(w.op, ("waits on", "wake it"))
        if not step.next:
            return f"{verb} chan {w.addr}, which no other goroutine's stack holds"
        only = "only " if len(step.next) == 1 else ""
        return f"{verb} chan {w.addr} that {only}{_who(step.next)} could {other}{_paren(basis)}"
    if w.kind in ("waitgroup", "cond"):
        what = "WaitGroup" if w.kind == "waitgroup" else "Cond"
        call = "call Done on" if w.kind == "waitgroup" else "Signal"
        if not step.next:
            return f"waits on {what} {w.addr}, whose waker is unknown"
        return f"waits on {what} {w.addr} that {_who(step.next)} could {call}{_paren(basis)}"
    verb = "waits to read-lock" if w.op == "rlock" else "waits for"
    name = {"sema": "lock"}.get(w.kind, w.kind)
    if not step.next:
        return f"{verb} {name} {w.addr}, whose holder is unknown"
    extra = [x for x in (_where(step.held_at),
                         f"holding ≥ {human_duration(step.held_ns)}" if step.held_ns else "",
                         basis.removeprefix(", ")) if x]
    return (f"{verb} {name} {w.addr} held by {_who(step.next)}"
            + (f" ({', '.join(extra)})" if extra else ""))


def _paren(basis: str) -> str:
    return f" ({basis.removeprefix(', ')})" if basis else ""


def chain_text(steps: list[ChainStep]) -> str:
    """The chain in words: "g12 waits for mutex 0x.. held by g40 (main.transfer
    main.go:88, holding ≥ 3s, inferred), which waits to receive on chan 0x.. that
    only g12 could send to: a cycle"."""
    if not steps:
        return ""
    parts = [f"g{steps[0].goroutine} {step_text(steps[0])}"]
    for step in steps[1:]:
        parts.append(f"which {step_text(step)}")
    text = ", ".join(parts)
    last = steps[-1]
    if last.cycle:
        text += ": a cycle"
    return text


def chain_of(snap: Snapshot, goid: int) -> list[ChainStep]:
    """WaitGraph(snap).chain(goid), on a graph of only the goroutines that take part
    (at 100k sleepers: 19 ms, not the 48 ms of a graph of all); a step on any other
    goroutine finds it by id in the whole snapshot."""
    return chain_among(snap, goid, [g.id for g in snap.goroutines if takes_part(g)],
                       partial(find_goroutine, snap))


def chain_among(snap: Snapshot, goid: int, parts: Iterable[int],
                lookup: Callable[[int], Goroutine | None]) -> list[ChainStep]:
    """WaitGraph(snap).chain(goid) when `parts` holds the id of every goroutine of `snap`
    that takes_part() (the findings input's set: more do no harm) and `lookup` finds
    any goroutine by id."""
    graph = WaitGraph(replace(snap, goroutines=[g for g in map(lookup, parts) if g]))
    return graph.chain(goid, lambda i: graph.by_id.get(i) or lookup(i))


def find_goroutine(snap: Snapshot, goid: int) -> Goroutine | None:
    """By bisection when the snapshot is ordered by id (every backend's is), else by a
    scan."""
    gs = snap.goroutines
    at = bisect_left(gs, goid, key=_goid)
    if at < len(gs) and gs[at].id == goid:
        return gs[at]
    return next((g for g in gs if g.id == goid), None)


def _goid(g: Goroutine) -> int:
    return g.id
