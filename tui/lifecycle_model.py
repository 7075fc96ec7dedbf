"""Goroutine lifecycle, aggregated for the lifecycle pane and the state timeline.

Two sources, same shapes out:
- eBPF events (`created`, `exited`, and in deep mode `blocked` / `unblocked`), exact
  and timestamped by the kernel;
- live snapshots (goroutine id sets diffed between refreshes), where eBPF does not
  run: a goroutine that lived less than one refresh is never seen, and times have
  the refresh's resolution.
Snapshots also reconcile the event view (goroutines alive before the probes were
attached, exits lost when the ring buffer was full).

Pure data: no Textual, no clock of its own (every call takes `now` in seconds).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gotui.backends.model import Event, Goroutine, Location, Snapshot
from gotui.tui.snapshot_changes import snapshot_changes

RATE_WINDOW = 10  # seconds behind created/s and exited/s
TIMELINE_SECONDS = 300  # buckets kept (one per second)
NO_SITE = "(no go statement)"


def site_key(go_statement: Location) -> str:
    """A creation site: the go statement's function and file:line."""
    if not go_statement.function and not go_statement.file:
        return NO_SITE
    return go_statement.short()


def _loc(d: dict[str, Any] | None) -> Location:
    d = d or {}
    return Location(d.get("function", ""), d.get("file", ""), int(d.get("line", 0)),
                    int(d.get("pc", 0)))


class RateCounter:
    """Counts per whole second, for rates over the last `window` seconds."""

    def __init__(self, window: int = RATE_WINDOW) -> None:
        self.window = window
        self.buckets: deque[list[int]] = deque()  # [second, count]
        self.total = 0

    def add(self, t: float, n: int = 1) -> None:
        sec = int(t)
        if self.buckets and self.buckets[-1][0] == sec:
            self.buckets[-1][1] += n
        elif self.buckets and self.buckets[-1][0] > sec:  # late event: count it in place
            for b in reversed(self.buckets):
                if b[0] <= sec:
                    b[1] += n
                    break
        else:
            self.buckets.append([sec, n])
        self.total += n
        while self.buckets and self.buckets[0][0] < sec - self.window * 2:
            self.buckets.popleft()

    def rate(self, now: float, since: float) -> float:
        """Per second over the last window (shorter if observing began later)."""
        span = min(float(self.window), max(now - since, 1.0))
        lo = now - span
        return sum(n for s, n in self.buckets if s + 1 > lo and s <= now) / span


@dataclass
class Site:
    key: str
    go_statement: Location
    start: Location
    created: RateCounter = field(default_factory=RateCounter)
    exited: RateCounter = field(default_factory=RateCounter)
    live: int = 0
    lifetime_total: float = 0.0  # seconds, over goroutines whose birth was seen
    lifetime_n: int = 0

    @property
    def mean_lifetime(self) -> float | None:
        return self.lifetime_total / self.lifetime_n if self.lifetime_n else None


@dataclass
class SiteRow:
    key: str
    go_statement: Location
    start: Location
    created_per_s: float
    exited_per_s: float
    live: int
    created_total: int
    exited_total: int
    mean_lifetime: float | None

    @property
    def filter_text(self) -> str:
        """Text that the goroutine list's `/` filter matches for this site."""
        loc = self.go_statement
        if not loc.function:
            return ""
        return f"{loc.function} {loc.file.rsplit('/', 1)[-1]}:{loc.line}"


# Timeline rows, top to bottom. Waiting goroutines go to the row of their reason.
TIMELINE_ROWS = ("running", "runnable", "syscall", "chan recv", "chan send", "select",
                 "sync", "sleep", "IO wait", "GC", "other wait")


def timeline_row(status: str, wait_reason: str) -> str:
    if status in ("running", "runnable", "syscall"):
        return status
    if status in ("preempted", "copystack"):
        return "runnable"
    r = wait_reason.lower()
    if r.startswith("chan receive"):
        return "chan recv"
    if r.startswith("chan send"):
        return "chan send"
    if r.startswith("select"):
        return "select"
    if r.startswith(("sync", "semacquire")) or "mutex" in r or "cond" in r or "waitgroup" in r:
        return "sync"
    if r.startswith("sleep"):
        return "sleep"
    if r.startswith("io wait") or r.startswith("network") or "poll" in r:
        return "IO wait"
    if "gc" in r or r.startswith(("finalizer", "force gc", "mark", "sweep", "trace")):
        return "GC"
    return "other wait"


@dataclass
class SnapshotDigest:
    """What the model needs of a snapshot, made off the event loop (Digester) from what
    changed since the previous one."""

    taken: float
    added: dict[int, str]  # goid -> site key: in this snapshot, not in the previous one
    removed: list[int]  # in the previous snapshot, not in this one
    site_locs: Mapping[str, tuple[Location, Location]]  # site key -> (go statement, start)
    rows: dict[int, str]  # goid -> timeline row, of the added and changed goroutines
    counts: dict[str, int]  # timeline row -> goroutines (all of them)
    # every goroutine of the snapshot: goid -> site key, and goid -> timeline row (the
    # Digester's own: read them before it makes the next digest)
    sites: Mapping[int, str] = field(default_factory=dict)
    all_rows: Mapping[int, str] = field(default_factory=dict)
    present: Mapping[int, Goroutine] = field(default_factory=dict)  # the snapshot, by id


class Digester:
    """Builds SnapshotDigests from what changed between snapshots, with memoised
    per-location and per-reason work (100k goroutines share a few hundred sites and a
    few dozen wait reasons). Keeps every goroutine's site and row: a refresh costs work
    per changed goroutine."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str, int], str] = {}
        self._rows: dict[tuple[str, str], str] = {}
        self.sites: dict[int, str] = {}
        self.rows: dict[int, str] = {}
        self.counts: dict[str, int] = {}
        self.site_locs: dict[str, tuple[Location, Location]] = {}
        self._previous: dict[int, Goroutine] = {}

    def digest(self, snap: Snapshot, now: float) -> SnapshotDigest:
        """A digest of a whole snapshot (diffed against the last one digested here)."""
        changes = snapshot_changes(self._previous, snap.goroutines)
        self._previous = changes.by_id
        return self.update(changes.added, changes.changed, changes.gone, now, changes.by_id)

    def update(self, added: Iterable[Goroutine], changed: Iterable[tuple[Goroutine, Goroutine]],
               gone: Iterable[Goroutine], now: float,
               present: Mapping[int, Goroutine]) -> SnapshotDigest:
        """`present`: the snapshot's goroutines by id (read, never kept past the next
        digest: the model asks it for parents)."""
        sites, rows, counts = self.sites, self.rows, self.counts
        new_sites: dict[int, str] = {}
        removed: list[int] = []
        site_locs = self.site_locs
        row_changes: dict[int, str] = {}
        for g in gone:
            if sites.pop(g.id, None) is not None:
                removed.append(g.id)
                self._count(rows.pop(g.id), -1)
        for old, g in changed:
            if old.status == "dead" or g.status == "dead":  # (the live reader skips them)
                if sites.pop(old.id, None) is not None:
                    removed.append(old.id)
                    self._count(rows.pop(old.id), -1)
                if g.status != "dead":
                    self._add(g, new_sites, site_locs, row_changes)
                continue
            key = self._site(g)
            if key != sites[g.id]:  # (a goid is never reused: only its fields move)
                sites[g.id] = key
                site_locs.setdefault(key, (g.go_statement, g.start))
            row = self._row(g)
            if row != rows[g.id]:
                self._count(rows[g.id], -1)
                self._count(row, 1)
                rows[g.id] = row_changes[g.id] = row
        for g in added:
            if g.status != "dead":
                self._add(g, new_sites, site_locs, row_changes)
        return SnapshotDigest(now, new_sites, removed, site_locs, row_changes,
                              {r: n for r, n in counts.items() if n}, sites, rows, present)

    def _add(self, g: Goroutine, new_sites: dict[int, str],
             site_locs: dict[str, tuple[Location, Location]],
             row_changes: dict[int, str]) -> None:
        key = self._site(g)
        self.sites[g.id] = new_sites[g.id] = key
        site_locs.setdefault(key, (g.go_statement, g.start))
        row = self.rows[g.id] = row_changes[g.id] = self._row(g)
        self._count(row, 1)

    def _site(self, g: Goroutine) -> str:
        loc = g.go_statement
        k = (loc.function, loc.file, loc.line)
        key = self._keys.get(k)
        if key is None:
            key = self._keys[k] = site_key(loc)
        return key

    def _row(self, g: Goroutine) -> str:
        r = (g.status, g.wait_reason)
        row = self._rows.get(r)
        if row is None:
            row = self._rows[r] = timeline_row(*r)
        return row

    def _count(self, row: str, delta: int) -> None:
        self.counts[row] = self.counts.get(row, 0) + delta


class LifecycleModel:
    """Per-goroutine state is kept in plain dicts so that a snapshot of 100k
    goroutines costs the event loop only set operations and work per change."""

    def __init__(self) -> None:
        self.sites: dict[str, Site] = {}
        self.lives: dict[int, str] = {}  # live goid -> site key
        self.born: dict[int, float] = {}  # live goid -> creation time, when it was seen
        self.states: dict[int, str] = {}  # goid -> timeline row (deep mode)
        self.source = "snapshots"  # becomes "events" with the first created/exited event
        self.deep = False  # blocked/unblocked events drive the timeline
        self.started: float | None = None  # first observation
        self.events_since: float | None = None  # first event
        self.parents: dict[int, int] = {}  # goid -> parent goid (from events)
        self.present: Mapping[int, Goroutine] = {}  # the last snapshot's goroutines
        self.born_at: dict[int, float] = {}  # goid -> creation time (from events)
        # goid -> when eBPF saw it park (wall-clock ns), until it is made runnable: its
        # exact wait, where the runtime's g.waitsince only gives a lower bound
        self.parked_at: dict[int, int] = {}
        self._snapshots = 0
        self.digester = Digester()
        self._event_sites: dict[tuple[str, str, int, str], Site] = {}
        # timeline: second -> row -> count (max seen during that second)
        self.timeline: dict[int, dict[str, int]] = {}
        self.counts: dict[str, int] = {}

    # ------------------------------------------------------------ inputs
    def _site(self, go_statement: Location, start: Location) -> Site:
        key = site_key(go_statement)
        site = self.sites.get(key)
        if site is None:
            site = self.sites[key] = Site(key, go_statement, start)
        return site

    def _event_site(self, ev: Event) -> Site:
        """The site of a created/exited event (memoised: events come by the thousand)."""
        gs = ev.data.get("go_statement") or {}
        k = (gs.get("function", ""), gs.get("file", ""), gs.get("line", 0),
             (ev.data.get("start") or {}).get("function", ""))
        site = self._event_sites.get(k)
        if site is None:
            site = self._event_sites[k] = self._site(_loc(gs), _loc(ev.data.get("start")))
        return site

    def _observe(self, now: float) -> None:
        if self.started is None:
            self.started = now

    def add_event(self, ev: Event) -> None:
        t = ev.t_ns / 1e9
        if ev.type == "created":
            self._observe(t)
            self._events_mode(t)
            self._born(ev.goid, self._event_site(ev), t)
            if ev.parent_id:
                self.parents[ev.goid] = ev.parent_id
            self.born_at[ev.goid] = t
            _trim(self.parents)
            _trim(self.born_at)
        elif ev.type == "exited":
            self._observe(t)
            self._events_mode(t)
            key = self.lives.get(ev.goid)
            site = (self.sites.get(key) if key is not None else None) or self._event_site(ev)
            self._died(ev.goid, site, t)
        elif ev.type == "blocked":
            self._go_deep()
            self.parked_at[ev.goid] = ev.t_ns
            _trim(self.parked_at)
            self._set_state(ev.goid, timeline_row("waiting", str(ev.data.get("wait_reason", ""))),
                            t)
        elif ev.type == "unblocked":
            self._go_deep()
            self.parked_at.pop(ev.goid, None)
            self._set_state(ev.goid, "runnable", t)

    def _go_deep(self) -> None:
        """Blocked / unblocked events drive the timeline from now on, starting from the
        rows of the last snapshot (kept per goroutine only from here: a copy in one C
        call, safe while the worker makes the next digest)."""
        if not self.deep:
            self.deep = True
            self.states = dict(self.digester.rows)

    def use_events(self, t: float) -> None:
        """eBPF probes run from `t` on: rates and lifetimes come from their events."""
        self._observe(t)
        self._events_mode(t)

    def _events_mode(self, t: float) -> None:
        if self.source != "events":
            self.source = "events"
            self.events_since = t

    def _born(self, goid: int, site: Site, t: float) -> None:
        if goid in self.lives:
            return
        site.created.add(t)
        site.live += 1
        self.lives[goid] = site.key
        self.born[goid] = t
        self.states[goid] = "runnable"
        self._count("runnable", 1, t)

    def _died(self, goid: int, site: Site, t: float) -> None:
        site.exited.add(t)
        self.parked_at.pop(goid, None)
        if self.lives.pop(goid, None) is None:
            return
        site.live -= 1
        born = self.born.pop(goid, None)
        if born is not None:
            site.lifetime_total += max(0.0, t - born)
            site.lifetime_n += 1
        state = self.states.pop(goid, None)
        if state is not None:
            self._count(state, -1, t)

    def _set_state(self, goid: int, state: str, t: float) -> None:
        old = self.states.get(goid)
        if old is None or old == state:
            return
        self.states[goid] = state
        self._count(old, -1, t)
        self._count(state, 1, t)

    def _count(self, row: str, delta: int, t: float) -> None:
        if not self.deep:
            return
        bucket = self.timeline.get(int(t))
        if bucket is None:  # a new second starts from the counts as they are
            bucket = self.timeline[int(t)] = dict(self.counts)
        self.counts[row] = max(0, self.counts.get(row, 0) + delta)
        bucket[row] = max(bucket.get(row, 0), self.counts[row])

    def add_snapshot(self, snap: Snapshot, now: float) -> None:
        """A fresh list of every goroutine, taken at `now` (unix seconds)."""
        self.add_digest(self.digester.digest(snap, now))

    def add_digest(self, d: SnapshotDigest) -> None:
        now = d.taken
        self._observe(now)
        first = self._snapshots == 0
        self._snapshots += 1
        events = self.source == "events"
        if events:
            # eBPF events moved `lives` since the last snapshot: reconcile with all of it
            appeared: Iterable[int] = d.sites.keys() - self.lives.keys()
            disappeared: Iterable[int] = self.lives.keys() - d.sites.keys()
        else:  # only snapshots move `lives`: what changed between them is enough
            appeared = [goid for goid in d.added if goid not in self.lives]
            disappeared = [goid for goid in d.removed if goid in self.lives]
        for goid in appeared:
            key = d.sites[goid]
            site = self.sites.get(key) or self._site(*d.site_locs[key])
            if first or events:
                # alive before we looked, or its created event was not seen
                site.live += 1
                self.lives[goid] = key
            else:
                self._born(goid, site, now)
        for goid in disappeared:
            born = self.born.get(goid)
            # an event-born goroutine younger than this snapshot may just not be in it
            if events and born is not None and born > now - 2.0:
                continue
            site = self.sites[self.lives[goid]]
            if events:
                site.live -= 1  # its exit was not seen (lost): no rate, no lifetime
                del self.lives[goid]
                self.born.pop(goid, None)
            else:
                self._died(goid, site, now)
        self.present = d.present
        # the timeline: exact counts at this moment; deep mode goes on from here
        if self.deep:  # (states only matter once blocked/unblocked events come)
            self.states = dict(d.all_rows)
        self.counts = dict(d.counts)
        bucket = self.timeline.setdefault(int(now), {})
        for row, n in d.counts.items():
            bucket[row] = max(bucket.get(row, 0), n)
        for sec in [s for s in self.timeline if s < now - TIMELINE_SECONDS]:
            del self.timeline[sec]

    # ------------------------------------------------------------ outputs
    @property
    def resolution(self) -> str:
        if self.source == "events":
            return "from eBPF events"
        return "from snapshots, 1 s resolution"

    def rows(self, now: float, sort: str = "live") -> list[SiteRow]:
        since = (self.events_since if self.source == "events" else self.started) or now
        out = [SiteRow(s.key, s.go_statement, s.start, s.created.rate(now, since),
                       s.exited.rate(now, since), s.live, s.created.total, s.exited.total,
                       s.mean_lifetime)
               for s in self.sites.values() if s.live or s.created.total or s.exited.total]
        if sort == "created":
            out.sort(key=lambda r: (-r.created_per_s, -r.live, r.key))
        else:
            out.sort(key=lambda r: (-r.live, -r.created_per_s, r.key))
        return out

    def timeline_columns(self, now: float, n: int, hold: int = 2) -> list[dict[str, int] | None]:
        """The last `n` one-second buckets, oldest first (None: nothing observed). A
        second without an observation (refreshes drift) shows the one before it, up to
        `hold` seconds."""
        end = int(now)
        out: list[dict[str, int] | None] = []
        last: dict[str, int] | None = None
        last_sec = 0
        for sec in range(end - n - hold, end + 1):
            bucket = self.timeline.get(sec)
            if bucket is not None:
                last, last_sec = bucket, sec
            elif last is not None and sec - last_sec <= hold:
                bucket = last
            if sec > end - n:
                out.append(bucket)
        return out

    def parent_of(self, goid: int) -> int:
        if goid in self.parents:
            return self.parents[goid]
        g = self.present.get(goid)
        return g.parent_id if g is not None else 0

    def parent_chain(self, goid: int, alive: Callable[[int], bool],
                     limit: int = 8) -> list[tuple[int, bool]]:
        """[(parent id, still alive), grandparent...], nearest first, ending at a
        goroutine with no known parent (or at `limit`)."""
        chain: list[tuple[int, bool]] = []
        seen = {goid}
        cur = self.parent_of(goid)
        while cur and cur not in seen and len(chain) < limit:
            chain.append((cur, alive(cur)))
            seen.add(cur)
            cur = self.parent_of(cur)
        return chain

    def created_at(self, goid: int) -> tuple[float, bool] | None:
        """(unix time it was created, exact?): exact from a created event, else when a
        snapshot first showed it; None if it was there before we looked."""
        if goid in self.born_at:
            return self.born_at[goid], True
        if goid in self.born:
            return self.born[goid], False
        return None


MAX_REMEMBERED = 200_000  # goroutines whose parent / birth time we keep


def _trim(d: dict[int, Any]) -> None:
    """Forget the oldest half of a per-goroutine dict that grew too big."""
    if len(d) > MAX_REMEMBERED:
        for k in list(d)[: len(d) // 2]:
            del d[k]
