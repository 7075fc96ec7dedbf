"""The cyclic GC runs between keys, one generation at a time, never during input."""

from __future__ import annotations

import gc
import time

import pytest
from gotui.backends import yielding
from gotui.tui import gc_pacing
from gotui.tui.cli import GC_THRESHOLDS


@pytest.fixture(autouse=True)
def clean_gc() -> object:
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)  # gotui's: young collections come from the pacing
    gc.collect()
    yielding._last_input = float("-inf")  # no input yet
    gc_pacing._full_due_at = 0.0
    yield
    yielding.input_done()
    gc.enable()
    gc.set_threshold(*before)


def young_garbage(n: int) -> list[list[int]]:
    return [[i] for i in range(n)]  # tracked objects


def test_nothing_to_collect_collects_nothing() -> None:
    assert gc_pacing.collect_between_keys() == -1


def test_young_objects_are_collected_between_keys() -> None:
    kept = young_garbage(2 * gc_pacing.YOUNG)
    assert gc_pacing.collect_between_keys() == 0
    assert gc.get_count()[0] < gc_pacing.YOUNG
    del kept


def test_never_while_input_is_handled_nor_while_a_thread_holds_it_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    kept = young_garbage(2 * gc_pacing.YOUNG)
    yielding.input_arrived()
    assert gc_pacing.collect_between_keys() == -1
    yielding.input_done()
    assert gc_pacing.collect_between_keys() == -1  # input was not quiet for long
    monkeypatch.setattr(yielding, "_last_input", time.monotonic() - gc_pacing.QUIET)
    gc.disable()  # (the live reader, building a snapshot)
    assert gc_pacing.collect_between_keys() == -1
    gc.enable()
    assert gc_pacing.collect_between_keys() == 0
    del kept


def test_older_generations_follow_at_their_ratios() -> None:
    for _ in range(gc_pacing.MIDDLE_AFTER):
        gc.collect(0)
    assert gc_pacing.collect_between_keys() == 1
    for _ in range(gc_pacing.OLD_AFTER):
        gc.collect(1)
    assert gc_pacing.collect_between_keys() == 2
    assert gc.get_count()[1:] == (0, 0)


def test_full_collections_take_a_small_share_of_the_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    kept = [young_garbage(100) for _ in range(2000)]  # a full collection takes a while
    for _ in range(gc_pacing.OLD_AFTER):
        gc.collect(1)
    started = time.monotonic()
    assert gc_pacing.collect_between_keys() == 2
    took = time.monotonic() - started
    for _ in range(gc_pacing.OLD_AFTER):
        gc.collect(1)
    assert gc_pacing.collect_between_keys() != 2  # too soon: its time would be a big share
    assert gc_pacing._full_due_at >= started + took / gc_pacing.FULL_SHARE
    monkeypatch.setattr(gc_pacing, "_full_due_at", time.monotonic())
    assert gc_pacing.collect_between_keys() == 2
    del kept
