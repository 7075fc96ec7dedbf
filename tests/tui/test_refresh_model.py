"""The refresh pipeline works from what changed between snapshots; what it keeps must be
what a fresh computation over the whole snapshot gives. Sequences of snapshots are made
the way their producers make them: an unchanged goroutine is the same object, one
that only waited longer is a copy with a new wait_ns (the joiner's RemoteSession; the
live reader keeps the object and counts its wait on its clock) or new lock marks, one
that changed is a new object."""

from __future__ import annotations

import copy
import random
from collections import Counter

from gotui.backends.analysis import (
    BlockingTracker,
    FindingsInput,
    blocking_groups,
    findings,
    is_system,
    summarize,
)
from gotui.backends.model import BlockedOn, Channel, Goroutine, Location, Lock, Snapshot
from gotui.backends.waitfor import WaitGraph
from gotui.tui import goroutine_index
from gotui.tui.goroutine_index import GoroutineIndex, ViewSettings, build_view
from gotui.tui.lifecycle_model import Digester
from gotui.tui.refresh_model import RefreshModel
from gotui.tui.snapshot_changes import snapshot_changes
from hypothesis import given, settings
from hypothesis import strategies as st

SITES = [Location(f"main.site{i}", "/src/main.go", 10 + i) for i in range(4)]
FUNCS = [Location(f"main.f{i}", "/src/main.go", 40 + i) for i in range(5)]
RUNTIME = Location("runtime.gcBgMarkWorker", "/go/src/runtime/mgc.go", 1400)
SHAPES = [("waiting", "chan receive"), ("waiting", "sleep"), ("waiting", "select"),
          ("runnable", ""), ("running", ""), ("syscall", ""), ("waiting", "IO wait"),
          ("waiting", "sync.Mutex.Lock"), ("waiting", "sync.Cond.Wait"),
          ("waiting", "chan send (nil chan)"), ("waiting", "semacquire")]
CHANS = ["0xc0", "0xc8", "0xd0"]


def fresh(goid: int, rng: random.Random) -> Goroutine:
    """A goroutine as the reader makes a new one: containers of its own."""
    status, reason = rng.choice(SHAPES)
    chan = rng.choice(CHANS) if reason in ("chan receive", "select") and rng.random() < 0.7 \
        else ""
    waits = [BlockedOn(chan, "recv" if reason == "chan receive" else "select")] if chan else []
    system = rng.random() < 0.05
    return Goroutine(
        id=goid, status=status, wait_reason=reason,
        wait_ns=rng.choice([0, rng.randrange(1, 10**12)]) if reason else 0,
        labels={"tenant": rng.choice("ab")} if rng.random() < 0.2 else {},
        current=rng.choice(FUNCS), user_current=rng.choice(FUNCS),
        go_statement=rng.choice(SITES), start=RUNTIME if system else rng.choice(FUNCS),
        parent_id=rng.choice([0, 1, 2]), blocked_on=waits[0] if waits else None,
        waiting_on=waits,
        blocked_on_lock=rng.choice(["", "0xe0"]) if reason == "sync.Mutex.Lock" else "",
        stack_refs=["0xc0"] if rng.random() < 0.05 else [])


def copied(g: Goroutine, **changes: object) -> Goroutine:
    """A copy sharing g's containers (what the reader and the joiner make)."""
    c = copy.copy(g)
    for k, v in changes.items():
        setattr(c, k, v)
    return c


def snapshots(seed: int, n: int, steps: int) -> list[Snapshot]:
    rng = random.Random(seed)
    gs = {goid: fresh(goid, rng) for goid in range(1, n + 1)}
    next_id = n + 1
    out = []
    t = 1_700_000_000.0
    for _ in range(steps):
        chans = [Channel(c, "int", 0, 1, receivers=sorted(
            g.id for g in gs.values() if g.blocked_on and g.blocked_on.chan == c)[:2])
            for c in CHANS]
        holder = [rng.choice(sorted(gs))] if gs and rng.random() < 0.5 else []
        locks = [Lock("0xe0", "mutex", waiters=sorted(
            g.id for g in gs.values() if g.blocked_on_lock == "0xe0"), holders=holder,
            holders_basis="inferred" if holder else "unknown")]
        out.append(Snapshot(pid=7, taken_at=t, goroutines=list(gs.values()), channels=chans,
                            locks=locks))
        t += 1.0
        for goid, g in list(gs.items()):
            roll = rng.random()
            if roll < 0.05:
                del gs[goid]
            elif roll < 0.15:
                gs[goid] = fresh(goid, rng)
            elif roll < 0.18:
                gs[goid] = copied(g, stack_refs=["0xc8"] if not g.stack_refs else [])
            elif g.wait_ns:
                gs[goid] = copied(g, wait_ns=g.wait_ns + 1_000_000_000)
        for _ in range(rng.randrange(0, 4)):
            gs[next_id] = fresh(next_id, rng)
            next_id += 1
    return out


def by_id(snap: Snapshot) -> list[Goroutine]:
    return sorted(snap.goroutines, key=lambda g: g.id)


def test_a_new_object_sharing_only_its_kinds_empty_lists_is_compared() -> None:
    """The live reader gives goroutines of a kind one empty stack, waiting_on and
    stack_refs: a goroutine that moved, same kind, is a new object with them. Only a
    shared labels dict marks a copy, so the move is seen."""
    empty: list[object] = []
    here, there = Location("main.a", "/m.go", 1, 0x10), Location("main.b", "/m.go", 2, 0x20)

    def made(where: Location) -> Goroutine:
        return Goroutine(id=7, current=where, user_current=where, labels={}, stack=empty,  # type: ignore[arg-type]
                         waiting_on=empty, stack_refs=empty)  # type: ignore[arg-type]

    old, new = made(here), made(there)
    ch = snapshot_changes({7: old}, [new])
    assert ch.changed == [(old, new)]
    copy_of_old = copy.copy(old)  # what the reader makes when only the wait began anew
    assert snapshot_changes({7: old}, [copy_of_old]).changed == []


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 60), st.integers(2, 6))
def test_changes_are_what_a_field_by_field_comparison_finds(seed: int, n: int,
                                                            steps: int) -> None:
    snaps = snapshots(seed, n, steps)
    for before, after in zip(snaps, snaps[1:], strict=False):
        prev = {g.id: g for g in before.goroutines}
        ch = snapshot_changes(prev, after.goroutines)
        now = {g.id: g for g in after.goroutines}
        assert sorted(g.id for g in ch.added) == sorted(now.keys() - prev.keys())
        assert sorted(g.id for g in ch.gone) == sorted(prev.keys() - now.keys())
        really = set()
        for goid in now.keys() & prev.keys():
            a, b = prev[goid], now[goid]
            if a is not b and (
                    {**vars(a), "wait_ns": 0} != {**vars(b), "wait_ns": 0}
                    or (a.wait_ns == 0) != (b.wait_ns == 0)
                    or (a.wait_ns and b.wait_ns - a.wait_ns != 1_000_000_000)):
                really.add(goid)
        assert {new.id for _, new in ch.changed} == really


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 80), st.integers(2, 6),
       st.sampled_from(["", "main.f1", "status:wait", "is:new", "is:gone", "0xc0", "1",
                        "gone", "tenant=a main"]),
       st.sampled_from(["id", "wait", "status"]),
       st.sampled_from(["none", "location", "go", "start", "label"]),
       st.sampled_from([2, goroutine_index.SMALL_SHAPE]))
def test_the_index_kept_per_change_is_a_fresh_index(seed: int, n: int, steps: int,
                                                    text: str, sort: str, group: str,
                                                    small: int) -> None:
    """(`small`: shapes listed per shape up to this size: groups of small shapes list
    their members from those lists, others by a scan of the whole list)"""
    limit = goroutine_index.SMALL_SHAPE
    goroutine_index.SMALL_SHAPE = small
    try:
        index_kept_per_change_is_fresh(seed, n, steps, text, sort, group)
    finally:
        goroutine_index.SMALL_SHAPE = limit


def index_kept_per_change_is_fresh(seed: int, n: int, steps: int, text: str, sort: str,
                                   group: str) -> None:
    snaps = snapshots(seed, n, steps)
    kept = GoroutineIndex()
    for snap in snaps:
        kept.update(snap.goroutines, snap.taken_at)
    fresh_index = GoroutineIndex()  # the last two snapshots only: same marks
    for snap in snaps[-2:]:
        fresh_index.update(snap.goroutines, snap.taken_at)
    for key in ("id", "status", "wait"):
        assert kept.data.orders[key] == fresh_index.data.orders[key]
    for index in (kept, fresh_index):
        index.set_sort(sort)
        index.set_group(group)
        index.set_filter(text)
    assert kept.groups == fresh_index.groups
    assert kept.row_count == fresh_index.row_count
    assert kept.rows_between(0, kept.row_count) == fresh_index.rows_between(
        0, fresh_index.row_count)
    assert kept.data.counts == fresh_index.data.counts
    def per_shape(index: GoroutineIndex) -> Counter[object]:  # (shape ids differ)
        shapes = index.shapes
        out: Counter[object] = Counter()
        for sid, n in index.data.shape_counts.items():
            out[(shapes[sid].hay, shapes[sid].groups)] += n
        return out

    assert per_shape(kept) == per_shape(fresh_index)
    ever = {g.id for snap in snaps for g in snap.goroutines}
    for index in (kept, fresh_index):  # the member lists of small shapes
        data = index.data
        for sid, goids in data.small.items():
            assert sorted(goids) == sorted(g for g, s in data.shape_of.items() if s == sid)
        if len(ever) <= goroutine_index.SMALL_SHAPE:  # no shape ever grew past it
            assert data.small.keys() == data.shape_counts.keys()
        view = index.view  # each group's members: its goroutines of the list, in order
        for i, (key, count) in enumerate(view.groups):
            members = view.members(i)
            assert [members[j] for j in range(count)] == [
                g for g in view.matched if view.group_of(g) == key]
    assert (kept.data.new, set(kept.data.gone)) == (fresh_index.data.new,
                                                    set(fresh_index.data.gone))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 60), st.integers(2, 6))
def test_trackers_give_what_the_batch_rules_give(seed: int, n: int, steps: int) -> None:
    snaps = snapshots(seed, n, steps)
    blocking, pruning = BlockingTracker(), FindingsInput()
    prev: dict[int, Goroutine] = {}
    history_full, history_pruned = [], []
    for snap in snaps:
        ch = snapshot_changes(prev, snap.goroutines)
        prev = ch.by_id
        blocking.update(ch.added, ch.changed, ch.gone)
        pruning.update(ch.added, ch.changed, ch.gone)
        whole = Snapshot(pid=7, taken_at=snap.taken_at, goroutines=by_id(snap),
                         channels=snap.channels, locks=snap.locks)
        assert blocking.groups(prev.get, snap.channels, snap.locks) == blocking_groups(
            whole.goroutines, snap.locks)
        pruned = pruning.snapshot(whole, prev.get)
        assert findings(pruned, history_pruned) == findings(whole, history_full)
        # (the chain a finding shows goes through lock holders, running or not)
        for g in whole.goroutines:  # (findings are about user goroutines)
            if (g.blocked_on_lock or g.waiting_on) and not is_system(g):
                assert WaitGraph(pruned).chain(g.id) == WaitGraph(whole).chain(g.id)
        assert summarize(pruned) == summarize(whole)
        history_full.append(summarize(whole))
        history_pruned.append(summarize(pruned))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 60), st.integers(2, 6))
def test_the_lifecycle_digest_kept_per_change_is_a_fresh_one(seed: int, n: int,
                                                             steps: int) -> None:
    kept = Digester()
    for snap in snapshots(seed, n, steps):
        kept.digest(snap, snap.taken_at)
        alone = Digester()
        d = alone.digest(snap, snap.taken_at)
        assert kept.sites == alone.sites and kept.rows == alone.rows
        assert {r: c for r, c in kept.counts.items() if c} == d.counts


def test_a_refresh_where_nothing_changed_does_no_work() -> None:
    snaps = snapshots(3, 200, 1)
    model = RefreshModel(GoroutineIndex().shapes, Digester())
    first = model.build(snaps[0], ViewSettings())
    again = model.build(Snapshot(pid=7, taken_at=snaps[0].taken_at + 1,
                                 goroutines=list(snaps[0].goroutines),
                                 channels=snaps[0].channels, locks=snaps[0].locks),
                        ViewSettings())
    assert again.changed == 0
    assert again.data.orders is first.data.orders  # nothing re-sorted
    assert again.data.shape_of is first.data.shape_of
    assert again.view.matched is first.view.matched  # nor re-filtered
    assert build_view(again.data, model.shapes, ViewSettings()).matched == again.view.matched
