"""A refresh thread steps aside while the TUI handles input, never on the main thread,
and never longer than MAX_STEP."""

from __future__ import annotations

import gc
import sys
import threading

import pytest
from gotui.backends import yielding


@pytest.fixture(autouse=True)
def no_input_left() -> object:
    yield
    yielding.input_done()


def in_thread(results: list[float]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(yielding.step_aside()))
    thread.start()
    return thread


def test_a_thread_waits_until_the_input_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yielding, "MAX_STEP", 600.0)
    yielding.input_arrived(hold=600.0)
    results: list[float] = []
    thread = in_thread(results)
    thread.join(0.2)
    assert thread.is_alive() and not results  # still stepping aside: input pending
    yielding.input_done()
    thread.join(10)
    assert not thread.is_alive() and results[0] > 0


def test_a_step_aside_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yielding, "MAX_STEP", 0.05)
    yielding.input_arrived(hold=600.0)  # a UI that never says it is done
    results: list[float] = []
    in_thread(results).join(10)
    assert results and results[0] >= 0.05


def test_no_input_no_wait_and_never_on_the_main_thread() -> None:
    results: list[float] = []
    in_thread(results).join(10)
    assert results == [0.0]
    yielding.input_arrived(hold=600.0)
    assert yielding.step_aside() == 0.0  # the main thread is the UI: it never waits


def test_the_cyclic_gc_waits_while_input_is_handled() -> None:
    assert gc.isenabled()
    yielding.input_arrived()
    assert not gc.isenabled()
    yielding.input_done()
    assert gc.isenabled()


def test_a_gc_turned_off_by_someone_else_is_left_to_them() -> None:
    gc.disable()  # (the live reader, building a snapshot)
    try:
        yielding.input_arrived()
        yielding.input_done()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_input_never_said_done_gives_the_gc_back_once_it_is_no_longer_pending() -> None:
    yielding.input_arrived(hold=600.0)
    yielding.settle()
    assert not gc.isenabled()  # still being handled
    yielding.input_arrived(hold=0.0)
    yielding.settle()
    assert gc.isenabled()


def test_the_event_loop_gets_the_gil_back_within_the_switch_interval() -> None:
    old = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)  # CPython's default
        yielding.favour_the_event_loop()
        assert sys.getswitchinterval() == pytest.approx(yielding.SWITCH_INTERVAL, abs=1e-5)
        assert yielding.SWITCH_INTERVAL < 0.005
        sys.setswitchinterval(0.0002)  # shorter already: kept
        yielding.favour_the_event_loop()
        assert sys.getswitchinterval() == pytest.approx(0.0002, abs=1e-5)
    finally:
        sys.setswitchinterval(old)
