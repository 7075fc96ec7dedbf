"""LiveGoroutine: a wait counted on the reader's clock, and a Goroutine to everyone else."""

from __future__ import annotations

import copy
import dataclasses

from gotui.backends.model import Goroutine, JsonConverter, goroutine_from_json, to_json
from gotui.backends.waitclock import BASE, LiveGoroutine, WaitClock, on_clock, on_clock_from_now


def live(goid: int, clock: WaitClock, since: int) -> LiveGoroutine:
    g = LiveGoroutine(goid, status="waiting", wait_reason="chan receive",
                      wait_basis="gc" if since else "")
    on_clock(g.__dict__, clock, since)
    return g


def test_the_wait_counts_to_the_clock_and_the_object_stays() -> None:
    clock = WaitClock()
    clock.now = 10_000
    g, idle = live(1, clock, 4_000), live(2, clock, 0)
    assert (g.wait_ns, g.wait_basis, idle.wait_ns, idle.wait_basis) == (6_000, "gc", 0, "")
    clock.now = 25_000
    assert g.wait_ns == 21_000 and idle.wait_ns == 0
    assert copy.copy(g).wait_ns == 21_000  # a copy counts on the same clock


def test_a_wait_set_by_hand_holds() -> None:
    clock = WaitClock()
    clock.now = 10_000
    g = live(1, clock, 4_000)
    exact = dataclasses.replace(g, wait_ns=9_000, wait_basis="park")  # eBPF saw the park
    clock.now = 50_000
    assert exact.wait_ns == 9_000 and exact.wait_basis == "park"
    assert g.wait_ns == 46_000


def test_it_is_a_goroutine_to_json_and_to_equality() -> None:
    clock = WaitClock()
    clock.now = 10_000
    g = live(7, clock, 4_000)
    d = to_json(g)
    assert d["wait_ns"] == 6_000 and not any(k.startswith("_") for k in d)
    assert JsonConverter().text(g) == JsonConverter().text(goroutine_from_json(d))
    plain = goroutine_from_json(d)
    assert g == plain and plain == g
    clock.now = 11_000
    assert g != plain and plain != g  # it waited longer
    assert g != Goroutine(8)


def test_a_goroutine_read_back_counts_on_from_its_wait_then() -> None:
    clock = WaitClock()
    clock.now = BASE + 3_000
    g = on_clock_from_now(Goroutine(4, status="waiting", wait_ns=10_000, wait_basis="park"),
                          clock)
    idle = on_clock_from_now(Goroutine(5, status="runnable"), clock)
    assert (g.wait_ns, g.wait_basis, idle.wait_ns) == (10_000, "park", 0)
    clock.now += 500
    assert (g.wait_ns, idle.wait_ns) == (10_500, 0)
