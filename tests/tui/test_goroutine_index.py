"""GoroutineIndex: filter, sort, group, collapse, new/gone marks, without Textual."""

from __future__ import annotations

import pytest
from gotui.backends.formats import human_duration as format_ns
from gotui.backends.model import Goroutine, Location
from gotui.tui import goroutine_index
from gotui.tui.goroutine_index import GoroutineIndex, Members, of_shapes, sparkline

from tests.tui.fakes import make_goroutine

SRC = "/src/app/main.go"


def goroutines(ids: list[int]) -> list[Goroutine]:
    return [make_goroutine(i, SRC) for i in ids]


def visible_ids(index: GoroutineIndex) -> list[int]:
    return [r for r in index.rows_between(0, index.row_count) if r >= 0]


def test_filter_substring_status_and_location() -> None:
    index = GoroutineIndex()
    index.update(goroutines(list(range(1, 21))))
    index.set_filter("main.worker")
    assert visible_ids(index) == [5, 10, 15, 20]
    index.set_filter("status:sys")
    assert visible_ids(index) == [2, 7, 12, 17]
    index.set_filter("main.poller main.go:23")  # terms AND, file:line matches
    assert visible_ids(index) == [2, 7, 12, 17]
    index.set_filter("status:waiting chan")
    assert visible_ids(index) == [5, 10, 15, 20]
    index.set_filter("worker=1")  # labels
    assert visible_ids(index) == [4, 16]
    index.set_filter("")
    assert visible_ids(index) == list(range(1, 21))


def test_sort_by_wait_and_status() -> None:
    index = GoroutineIndex()
    index.update(goroutines(list(range(1, 15))))
    index.set_sort("wait")
    ids = visible_ids(index)
    waits = [index.data.live[i].wait_ns for i in ids]
    assert waits == sorted(waits, reverse=True)
    index.set_sort("status")
    statuses = [index.data.live[i].status for i in visible_ids(index)]
    assert statuses[0] == "running"
    assert statuses.index("runnable") < statuses.index("syscall") < statuses.index("waiting")
    with pytest.raises(ValueError):
        index.set_sort("bogus")


def test_group_collapse_and_jump_expands() -> None:
    index = GoroutineIndex()
    index.update(goroutines(list(range(1, 31))))
    index.set_group("go")
    # goroutine 1 is the main goroutine, started by the runtime: a group of its own
    assert [(k.split()[0], n) for k, n in index.groups] == [
        ("main.main", 10), ("main.startPollers", 10), ("main.serve", 9), ("(main", 1)]
    assert index.row_count == 34
    key = index.groups[0][0]
    index.toggle_group(key)
    assert index.row_count == 24
    assert index.group_at(0) == (key, 10)
    # jumping to a goroutine in a collapsed group opens that group
    member = next(g.id for g in index.data.live.values()
                  if key.startswith(g.go_statement.function))
    row = index.row_of(member)
    assert row is not None and index.goroutine_at(row) is not None
    assert index.goroutine_at(row).id == member  # type: ignore[union-attr]
    assert key not in index.collapsed
    index.set_all_collapsed(True)
    assert index.row_count == 4
    index.set_filter("status:syscall")
    assert sum(n for _, n in index.groups) == 6


def test_location_is_the_programs_own_code_and_u_toggles_it() -> None:
    """own_current (the first frame of the main module) is the column and the grouping;
    the runtime-style location (first non-runtime frame) on toggle."""
    from gotui.backends.model import Goroutine, Location

    sleepers = [Goroutine(i, wait_reason="sleep", wait_ns=5 * 10**9, wait_basis="gc",
                          current=Location("runtime.gopark", "proc.go", 460),
                          user_current=Location("time.Sleep", "time.go", 363),
                          own_current=Location(f"main.f{i % 2}", "main.go", 50 + i % 2))
                for i in range(2, 8)]
    index = GoroutineIndex()
    index.update(sleepers)
    index.set_group("location")
    assert sorted(n for _, n in index.groups) == [3, 3]
    assert all(k.startswith("main.f") for k, _ in index.groups)
    assert index.toggle_location() == "runtime"
    assert index.groups == [("time.Sleep time.go:363", 6)]
    assert index.toggle_location() == "own"


def test_new_and_gone_marks_last_one_refresh() -> None:
    index = GoroutineIndex()
    index.update(goroutines([1, 2, 3]))
    assert [index.data.mark(i) for i in (1, 2, 3)] == [" "] * 3  # the first marks nothing
    index.update(goroutines([1, 3, 4]))
    assert {i: index.data.mark(i) for i in (1, 2, 3, 4)} == {1: " ", 3: " ", 4: "+", 2: "-"}
    assert (index.data.new_count, index.data.gone_count) == (1, 1)
    assert index.data.counts == {"running": 1, "runnable": 1, "waiting": 1}
    index.set_filter("is:gone")
    assert visible_ids(index) == [2]
    index.update(goroutines([1, 3, 4]))
    assert index.data.goroutine(2) is None  # gone ones are shown for one refresh only
    assert [index.data.mark(i) for i in (1, 3, 4)] == [" "] * 3


def test_summary_history_and_helpers() -> None:
    index = GoroutineIndex()
    for n in (3, 5, 9):
        index.update(goroutines(list(range(1, n + 1))))
    assert list(index.total_history) == [3, 5, 9]
    assert sparkline([1, 2, 3]) == "▁▄█"
    assert sparkline([4, 4]) == "▁▁"
    assert format_ns(0) == "" and format_ns(61_000_000_000) == "1m01s"
    assert format_ns(2 * 3600 * 10**9) == "2h00m"


def test_grouping_handles_empty_locations() -> None:
    g = Goroutine(id=9, current=Location("runtime.gopark", "proc.go", 1))
    index = GoroutineIndex()
    index.update([g])
    index.set_group("location")
    assert index.groups == [("runtime.gopark proc.go:1", 1)]


def test_incremental_filter_matches_a_fresh_filter() -> None:
    index = GoroutineIndex()
    index.update(goroutines(list(range(1, 60))))
    fresh = GoroutineIndex()
    fresh.update(goroutines(list(range(1, 60))))
    for text in ["s", "st", "status", "status:", "status:w", "status:wa", "m", "ma", "main.w", "main.wo", "main.w", "main.worker 1", "main.worker 15",
                 "status:w", "status:wa", "i", "is:", "is:n", "is:new", ""]:
        index.set_filter(text)
        fresh.set_filter("")  # not narrowed from the last text
        fresh.set_filter(text)
        assert visible_ids(index) == visible_ids(fresh), text
    index.update(goroutines(list(range(1, 70))))  # a new snapshot is not narrowed by the old
    index.set_filter("main.worker")
    assert 65 in visible_ids(index)


def test_waits_are_lower_bounds_unless_ebpf_saw_the_park() -> None:
    from gotui.backends.model import Goroutine
    from gotui.tui.goroutine_index import exact_waits, wait_text

    gc = Goroutine(7, wait_reason="chan receive", wait_ns=192 * 10**9, wait_basis="gc")
    assert wait_text(gc) == "≥3m12s"  # g.waitsince: set by the first GC that saw it
    fresh = Goroutine(8, wait_reason="chan receive")
    assert wait_text(fresh) == ""  # no GC since it parked: unknown, not "0s"
    now = 10**12
    parked = {7: now - 200 * 10**9, 8: now - 2 * 10**9, 9: now - 10**9}
    running = Goroutine(9, status="running")
    out = exact_waits([gc, fresh, running], parked, now)
    assert [wait_text(g) for g in out] == ["3m20s", "2s", ""]
    assert out[0].wait_basis == "park" and gc.wait_basis == "gc"  # copies
    # a park time younger than the runtime's lower bound: an event was missed
    assert exact_waits([gc], {7: now - 10**9}, now)[0] is gc


def test_a_groups_members_are_listed_only_as_far_as_asked() -> None:
    goids = list(range(1, 100_001))
    shape_of = {g: g % 3 for g in goids}  # shape 1 is group "a": every third goroutine
    members = Members(of_shapes(goids, shape_of, bytes([0, 1, 0])))
    every = [g for g in goids if g % 3 == 1]
    assert members[0] == 1 and members[5] == 16
    assert len(members.listed) < 1_000 and not members.whole  # not the 33,334 of them
    assert members.position(301, lambda g: g) == every.index(301)
    assert len(members.listed) < 1_000
    assert members.position(100_000, lambda g: g) == len(every) - 1 and members.whole
    assert members.position(99_998, lambda g: g) is None  # not a member
    assert [members[i] for i in range(len(every))] == every


def test_a_filter_counts_its_matches_and_lists_only_the_rows_asked_for() -> None:
    index, fresh = GoroutineIndex(), GoroutineIndex()
    for idx in (index, fresh):
        idx.update(goroutines(list(range(1, 20_001))))
        idx.update(goroutines(list(range(1, 19_001))))  # 1,000 gone, struck out
        idx.set_sort("status")
    texts = ["main.worker", "status:wait", "0xc000020060", "chan", "gone", "worker=1",
             "main.poller gone", "status:waiting chan", "no such text"]
    for text in texts:
        index.set_filter(text)
        matched = index.view.matched
        assert isinstance(matched, Members) and len(matched.listed) < 1_000, text
        shown = visible_ids(index)  # (lists them all)
        assert index.matched == len(shown), text
        assert shown == [g for g in fresh.view.matched
                         if all(_matches(fresh, g, t) for t in text.lower().split())], text
    index.set_filter("main.worker")
    assert index.row_of(15_000) == visible_ids(index).index(15_000)
    assert index.row_of(15_001) is None  # not a worker


def _matches(index: GoroutineIndex, goid: int, term: str) -> bool:
    data = index.data
    if term.startswith("status:"):
        return index.status_of(goid).startswith(term[len("status:"):])
    shape = index.shapes[data.shape_of[goid]]
    gone = goid in data.gone and term in " gone"
    return term in shape.hay or term in data.extra.get(goid, "") or gone


def test_a_refresh_steps_aside_between_the_orders_it_patches(
        monkeypatch: pytest.MonkeyPatch) -> None:
    index = GoroutineIndex()
    index.update(goroutines(list(range(1, 50))))
    steps: list[int] = []
    monkeypatch.setattr(goroutine_index, "step_aside", lambda: steps.append(1) or 0.0)
    index.update(goroutines(list(range(2, 52))))  # one gone, two new
    assert len(steps) >= 3  # one before each of the three orders
    assert visible_ids(index) == list(range(1, 52))  # (1 struck out, for one refresh)
