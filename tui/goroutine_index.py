"""The goroutine list's model: filter, sort, group and diff a snapshot's goroutines.

Pure Python, no Textual. Built for 100k goroutines: `prepare()` does the heavy
per-goroutine work once per snapshot (it may run in a thread), and every later
keypress (filter, sort, group, collapse) only walks precomputed lists.

The view is `rows`: a list of ints, `>= 0` is an index into `items`, `< 0` is a group
header (`-(group_number + 1)` into `groups`).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field

from gotui.backends.formats import human_duration
from gotui.backends.model import Goroutine, Location

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
SPARK = "▁▂▃▄▅▆▇█"
HISTORY = 24


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


@dataclass
class Prepared:
    """Everything derived from one snapshot, computed off the event loop."""

    items: list[Goroutine]
    marks: list[str]  # "+" new since last refresh, "-" gone (kept one refresh), " "
    hay: list[str]  # lower-cased text that `/` searches
    statuses: list[str]  # status, "gone" for goroutines that disappeared
    orders: dict[str, list[int]]  # sort key -> item indices in that order
    by_id: dict[int, int]
    counts: dict[str, int]
    new_count: int
    gone_count: int
    group_keys: dict[str, list[str]] = field(default_factory=dict)


class _LocText:
    """Memoised per-location text; 100k goroutines share a few hundred locations."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str, int], str] = {}

    def search(self, loc: Location) -> str:
        key = (loc.function, loc.file, loc.line)
        text = self.cache.get(key)
        if text is None:
            base = loc.file.rsplit("/", 1)[-1]
            text = self.cache[key] = f"{loc.function} {base}:{loc.line}".lower()
        return text


def _hay(g: Goroutine, locs: _LocText) -> str:
    return " ".join((str(g.id), g.status, g.wait_reason.lower(),
                     labels_text(g.labels).lower() if g.labels else "",
                     locs.search(g.own_current), locs.search(g.user_current),
                     locs.search(g.current),
                     locs.search(g.go_statement), locs.search(g.start),
                     g.blocked_on.chan.lower() if g.blocked_on else "", g.blocked_on_lock))


def prepare(goroutines: list[Goroutine], previous: Prepared | None) -> Prepared:
    """Precompute keys for `goroutines`, marking new ones and keeping gone ones once."""
    items = list(goroutines)
    new_ids: set[int] = set()
    if previous is not None:
        prev_live = {g.id for g, s in zip(previous.items, previous.statuses, strict=True)
                     if s != "gone"}
        cur = {g.id for g in items}
        new_ids = cur - prev_live
        gone = [g for g, s in zip(previous.items, previous.statuses, strict=True)
                if s != "gone" and g.id not in cur]
    else:
        gone = []
    n_live = len(items)
    items.extend(gone)
    marks = [("+" if g.id in new_ids else " ") for g in items[:n_live]] + ["-"] * len(gone)
    statuses = [g.status for g in items[:n_live]] + ["gone"] * len(gone)
    locs = _LocText()
    hay = [_hay(g, locs) for g in items]
    for i in range(n_live, len(items)):
        hay[i] += " gone"
    ids = [g.id for g in items]
    status_rank = {s: n for n, s in enumerate(STATUS_ORDER)}
    orders = {
        "id": sorted(range(len(items)), key=ids.__getitem__),
        "wait": sorted(range(len(items)), key=lambda i: (-items[i].wait_ns, ids[i])),
        "status": sorted(range(len(items)),
                         key=lambda i: (status_rank.get(statuses[i], 99), ids[i])),
    }
    counts: dict[str, int] = {}
    for s in statuses[:n_live]:
        counts[s] = counts.get(s, 0) + 1
    return Prepared(
        items=items, marks=marks, hay=hay, statuses=statuses, orders=orders,
        by_id={g.id: i for i, g in enumerate(items)}, counts=counts,
        new_count=len(new_ids), gone_count=len(gone),
    )


def group_keys(items: list[Goroutine], mode: str, location_mode: str = "own") -> list[str]:
    """The group key of every goroutine for `mode`, memoised per distinct location."""
    if mode == "label":
        return [labels_text(g.labels) if g.labels else "(no labels)" for g in items]
    if mode == "start":
        return [g.start.function or "?" for g in items]
    cache: dict[tuple[str, str, int], str] = {}
    keys: list[str] = []
    for g in items:
        if mode == "go" and g.id == 1:
            keys.append(MAIN_GOROUTINE)
            continue
        loc = g.go_statement if mode == "go" else location_of(g, location_mode)
        k = (loc.function, loc.file, loc.line)
        text = cache.get(k)
        if text is None:
            text = cache[k] = where(loc) or ("(no go statement)" if mode == "go" else "?")
        keys.append(text)
    return keys


class GoroutineIndex:
    """Filter / sort / group state over the last prepared snapshot."""

    def __init__(self) -> None:
        self.data = prepare([], None)
        self.filter_text = ""
        self.sort_key = "id"
        self.group_mode = "none"
        self.location_mode = "own"
        self.collapsed: set[str] = set()
        self.rows: list[int] = []
        self.groups: list[tuple[str, int]] = []  # (key, member count after filter)
        self.matched = 0
        self.history: dict[str, deque[int]] = {}
        self.total_history: deque[int] = deque(maxlen=HISTORY)
        self._last_match: tuple[tuple[int, str], str, list[int]] = ((-1, ""), "", [])
        self._generation = 0  # bumped per installed snapshot; keys the filter cache

    # ------------------------------------------------------------ data
    @property
    def items(self) -> list[Goroutine]:
        return self.data.items

    def install(self, data: Prepared) -> None:
        """Swap in a freshly prepared snapshot and recompute the view."""
        self.data = data
        self._generation += 1
        total = sum(data.counts.values())
        self.total_history.append(total)
        for status in set(self.history) | set(data.counts):
            self.history.setdefault(status, deque(maxlen=HISTORY)).append(
                data.counts.get(status, 0))
        self.rebuild()

    def update(self, goroutines: list[Goroutine]) -> None:
        """prepare() + install(), for callers that do not need a thread."""
        self.install(prepare(goroutines, self.data if self.data.items else None))

    # ------------------------------------------------------------ view knobs
    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.rebuild()

    def set_sort(self, key: str) -> None:
        if key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}")
        self.sort_key = key
        self.rebuild()

    def cycle_sort(self) -> str:
        self.set_sort(SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)])
        return self.sort_key

    def set_group(self, mode: str) -> None:
        if mode not in GROUP_MODES:
            raise ValueError(f"unknown group mode {mode!r}")
        self.group_mode = mode
        self.collapsed.clear()
        self.rebuild()

    def cycle_group(self) -> str:
        self.set_group(GROUP_MODES[(GROUP_MODES.index(self.group_mode) + 1) % len(GROUP_MODES)])
        return self.group_mode

    def toggle_location(self) -> str:
        """Own code's location <-> the runtime's user location (column and grouping)."""
        self.location_mode = LOCATION_MODES[(LOCATION_MODES.index(self.location_mode) + 1)
                                            % len(LOCATION_MODES)]
        if self.group_mode == "location":
            self.collapsed.clear()
        self.rebuild()
        return self.location_mode

    def location(self, g: Goroutine) -> Location:
        return location_of(g, self.location_mode)

    def toggle_group(self, key: str) -> None:
        self.collapsed.symmetric_difference_update({key})
        self.rebuild()

    def set_all_collapsed(self, collapsed: bool) -> None:
        self.collapsed = {k for k, _ in self.groups} if collapsed else set()
        self.rebuild()

    # ------------------------------------------------------------ view
    def _matches(self) -> list[int]:
        order = self.data.orders[self.sort_key]
        text = self.filter_text.lower()
        if not text:
            return order
        result = order
        base = (self._generation, self.sort_key)
        last_base, last_text, last_result = self._last_match
        plain = not any(t.startswith(("status:", "is:")) for t in text.split())
        if base == last_base and last_text and text.startswith(last_text) and plain:
            # typing one more character of plain terms only narrows the previous result
            result = last_result
        for term in text.split():
            if term.startswith("status:"):
                want = term[len("status:"):]
                statuses = self.data.statuses
                result = [i for i in result if statuses[i].startswith(want)]
            elif term in ("is:new", "is:gone"):
                mark = "+" if term == "is:new" else "-"
                marks = self.data.marks
                result = [i for i in result if marks[i] == mark]
            else:
                hay = self.data.hay
                result = [i for i in result if term in hay[i]]
        self._last_match = (base, text, result)
        return result

    def _keys(self, mode: str) -> list[str]:
        cache_key = f"{mode}:{self.location_mode}" if mode == "location" else mode
        keys = self.data.group_keys.get(cache_key)
        if keys is None:
            keys = group_keys(self.data.items, mode, self.location_mode)
            self.data.group_keys[cache_key] = keys
        return keys

    def rebuild(self) -> None:
        matched = self._matches()
        self.matched = len(matched)
        if self.group_mode == "none":
            self.groups = []
            self.rows = list(matched)
            return
        keys = self._keys(self.group_mode)
        buckets: dict[str, list[int]] = {}
        for i in matched:
            buckets.setdefault(keys[i], []).append(i)
        ordered = sorted(buckets.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        self.groups = [(k, len(members)) for k, members in ordered]
        rows: list[int] = []
        for n, (key, members) in enumerate(ordered):
            rows.append(-(n + 1))
            if key not in self.collapsed:
                rows.extend(members)
        self.rows = rows

    def group_at(self, row: int) -> tuple[str, int] | None:
        """The (key, count) of the group header at view row `row`, else None."""
        if 0 <= row < len(self.rows) and self.rows[row] < 0:
            return self.groups[-self.rows[row] - 1]
        return None

    def goroutine_at(self, row: int) -> Goroutine | None:
        if 0 <= row < len(self.rows) and self.rows[row] >= 0:
            return self.data.items[self.rows[row]]
        return None

    def row_of(self, goid: int) -> int | None:
        """The view row showing goroutine `goid`, expanding its group if needed."""
        item = self.data.by_id.get(goid)
        if item is None:
            return None
        if self.group_mode != "none":
            key = self._keys(self.group_mode)[item]
            if key in self.collapsed:
                self.collapsed.discard(key)
                self.rebuild()
        try:
            return self.rows.index(item)
        except ValueError:
            return None  # filtered out

    def is_gone(self, item: int) -> bool:
        return self.data.statuses[item] == "gone"

    def summary_parts(self) -> list[tuple[str, int, str]]:
        """(status, count, sparkline) per status present, most common first."""
        counts = self.data.counts
        return [(s, counts[s], sparkline(self.history.get(s, deque())))
                for s in sorted(counts, key=lambda s: (-counts[s], s))]
