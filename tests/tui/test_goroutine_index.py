"""GoroutineIndex: filter, sort, group, collapse, new/gone marks, without Textual."""

from __future__ import annotations

import pytest
from gotui.backends.formats import human_duration as format_ns
from gotui.backends.model import Goroutine, Location
from gotui.tui.goroutine_index import GoroutineIndex, sparkline

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
    assert [(k.split()[0], n) for k, n in index.groups] == [
        ("main.main", 10), ("main.serve", 10), ("main.startPollers", 10)]
    assert index.row_count == 33
    key = index.groups[0][0]
    index.toggle_group(key)
    assert index.row_count == 23
    assert index.group_at(0) == (key, 10)
    # jumping to a goroutine in a collapsed group opens that group
    row = index.row_of(3)
    assert row is not None and index.goroutine_at(row) is not None
    assert index.goroutine_at(row).id == 3  # type: ignore[union-attr]
    assert key not in index.collapsed
    index.set_all_collapsed(True)
    assert index.row_count == 3
    index.set_filter("status:syscall")
    assert sum(n for _, n in index.groups) == 6


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
