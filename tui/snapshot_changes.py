"""What changed between two snapshots: the input of every incremental part of a refresh.

The live reader reuses a Goroutine object whose g record did not change (copy on write,
backends/live/reader.py; its wait counts on the reader's clock, so a longer wait is the
same object: backends/waitclock.py), and copies it when its wait began anew or its
lock / stack_refs marks moved; the joiner's RemoteSession copies one whose wait time
grew.
So most goroutines of a big program are the same object as last time, or a copy that
shares the old one's containers. Telling which ones really changed is done in a few
C-level passes (map / compress / attrgetter, no Python code per goroutine); only the
changed ones are looked at in Python.

The contract with snapshot producers (snapshots are read-only once made): a new
object that shares its predecessor's `labels` dict is a copy of it whose locations,
labels, stack and channel list did not change (the reader, Delve and gdb make a new
object with containers of its own when they do); its wait_ns may have grown by the
time between the reads, and its status, wait reason, channel, lock and stack_refs
are compared. Objects that are neither the same nor such a copy are compared field by
field, and a wait that did not grow like everyone else's counts as a change (the
goroutine woke up and parked again between the reads).

Pure Python, no Textual: it runs in a worker thread.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from itertools import compress, repeat
from operator import attrgetter, eq, is_, is_not, lt, ne, not_, sub

from gotui.backends.model import Goroutine
from gotui.backends.yielding import step_aside

GOID = attrgetter("id")
WAIT = attrgetter("wait_ns")
# every field but id and wait_ns, in one C call (tuple == compares `is` first)
_FIELDS = tuple(f.name for f in dataclasses.fields(Goroutine) if f.name not in ("id", "wait_ns"))
FIELDS = attrgetter(*_FIELDS)
LABELS = attrgetter("labels")
# what a copy may change besides wait_ns (the reader's lock marks), and what a copy
# made with dataclasses.replace() most likely changed: compared on every copy
MARKS = attrgetter("blocked_on_lock", "stack_refs", "status", "wait_reason", "blocked_on",
                   "parent_id", "wait_basis")
# a wait that grew by more or less than the others' by this much started anew
WAIT_TOLERANCE_NS = 100_000_000
CHUNK = 16_384  # C-level passes over more than this go in pieces: other threads get the GIL
_ABSENT = Goroutine(-1, status="\0")  # stands for "not in the previous snapshot"


@dataclass(frozen=True)
class SnapshotChanges:
    """`by_id`: every goroutine of the new snapshot. `added`: goroutines new since the
    previous one; `changed`: (before, now) pairs; `gone`: goroutines of the previous
    snapshot that are not in this one. `wait_growth_ns`: how much the wait of an
    unchanged waiting goroutine grew (the time between the two reads)."""

    by_id: dict[int, Goroutine]
    added: list[Goroutine]
    changed: list[tuple[Goroutine, Goroutine]]
    gone: list[Goroutine]
    wait_growth_ns: int = 0

    @property
    def first(self) -> bool:
        """The first snapshot: everything is new, nothing is marked."""
        return not self.changed and not self.gone and len(self.added) == len(self.by_id)

    @property
    def count(self) -> int:
        return len(self.added) + len(self.changed) + len(self.gone)


def _in_pieces(gs: list[Goroutine]) -> dict[int, Goroutine]:
    by_id: dict[int, Goroutine] = {}
    for i in range(0, len(gs), CHUNK):
        step_aside()
        part = gs[i:i + CHUNK]
        by_id.update(zip(map(GOID, part), part, strict=True))
    return by_id


def snapshot_changes(previous: dict[int, Goroutine], goroutines: list[Goroutine]
                     ) -> SnapshotChanges:
    """Compare `goroutines` (a new snapshot) with `previous` (the last one, by id)."""
    by_id = _in_pieces(goroutines)
    if not previous:
        return SnapshotChanges(by_id, list(by_id.values()), [], [])
    current = list(by_id.values())  # (a goid twice in the list: the reader's last wins)
    added: list[Goroutine] = []
    changed: list[tuple[Goroutine, Goroutine]] = []
    waited: list[Goroutine] = []  # other objects, same fields: did only the wait move?
    before: list[Goroutine] = []
    for i in range(0, len(current), CHUNK):  # (each piece a few ms of the GIL)
        step_aside()
        _compare(current[i:i + CHUNK], previous, added, changed, waited, before)
    growth = list(map(sub, map(WAIT, waited), map(WAIT, before)))
    dt = _common_growth(growth, current, previous)
    for g, old, grew in zip(compress(waited, map(ne, growth, repeat(dt))),
                            compress(before, map(ne, growth, repeat(dt))),
                            compress(growth, map(ne, growth, repeat(dt))), strict=True):
        if (g.wait_ns == 0) != (old.wait_ns == 0) or (
                g.wait_ns and abs(grew - dt) > WAIT_TOLERANCE_NS):
            changed.append((old, g))
    gone_ids = previous.keys() - by_id.keys()
    gone = [previous[i] for i in gone_ids]
    return SnapshotChanges(by_id, added, changed, gone, dt)


def _compare(part: list[Goroutine], previous: dict[int, Goroutine], added: list[Goroutine],
             changed: list[tuple[Goroutine, Goroutine]], waited: list[Goroutine],
             before: list[Goroutine]) -> None:
    """One piece of the new snapshot against the previous one (appends to the lists)."""
    olds = list(map(previous.get, map(GOID, part), repeat(_ABSENT)))
    differs = list(map(is_not, part, olds))
    news = list(compress(part, differs))
    olds = list(compress(olds, differs))
    # copies: only their wait time and lock marks may have moved
    copied = list(map(is_, map(LABELS, news), map(LABELS, olds)))
    marks_moved = list(map(ne, map(MARKS, compress(news, copied)),
                           map(MARKS, compress(olds, copied))))
    changed += zip(compress(compress(olds, copied), marks_moved),
                   compress(compress(news, copied), marks_moved), strict=True)
    # the others: field by field
    others = list(map(not_, copied))
    news, olds = list(compress(news, others)), list(compress(olds, others))
    same_fields = list(map(eq, map(FIELDS, news), map(FIELDS, olds)))
    for g, old in zip(compress(news, map(not_, same_fields)),
                      compress(olds, map(not_, same_fields)), strict=True):
        if old is _ABSENT:
            added.append(g)
        else:
            changed.append((old, g))
    waited += compress(news, same_fields)
    before += compress(olds, same_fields)


def _common_growth(growth: list[int], current: list[Goroutine],
                   previous: dict[int, Goroutine]) -> int:
    """How much an unchanged wait grew between the two snapshots: the most common growth
    (a few of the goroutines compared field by field, or else of a sample of all)."""
    if not any(growth):
        sample = [g for g in current[:256] if g.wait_ns]
        growth = [g.wait_ns - p.wait_ns for g in sample
                  if (p := previous.get(g.id)) is not None and p.wait_ns]
    common = Counter(compress(growth, map(lt, repeat(0), growth))).most_common(1)
    return common[0][0] if common else 0
