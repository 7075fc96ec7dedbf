"""The goroutine list's model: filter, sort, group and mark a snapshot's goroutines.

Pure Python, no Textual. Built for 100k-1M goroutines, on two ideas:

- Shapes. Goroutines that look alike (status, wait reason, labels, the four locations)
  share one Shape: its searchable text, its group key per grouping, its status rank.
  100k goroutines have a few hundred shapes. Filtering tests a term against each
  shape once, counts the matches from the shapes' counts and lists the goroutines
  whose shape matched only as far as the rows asked for (C-level map / compress over
  the id list); grouping counts shapes, not goroutines.
- Work in proportion to change. `next_data()` (run in a worker thread) makes the next
  IndexData from the previous one and a SnapshotChanges: only added, changed and gone
  goroutines are looked at; the three sort orders are patched (bisect) when few
  goroutines moved, re-sorted when many did. IndexData and IndexView are never changed
  once made: the worker builds new ones while the UI reads the old ones, and the UI
  swaps them in one step (`install`).

A view is rows: a goroutine id (>= 0) or a group header (`-(group number + 1)`).
Goroutines gone since the previous snapshot stay listed (struck out) for one refresh.
"""

from __future__ import annotations

import copy
import dataclasses
from bisect import bisect_left, insort
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import compress, filterfalse, islice, repeat
from operator import contains, or_

from gotui.backends.formats import human_duration
from gotui.backends.model import Goroutine, Location
from gotui.backends.yielding import step_aside
from gotui.tui.snapshot_changes import SnapshotChanges, snapshot_changes

SORT_KEYS = ("id", "wait", "status")
GROUP_MODES = ("none", "location", "go", "start", "label")
GROUP_TITLES = {
    "none": "no grouping",
    "location": "user location",
    "go": "go statement",
    "start": "start function",
    "label": "labels",
}
STATUS_ORDER = ("running", "runnable", "syscall", "waiting", "leaked", "idle", "preempted",
                "copystack", "dead")
# what the location column and grouping show: the first frame of the program's own code
# (its main module), or the runtime's / Delve's user location (first non-runtime frame)
LOCATION_MODES = ("own", "runtime")
MAIN_GOROUTINE = "(main goroutine)"
GONE = "gone"
GONE_RANK = 99
SPARK = "▁▂▃▄▅▆▇█"
HISTORY = 24
GOID_BITS = 40  # sort keys are (rank or wait start) << GOID_BITS | goid
NO_WAIT = 1 << 62  # the wait start of a goroutine with no known wait: sorted last
PATCH_LIMIT = 2048  # more moved goroutines than this: sort again instead of patching
# shapes of at most this many goroutines keep their member list (IndexData.small): a
# group that small lists its members from them, not by scanning a million goroutines
SMALL_SHAPE = 4096


def where(loc: Location) -> str:
    """`function file:line`, with the file's base name only; empty for no location."""
    if not loc.function and not loc.file:
        return ""
    return loc.short()


def location_of(g: Goroutine, mode: str = "own") -> Location:
    """The location shown for `g` (LOCATION_MODES)."""
    if mode == "own" and (g.own_current.function or g.own_current.file):
        return g.own_current
    if g.user_current.function or g.user_current.file:
        return g.user_current
    return g.current


def go_text(g: Goroutine) -> str:
    """Where `g` was created; the main goroutine was started by the runtime itself."""
    if g.id == 1:
        return MAIN_GOROUTINE
    return where(g.go_statement)


def wait_text(g: Goroutine) -> str:
    """How long it has waited: exact when eBPF saw it park ("park"); else a lower bound,
    the runtime noting the wait only when a GC first sees it (g.waitsince)."""
    if not g.wait_ns:
        return ""
    text = human_duration(g.wait_ns)
    return text if g.wait_basis == "park" else f"≥{text}"


def exact_waits(goroutines: list[Goroutine], parked_at: dict[int, int],
                now_ns: int) -> list[Goroutine]:
    """`goroutines`, those whose park eBPF saw (parked_at: wall-clock ns) with their exact
    wait (copies: snapshot objects are read-only). A park time that contradicts the
    runtime's lower bound (an event missed) is not used."""
    if not parked_at:
        return goroutines
    out = list(goroutines)
    for i, g in enumerate(out):
        t = parked_at.get(g.id)
        if t is None or g.status not in ("waiting", "leaked"):
            continue
        exact = now_ns - t
        if exact > 0 and exact >= g.wait_ns:
            out[i] = dataclasses.replace(g, wait_ns=exact, wait_basis="park")
    return out


def labels_text(labels: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def sparkline(values: list[int] | deque[int], width: int = 8) -> str:
    tail = list(values)[-width:]
    if not tail:
        return ""
    lo, hi = min(tail), max(tail)
    if hi == lo:
        return SPARK[0] * len(tail)
    return "".join(SPARK[(v - lo) * (len(SPARK) - 1) // (hi - lo)] for v in tail)


def _search(loc: Location) -> str:
    return f"{loc.function} {loc.file.rsplit('/', 1)[-1]}:{loc.line}".lower()


def group_key(g: Goroutine, mode: str, location_mode: str = "own") -> str:
    """The group of goroutine `g` when the list is grouped by `mode`."""
    if mode == "label":
        return labels_text(g.labels) if g.labels else "(no labels)"
    if mode == "start":
        return g.start.function or "?"
    if mode == "go" and g.id == 1:
        return MAIN_GOROUTINE
    loc = g.go_statement if mode == "go" else location_of(g, location_mode)
    return where(loc) or ("(no go statement)" if mode == "go" else "?")


# a Shape's group keys, in this order: the grouping, with the location mode for one
GROUPINGS = (*((m, "own") for m in GROUP_MODES[1:]), ("location", "runtime"))


@dataclass(frozen=True, slots=True)
class Shape:
    """What goroutines that look alike share."""

    sid: int
    status: str
    rank: int
    hay: str  # lower-cased text `/` searches (the id, channel and lock come apart)
    groups: tuple[str, ...]  # the group key for each of GROUPINGS


def _loc_key(loc: Location) -> tuple[str, str, int]:
    return loc.function, loc.file, loc.line


def shape_key(g: Goroutine) -> tuple[object, ...]:
    return (g.status, g.wait_reason, tuple(sorted(g.labels.items())) if g.labels else (),
            _loc_key(g.current), _loc_key(g.user_current), _loc_key(g.own_current),
            _loc_key(g.go_statement), _loc_key(g.start), g.id == 1)


class ShapeTable:
    """Every shape seen so far. Append-only: a shape never changes once made, so the
    worker thread may add shapes while the UI reads the ones it knows."""

    def __init__(self) -> None:
        self.shapes: list[Shape] = []
        self._ids: dict[tuple[object, ...], int] = {}
        self._rank = {s: n for n, s in enumerate(STATUS_ORDER)}

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, sid: int) -> Shape:
        return self.shapes[sid]

    def of(self, g: Goroutine) -> int:
        key = shape_key(g)
        sid = self._ids.get(key)
        if sid is None:
            sid = len(self.shapes)
            labels = labels_text(g.labels).lower() if g.labels else ""
            hay = " ".join((g.status, g.wait_reason.lower(), labels, _search(g.own_current),
                            _search(g.user_current), _search(g.current),
                            _search(g.go_statement), _search(g.start)))
            self.shapes.append(Shape(sid, g.status, self._rank.get(g.status, GONE_RANK), hay,
                                     tuple(group_key(g, m, lm) for m, lm in GROUPINGS)))
            self._ids[key] = sid
        return sid


def extra_text(g: Goroutine) -> str:
    """What `/` finds in this goroutine beyond its shape: its channel and lock."""
    chan = g.blocked_on.chan.lower() if g.blocked_on else ""
    return f"{chan} {g.blocked_on_lock}" if chan or g.blocked_on_lock else ""


def wait_key(g: Goroutine, taken_ms: int) -> int:
    """Sort key of the `wait` order: when the wait began (longest first), then the id.
    It does not move while the goroutine waits on, so an unchanged goroutine keeps its
    place from one snapshot to the next."""
    start = taken_ms - g.wait_ns // 1_000_000 if g.wait_ns > 0 else NO_WAIT
    return start << GOID_BITS | g.id


@dataclass(frozen=True)
class IndexData:
    """One snapshot's goroutines as the list needs them. Never changed once made."""

    live: dict[int, Goroutine] = field(default_factory=dict)
    gone: dict[int, Goroutine] = field(default_factory=dict)  # struck out, one refresh
    new: frozenset[int] = frozenset()
    shape_of: dict[int, int] = field(default_factory=dict)  # live and gone goroutines
    extra: dict[int, str] = field(default_factory=dict)  # goid -> extra_text, if any
    wait_keys: dict[int, int] = field(default_factory=dict)
    orders: dict[str, list[int]] = field(
        default_factory=lambda: {k: [] for k in SORT_KEYS})
    counts: dict[str, int] = field(default_factory=dict)  # live goroutines per status
    generation: int = 0
    # goroutines (live and gone) per shape: an unfiltered grouping counts shapes only
    shape_counts: dict[int, int] = field(default_factory=dict)
    # the goroutines (live and gone) of shapes that never had more than SMALL_SHAPE
    # since they appeared; the others are not listed
    small: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def goroutine(self, goid: int) -> Goroutine | None:
        return self.live.get(goid) or self.gone.get(goid)

    def __len__(self) -> int:
        return len(self.live) + len(self.gone)

    @property
    def new_count(self) -> int:
        return len(self.new)

    @property
    def gone_count(self) -> int:
        return len(self.gone)

    def mark(self, goid: int) -> str:
        """"+" new since the previous snapshot, "-" gone, " " otherwise."""
        return "-" if goid in self.gone else "+" if goid in self.new else " "

    def status_of(self, goid: int, shapes: ShapeTable) -> str:
        return GONE if goid in self.gone else shapes[self.shape_of[goid]].status

    def status_order(self, shapes: ShapeTable) -> list[int]:
        """The `status` order sorted from scratch: the id order sorted (stably) by
        status rank, with C-level keys."""
        ranks = [s.rank for s in shapes.shapes]
        by_id = self.orders["id"]
        rank_of = dict(zip(by_id, map(ranks.__getitem__, map(self.shape_of.__getitem__, by_id)),
                           strict=True))
        rank_of.update(dict.fromkeys(self.gone, GONE_RANK))
        return sorted(by_id, key=rank_of.__getitem__)

    def status_key(self, shapes: ShapeTable) -> Callable[[int], int]:
        shape_of, gone = self.shape_of, self.gone

        def key(goid: int) -> int:
            rank = GONE_RANK if goid in gone else shapes[shape_of[goid]].rank
            return rank << GOID_BITS | goid

        return key


def _patched(order: list[int], out: Iterable[tuple[int, int]], ins: Iterable[int],
             old_key: Callable[[int], int], new_key: Callable[[int], int],
             resort: Callable[[], list[int]] | None = None) -> list[int]:
    """`order` (sorted by old_key) without the goids of `out` (goid, old key), with
    `ins`, sorted by new_key (which agrees with old_key on every goroutine kept).
    Many changes: sorted again (by `resort` if given)."""
    out, ins = list(out), list(ins)
    if not out and not ins:
        return order
    if len(out) + len(ins) > PATCH_LIMIT:
        if resort is not None:
            return resort()
        dropped = {goid for goid, _ in out}
        kept = list(filterfalse(dropped.__contains__, order)) if dropped else list(order)
        kept += ins
        kept.sort(key=new_key)
        return kept
    result = list(order)
    for goid, k in out:
        i = bisect_left(result, k, key=old_key)
        if i < len(result) and result[i] == goid:
            del result[i]
        else:  # not where its key says (should not happen): find it the slow way
            result.remove(goid)
    for goid in ins:
        insort(result, goid, key=new_key)
    return result


def _identity(goid: int) -> int:
    return goid


def order_key(data: IndexData, shapes: ShapeTable, sort: str) -> Callable[[int], int]:
    """The key data.orders[sort] is sorted by (unique: the goid is in it)."""
    if sort == "id":
        return _identity
    if sort == "wait":
        return data.wait_keys.__getitem__
    return data.status_key(shapes)


def next_data(prev: IndexData, changes: SnapshotChanges, shapes: ShapeTable,
              taken_at: float) -> IndexData:
    """The IndexData after `changes` (made from prev.live). Work per changed goroutine;
    a refresh where nothing changed shares every structure with `prev`."""
    taken_ms = int(taken_at * 1000)
    if changes.first or not prev.live:
        return _full(changes.by_id, shapes, taken_ms, prev.generation + 1, first=changes.first)
    dropped = prev.gone  # shown struck out once: now they go
    gone = {g.id: g for g in changes.gone}
    moved = [new for _, new in changes.changed]
    if not dropped and not changes.count:
        return replace(prev, live=changes.by_id, new=frozenset(),
                       generation=prev.generation + 1)
    shape_of = dict(prev.shape_of)
    extra = dict(prev.extra)
    wait_keys = dict(prev.wait_keys)
    shape_counts = dict(prev.shape_counts)
    left: list[tuple[int, int]] = []  # (goid, shape) for the member lists
    came: list[tuple[int, int]] = []
    for goid in dropped:
        sid = shape_of.pop(goid)
        _count_shape(shape_counts, sid, -1)
        left.append((goid, sid))
        extra.pop(goid, None)
        del wait_keys[goid]
    for g in (*changes.added, *moved):
        old = shape_of.get(g.id)
        shape_of[g.id] = sid = shapes.of(g)
        if old != sid:
            if old is not None:
                _count_shape(shape_counts, old, -1)
                left.append((g.id, old))
            _count_shape(shape_counts, sid, 1)
            came.append((g.id, sid))
        text = extra_text(g)
        if text:
            extra[g.id] = text
        else:
            extra.pop(g.id, None)
        wait_keys[g.id] = wait_key(g, taken_ms)
    data = IndexData(changes.by_id, gone, frozenset(g.id for g in changes.added), shape_of,
                     extra, wait_keys, {},
                     _status_counts(shape_counts, gone, shape_of, shapes),
                     prev.generation + 1, shape_counts, _small_after(prev, left, came))
    # the three orders, patched: each a pass over every goroutine (tens of ms at 1M), so
    # a thread that builds them steps aside between them while the UI handles a key
    step_aside()
    added = [g.id for g in changes.added]
    old_status, new_status = prev.status_key(shapes), data.status_key(shapes)
    restatus = [g.id for g in moved if old_status(g.id) != new_status(g.id)]
    data.orders["id"] = _patched(prev.orders["id"], ((i, i) for i in dropped), added,
                                 _identity, _identity)
    step_aside()
    data.orders["status"] = _patched(
        prev.orders["status"],
        ((i, old_status(i)) for i in (*dropped, *restatus, *gone)),
        (*added, *restatus, *gone), old_status, new_status,
        partial(data.status_order, shapes))
    step_aside()
    rewait = [g.id for g in moved if prev.wait_keys[g.id] != wait_keys[g.id]]
    data.orders["wait"] = _patched(
        prev.orders["wait"], ((i, prev.wait_keys[i]) for i in (*dropped, *rewait)),
        (*added, *rewait), prev.wait_keys.__getitem__, wait_keys.__getitem__)
    return data


def _small_after(prev: IndexData, left: list[tuple[int, int]], came: list[tuple[int, int]]
                 ) -> dict[int, tuple[int, ...]]:
    """IndexData.small after goroutines left shapes and came to shapes ((goid, shape)
    pairs): only the shapes touched are listed again, each in one pass."""
    if not left and not came:
        return prev.small
    small = dict(prev.small)
    out: dict[int, set[int]] = {}
    into: dict[int, list[int]] = {}
    for goid, sid in left:
        if sid in small:
            out.setdefault(sid, set()).add(goid)
    for goid, sid in came:
        if sid in small or sid not in prev.shape_counts:  # listed, or new: listed from now
            into.setdefault(sid, []).append(goid)
    for sid in out.keys() | into.keys():
        gone = out.get(sid)
        members = list(small.get(sid, ()))
        if gone:
            members = list(filterfalse(gone.__contains__, members))
        members += into.get(sid, ())
        if members and len(members) <= SMALL_SHAPE:
            small[sid] = tuple(members)
        else:
            small.pop(sid, None)
    return small


def _small_of(shape_of: dict[int, int], shape_counts: dict[int, int]
              ) -> dict[int, tuple[int, ...]]:
    """IndexData.small from scratch: a pass over the goroutines of small shapes only."""
    listed = {sid for sid, n in shape_counts.items() if n <= SMALL_SHAPE}
    if not listed:
        return {}
    members: dict[int, list[int]] = {sid: [] for sid in listed}
    goids, sids = list(shape_of), list(shape_of.values())
    flags = list(map(listed.__contains__, sids))
    for goid, sid in zip(compress(goids, flags), compress(sids, flags), strict=True):
        members[sid].append(goid)
    return {sid: tuple(gs) for sid, gs in members.items()}


def _count_shape(counts: dict[int, int], sid: int, delta: int) -> None:
    n = counts.get(sid, 0) + delta
    if n:
        counts[sid] = n
    else:
        del counts[sid]


def _status_counts(shape_counts: dict[int, int], gone: Iterable[int],
                   shape_of: dict[int, int], shapes: ShapeTable) -> dict[str, int]:
    """Live goroutines per status, from the counts per shape (gone ones taken out)."""
    counts: dict[str, int] = {}
    for sid, n in shape_counts.items():
        status = shapes[sid].status
        counts[status] = counts.get(status, 0) + n
    for goid in gone:
        status = shapes[shape_of[goid]].status
        counts[status] -= 1
    return {status: n for status, n in counts.items() if n}


def _counts(goids: Iterable[int], shape_of: dict[int, int], shapes: ShapeTable
            ) -> dict[str, int]:
    per_shape = Counter(map(shape_of.__getitem__, goids))
    counts: dict[str, int] = {}
    for sid, n in per_shape.items():
        status = shapes[sid].status
        counts[status] = counts.get(status, 0) + n
    return counts


def _full(live: dict[int, Goroutine], shapes: ShapeTable, taken_ms: int, generation: int,
          first: bool) -> IndexData:
    of = shapes.of
    shape_of = {goid: of(g) for goid, g in live.items()}
    extra = {goid: t for goid, g in live.items() if (t := extra_text(g))}
    wait_keys = {goid: wait_key(g, taken_ms) for goid, g in live.items()}
    shape_counts = dict(Counter(shape_of.values()))
    data = IndexData(live, {}, frozenset() if first else frozenset(live), shape_of, extra,
                     wait_keys, {}, _counts(live, shape_of, shapes), generation,
                     shape_counts, _small_of(shape_of, shape_counts))
    by_id = sorted(live)
    data.orders["id"] = by_id
    data.orders["status"] = data.status_order(shapes)
    data.orders["wait"] = sorted(by_id, key=wait_keys.__getitem__)
    return data


# ----------------------------------------------------------------- views

@dataclass(frozen=True)
class ViewSettings:
    filter_text: str = ""
    sort_key: str = "id"
    group_mode: str = "none"
    collapsed: frozenset[str] = frozenset()
    location_mode: str = "own"  # LOCATION_MODES

    @property
    def grouping(self) -> int:
        """Where the group keys of this grouping are in Shape.groups."""
        return GROUPINGS.index((self.group_mode, self.location_mode
                                if self.group_mode == "location" else "own"))


def _flags_by_shape(shapes: ShapeTable, test: Callable[[Shape], bool]) -> bytes:
    return bytes(map(test, shapes.shapes))


def of_shapes(goids: Iterable[int], shape_of: dict[int, int], ok: bytes) -> Iterator[int]:
    """The goroutines of `goids` (in order) whose shape `ok` flags."""
    return compress(goids, map(ok.__getitem__, map(shape_of.__getitem__, goids)))


def _keep(goids: list[int], shape_of: dict[int, int], ok: bytes) -> list[int]:
    return list(of_shapes(goids, shape_of, ok))


def _filter_term(goids: list[int], term: str, data: IndexData, shapes: ShapeTable
                 ) -> list[int]:
    """The goroutines of `goids` (in order) that one lower-cased filter term matches."""
    if term in ("is:new", "is:gone"):
        marked = data.new if term == "is:new" else data.gone
        return list(compress(goids, map(marked.__contains__, goids))) if marked else []
    if term.startswith("status:"):
        want = term[len("status:"):]
        ok = _flags_by_shape(shapes, lambda s: s.status.startswith(want))
        kept = _keep(goids, data.shape_of, ok)
        if not data.gone:
            return kept
        if not GONE.startswith(want):
            return list(filterfalse(data.gone.__contains__, kept))
        return list(compress(goids, map(or_, map(ok.__getitem__, map(
            data.shape_of.__getitem__, goids)), map(data.gone.__contains__, goids))))
    ok = _flags_by_shape(shapes, lambda s: term in s.hay)
    flags = list(map(ok.__getitem__, map(data.shape_of.__getitem__, goids)))
    also = {goid for goid, text in data.extra.items() if term in text}
    if term in " " + GONE:
        also.update(data.gone)
    if also:
        flags = list(map(or_, flags, map(also.__contains__, goids)))
    if term.isdigit():  # the goroutine id
        flags = list(map(or_, flags, map(contains, map(str, goids), repeat(term))))
    return list(compress(goids, flags))


def _shape_term(term: str, shape: Shape) -> bool:
    if term.startswith("status:"):
        return shape.status.startswith(term[len("status:"):])
    return term in shape.hay


def _own_term(term: str, goid: int, data: IndexData, shapes: ShapeTable) -> bool:
    """Term `term` against goroutine `goid`'s own text (channel, lock) and gone mark."""
    gone = goid in data.gone
    if term.startswith("status:"):
        want = term[len("status:"):]
        return GONE.startswith(want) if gone else _shape_term(term, shapes[data.shape_of[goid]])
    if _shape_term(term, shapes[data.shape_of[goid]]) or term in data.extra.get(goid, ""):
        return True
    return gone and term in " " + GONE


class Members:
    """Goroutines in the view's order (a group's, or those a filter matched), listed
    only as far as asked: the rows on screen need the first few of a million, the row
    of a goroutine those up to it. `count`: how many there are, if known."""

    STEP = 256  # listed ahead of the row asked for

    def __init__(self, goids: Iterator[int], count: int | None = None) -> None:
        self._rest = goids  # the goroutines in order, not listed yet
        self.listed: list[int] = []
        self.whole = False
        self._count = count

    def _list_to(self, count: int) -> None:
        listed = self.listed
        if not self.whole and count > len(listed):
            listed.extend(islice(self._rest, count - len(listed)))
            self.whole = len(listed) < count

    def _list_all(self) -> list[int]:
        if not self.whole:
            self.listed.extend(self._rest)
            self.whole = True
        return self.listed

    def __len__(self) -> int:
        return len(self._list_all()) if self._count is None else self._count

    def __iter__(self) -> Iterator[int]:
        return iter(self._list_all())

    def __getitem__(self, i: int) -> int:
        self._list_to(i + 1 + self.STEP)
        return self.listed[i]

    def position(self, goid: int, key: Callable[[int], int]) -> int | None:
        """Where `goid` is (members are sorted by `key`), or None."""
        want, listed = key(goid), self.listed
        while not self.whole and (not listed or key(listed[-1]) < want):
            self._list_to(max(len(listed) * 2, self.STEP))
        return _position(listed, goid, key)


class FilterCache:
    """The last filter's result, reused while the shapes that match and the few
    goroutines with text of their own match the same: typing one more character of a
    location in a 100k list then costs a test per shape, not a pass over the list."""

    def __init__(self) -> None:
        self.over: tuple[list[int], dict[int, int]] | None = None  # (goids, shape_of)
        self.key: tuple[object, ...] = ()
        self.result: Sequence[int] = []

    def get(self, goids: list[int], shape_of: dict[int, int], key: tuple[object, ...]
            ) -> Sequence[int] | None:
        over = self.over
        if over is not None and over[0] is goids and over[1] is shape_of and self.key == key:
            return self.result
        return None


def filter_goids(goids: list[int], text: str, data: IndexData, shapes: ShapeTable,
                 cache: FilterCache | None = None) -> Sequence[int]:
    terms = text.lower().split()
    if any(t.isdigit() or t in ("is:new", "is:gone") for t in terms):
        for term in terms:  # ids and marks: term by term over the goroutines
            goids = _filter_term(goids, term, data, shapes)
        return goids
    ok = bytes(all(_shape_term(t, s) for t in terms) for s in shapes.shapes)
    own = {goid: all(_own_term(t, goid, data, shapes) for t in terms)
           for goid in (*data.extra, *data.gone)}
    key = (ok, tuple(sorted(own.items())))
    if cache is not None and (same := cache.get(goids, data.shape_of, key)) is not None:
        return same
    flags = map(ok.__getitem__, map(data.shape_of.__getitem__, goids))
    if own:  # (a goroutine with text of its own is judged on all of it)
        flags = map(own.get, goids, flags)
    # how many: from the shapes' counts, not a pass over the goroutines (the rows on
    # screen list the first few; a pass over 100k took ~10 ms of a typed filter)
    count = sum(n for sid, n in data.shape_counts.items() if ok[sid])
    count += sum(mine - ok[data.shape_of[goid]] for goid, mine in own.items())
    result: Sequence[int] = Members(compress(goids, flags), count)
    if cache is not None:
        cache.over, cache.key, cache.result = (goids, data.shape_of), key, result
    return result


class IndexView:
    """The rows of one IndexData under one ViewSettings. Members of a group are listed
    (in order) the first time one of its rows is asked for."""

    def __init__(self, data: IndexData, shapes: ShapeTable, settings: ViewSettings,
                 matched: Sequence[int]) -> None:
        self.data = data
        self.shapes = shapes
        self.settings = settings
        self.matched = matched
        self.groups: list[tuple[str, int]] = []  # (key, members), biggest first
        self.starts: list[int] = []  # row of each group's header
        self.rows = len(matched)
        self._members: dict[int, Members] = {}
        self._group_sids: dict[str, list[int]] = {}
        if settings.group_mode != "none":
            self._group()

    def _group(self) -> None:
        mode = self.settings.grouping
        data = self.data
        per_shape = (data.shape_counts if self.matched is data.orders[self.settings.sort_key]
                     else Counter(map(data.shape_of.__getitem__, self.matched)))
        counts: dict[str, int] = {}
        for sid, n in per_shape.items():
            key = self.shapes[sid].groups[mode]
            counts[key] = counts.get(key, 0) + n
            self._group_sids.setdefault(key, []).append(sid)
        self.groups = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        row = 0
        for key, n in self.groups:
            self.starts.append(row)
            row += 1 + (0 if key in self.settings.collapsed else n)
        self.rows = row

    def members(self, n: int) -> Members:
        """Goroutines of group `n`, in the view's order (listed as far as asked)."""
        found = self._members.get(n)
        if found is None:
            key, count = self.groups[n]
            sids = self._group_sids[key]
            data = self.data
            if (count <= SMALL_SHAPE and self.matched is data.orders[self.settings.sort_key]
                    and all(sid in data.small for sid in sids)):
                # a small group of the whole list: from its shapes' member lists
                goids = [goid for sid in sids for goid in data.small[sid]]
                goids.sort(key=order_key(data, self.shapes, self.settings.sort_key))
                found = Members(iter(goids))
            else:  # the matched goroutines of its shapes, in order, as far as asked
                ok = bytearray(len(self.shapes))
                for sid in sids:
                    ok[sid] = 1
                found = Members(of_shapes(self.matched, data.shape_of, bytes(ok)))
            self._members[n] = found
        return found

    def row(self, r: int) -> int:
        """The goroutine id at row `r`, or `-(group + 1)` for a group header."""
        if not self.groups:
            return self.matched[r]
        n = bisect_left(self.starts, r + 1) - 1
        offset = r - self.starts[n]
        return -(n + 1) if offset == 0 else self.members(n)[offset - 1]

    def still_valid_for(self, data: IndexData) -> bool:
        """Same rows over `data`: nothing the rows depend on moved."""
        old = self.data
        return (data.orders is old.orders and data.shape_of is old.shape_of
                and data.extra is old.extra and data.gone is old.gone
                and (data.new == old.new or "is:" not in self.settings.filter_text))

    def rebound(self, data: IndexData) -> IndexView:
        """This view over `data` (for which it is still valid), sharing its rows."""
        view = copy.copy(self)
        view.data = data
        return view

    def group_number(self, key: str) -> int | None:
        return next((n for n, (k, _) in enumerate(self.groups) if k == key), None)

    def group_of(self, goid: int) -> str:
        return self.shapes[self.data.shape_of[goid]].groups[self.settings.grouping]


def build_view(data: IndexData, shapes: ShapeTable, settings: ViewSettings,
               cache: FilterCache | None = None) -> IndexView:
    """The view of `data` under `settings`."""
    order = data.orders[settings.sort_key]
    matched: Sequence[int] = order
    if settings.filter_text:
        matched = filter_goids(order, settings.filter_text, data, shapes, cache)
    return IndexView(data, shapes, settings, matched)


class GoroutineIndex:
    """Filter / sort / group state over the last installed IndexData (UI side)."""

    def __init__(self) -> None:
        self.shapes = ShapeTable()
        self.data = IndexData()
        self.settings = ViewSettings()
        self.view = build_view(self.data, self.shapes, self.settings)
        self.history: dict[str, deque[int]] = {}
        self.total_history: deque[int] = deque(maxlen=HISTORY)
        self._filtered = FilterCache()

    # ------------------------------------------------------------ data
    def next_data(self, changes: SnapshotChanges, taken_at: float) -> IndexData:
        """The next IndexData (may run in a worker: reads only immutable data)."""
        return next_data(self.data, changes, self.shapes, taken_at)

    def install(self, data: IndexData, view: IndexView | None = None) -> None:
        """Swap in the next IndexData, with its view if built for the current settings
        (a worker builds it; if the user changed the view meanwhile it is rebuilt)."""
        self.data = data
        total = len(data.live)
        self.total_history.append(total)
        for status in set(self.history) | set(data.counts):
            self.history.setdefault(status, deque(maxlen=HISTORY)).append(
                data.counts.get(status, 0))
        if view is not None and view.data is data and view.settings == self.settings:
            self.view = view
        else:
            self._rebuild()

    def update(self, goroutines: list[Goroutine], taken_at: float = 0.0) -> None:
        """Changes, next_data and install in one go, for callers without a worker."""
        self.install(self.next_data(snapshot_changes(self.data.live, goroutines), taken_at))

    # ------------------------------------------------------------ view knobs
    @property
    def filter_text(self) -> str:
        return self.settings.filter_text

    @property
    def sort_key(self) -> str:
        return self.settings.sort_key

    @property
    def group_mode(self) -> str:
        return self.settings.group_mode

    @property
    def collapsed(self) -> frozenset[str]:
        return self.settings.collapsed

    @property
    def location_mode(self) -> str:
        return self.settings.location_mode

    def toggle_location(self) -> str:
        """Own code's location <-> the runtime's user location (column and grouping)."""
        mode = LOCATION_MODES[(LOCATION_MODES.index(self.location_mode) + 1)
                              % len(LOCATION_MODES)]
        if self.group_mode == "location":
            self._set(location_mode=mode, collapsed=frozenset())
        else:
            self._set(location_mode=mode)
        return mode

    def location(self, g: Goroutine) -> Location:
        return location_of(g, self.location_mode)

    def _set(self, **changes: object) -> None:
        self.settings = replace(self.settings, **changes)  # type: ignore[arg-type]
        self._rebuild()

    def _rebuild(self) -> None:
        self.view = build_view(self.data, self.shapes, self.settings, self._filtered)

    def set_filter(self, text: str) -> None:
        self._set(filter_text=text.strip())

    def set_sort(self, key: str) -> None:
        if key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}")
        self._set(sort_key=key)

    def cycle_sort(self) -> str:
        self.set_sort(SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)])
        return self.sort_key

    def set_group(self, mode: str) -> None:
        if mode not in GROUP_MODES:
            raise ValueError(f"unknown group mode {mode!r}")
        self._set(group_mode=mode, collapsed=frozenset())

    def cycle_group(self) -> str:
        self.set_group(GROUP_MODES[(GROUP_MODES.index(self.group_mode) + 1) % len(GROUP_MODES)])
        return self.group_mode

    def toggle_group(self, key: str) -> None:
        self._set(collapsed=self.collapsed ^ {key})

    def set_all_collapsed(self, collapsed: bool) -> None:
        self._set(collapsed=frozenset(k for k, _ in self.groups) if collapsed else frozenset())

    # ------------------------------------------------------------ rows
    @property
    def groups(self) -> list[tuple[str, int]]:
        return self.view.groups

    @property
    def matched(self) -> int:
        return len(self.view.matched)

    @property
    def row_count(self) -> int:
        return self.view.rows

    def row(self, r: int) -> int:
        return self.view.row(r)

    def rows_between(self, start: int, stop: int) -> list[int]:
        return [self.view.row(r) for r in range(max(start, 0), min(stop, self.view.rows))]

    def group_at(self, row: int) -> tuple[str, int] | None:
        """The (key, count) of the group header at view row `row`, else None."""
        if 0 <= row < self.view.rows and self.view.groups:
            item = self.view.row(row)
            if item < 0:
                return self.view.groups[-item - 1]
        return None

    def goroutine_at(self, row: int) -> Goroutine | None:
        if 0 <= row < self.view.rows:
            item = self.view.row(row)
            if item >= 0:
                return self.data.goroutine(item)
        return None

    def row_of(self, goid: int) -> int | None:
        """The view row showing goroutine `goid`, opening its group if it is folded."""
        if self.data.goroutine(goid) is None:
            return None
        view = self.view
        if not view.groups:
            if isinstance(view.matched, Members):
                return view.matched.position(goid, self._order_key())
            return _position(view.matched, goid, self._order_key())
        key = view.group_of(goid)
        if key in self.collapsed:
            self.toggle_group(key)
            view = self.view
        n = view.group_number(key)
        if n is None:
            return None  # filtered out
        i = view.members(n).position(goid, self._order_key())
        return None if i is None else view.starts[n] + 1 + i

    def _order_key(self) -> Callable[[int], int]:
        return order_key(self.data, self.shapes, self.sort_key)

    def is_gone(self, goid: int) -> bool:
        return goid in self.data.gone

    def status_of(self, goid: int) -> str:
        return self.data.status_of(goid, self.shapes)

    def summary_parts(self) -> list[tuple[str, int, str]]:
        """(status, count, sparkline) per status present, most common first."""
        counts = self.data.counts
        return [(s, counts[s], sparkline(self.history.get(s, deque())))
                for s in sorted(counts, key=lambda s: (-counts[s], s))]


def _position(goids: list[int], goid: int, key: Callable[[int], int]) -> int | None:
    """Where `goid` is in `goids` (sorted by `key`), or None."""
    i = bisect_left(goids, key(goid), key=key)
    return i if i < len(goids) and goids[i] == goid else None
