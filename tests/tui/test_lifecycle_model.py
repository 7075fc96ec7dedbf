"""The lifecycle aggregation (tui/lifecycle_model.py) from fake events and snapshots,
and the pure renderers of the panes built on it."""

from __future__ import annotations

from gotui.backends.model import Event, Goroutine, Location, Snapshot, TargetInfo
from gotui.backends.session import Session
from gotui.tui.ebpf_view import EbpfView
from gotui.tui.lifecycle_model import NO_SITE, LifecycleModel, site_key, timeline_row
from gotui.tui.widgets.lifecycle import lifetime_text, site_cells
from gotui.tui.widgets.probe_status import status_text
from gotui.tui.widgets.timeline import cell, timeline_lines
from gotui.tui.widgets.tracepoint_log import error_with_caret, hit_line

T0 = 1_700_000_000.0
SPAWN = {"function": "main.spawner", "file": "/src/main.go", "line": 42, "pc": 0}
WORKER = {"function": "main.worker", "file": "/src/main.go", "line": 30, "pc": 0}
OTHER = {"function": "main.serve", "file": "/src/serve.go", "line": 7, "pc": 0}


def created(goid: int, t: float, site: dict[str, object] = SPAWN, parent: int = 1) -> Event:
    return Event("created", t_ns=int(t * 1e9), goid=goid, parent_id=parent,
                 data={"go_statement": site, "start": WORKER})


def exited(goid: int, t: float, site: dict[str, object] = SPAWN) -> Event:
    return Event("exited", t_ns=int(t * 1e9), goid=goid,
                 data={"go_statement": site, "start": WORKER})


def g(goid: int, status: str = "waiting", reason: str = "chan receive",
      site: dict[str, object] = SPAWN, parent: int = 0) -> Goroutine:
    loc = Location(str(site["function"]), str(site["file"]), int(site["line"]))  # type: ignore[call-overload]
    return Goroutine(goid, status=status, wait_reason=reason, go_statement=loc,
                     start=Location("main.worker"), parent_id=parent)


def snap(*gs: Goroutine) -> Snapshot:
    return Snapshot(pid=1, goroutines=list(gs))


def test_events_give_rates_live_and_exact_lifetimes() -> None:
    m = LifecycleModel()
    m.add_snapshot(snap(g(1, site=OTHER)), T0)  # main, alive before we looked
    for i in range(20):  # 20 created over 2 s at the spawn site, 2 per 0.2 s
        m.add_event(created(100 + i, T0 + 0.1 * i))
    for i in range(10):  # the first 10 exit, each 0.5 s after its creation
        m.add_event(exited(100 + i, T0 + 0.1 * i + 0.5))
    assert m.source == "events"
    rows = m.rows(T0 + 2.0)
    spawn = next(r for r in rows if r.key == site_key(Location("main.spawner", "/src/main.go",
                                                                42)))
    assert (spawn.live, spawn.created_total, spawn.exited_total) == (10, 20, 10)
    # rates over the 2 s since the first event
    assert spawn.created_per_s == 10.0 and spawn.exited_per_s == 5.0
    assert spawn.mean_lifetime is not None and abs(spawn.mean_lifetime - 0.5) < 1e-6
    assert rows[0] is spawn  # sorted by live: 10 before main's 1
    assert site_cells(spawn)[:4] == ("10", "10.0", "5.0", "500ms")
    assert m.parent_chain(105, alive={1}.__contains__) == [(1, True)]


def test_an_exit_of_a_goroutine_born_before_the_probes_counts_without_a_lifetime() -> None:
    m = LifecycleModel()
    m.add_snapshot(snap(g(7), g(8)), T0)
    m.add_event(exited(7, T0 + 1))
    row = m.rows(T0 + 1)[0]
    assert (row.live, row.exited_total, row.mean_lifetime) == (1, 1, None)
    assert lifetime_text(row.mean_lifetime) == "—"


def test_snapshot_diffs_are_the_fallback_with_refresh_resolution() -> None:
    m = LifecycleModel()
    m.add_snapshot(snap(g(1), g(2)), T0)  # there before: not "created"
    m.add_snapshot(snap(g(1), g(2), g(3), g(4)), T0 + 1)
    m.add_snapshot(snap(g(1), g(4)), T0 + 2)  # 2 (old) and 3 (born at T0+1) gone
    assert m.source == "snapshots" and "1 s resolution" in m.resolution
    row = m.rows(T0 + 2)[0]
    assert (row.live, row.created_total, row.exited_total) == (2, 2, 2)
    assert row.mean_lifetime == 1.0  # only goroutine 3's birth was seen
    assert m.created_at(4) == (T0 + 1, False)
    assert m.created_at(1) is None


def test_snapshots_reconcile_events_lost_or_not_yet_seen() -> None:
    m = LifecycleModel()
    m.add_snapshot(snap(g(1)), T0)
    m.add_event(created(50, T0 + 0.5))
    m.add_event(created(51, T0 + 9.5))
    # goroutine 50's exit was lost; 51 is too young to be in a snapshot taken now
    m.add_snapshot(snap(g(1)), T0 + 10)
    assert m.lives.keys() == {1, 51}
    row = m.rows(T0 + 10)[0]
    assert row.live == 2 and row.exited_total == 0  # a lost exit is no exit rate


def test_parent_chain_says_which_parents_exited() -> None:
    m = LifecycleModel()
    m.add_event(created(10, T0, parent=1))
    m.add_event(created(20, T0 + 1, parent=10))
    m.add_event(created(30, T0 + 2, parent=20))
    assert m.parent_chain(30, {1, 30}.__contains__) == [(20, False), (10, False), (1, True)]
    view = EbpfView(session=Session(TargetInfo()))  # no backends: no feed
    view.model = m
    text = view.lineage_text(30, {1, 30}.__contains__)
    assert text.startswith("g30 created ")
    assert text.endswith("parent exited (g20) ← g10 exited ← g1")


def test_timeline_rows_from_snapshots_and_deep_events() -> None:
    m = LifecycleModel()
    m.add_snapshot(snap(g(1, "running", ""), g(2), g(3), g(4, reason="sleep")), T0)
    assert m.timeline[int(T0)] == {"running": 1, "chan recv": 2, "sleep": 1}
    # deep mode: 3 goroutines block on a mutex within the next second
    for goid in (2, 3, 4):
        m.add_event(Event("blocked", t_ns=int((T0 + 1.2) * 1e9), goid=goid,
                          data={"wait_reason": "sync.Mutex.Lock"}))
    assert m.deep and m.timeline[int(T0) + 1]["sync"] == 3
    assert m.timeline[int(T0) + 1]["running"] == 1  # a new second starts from the counts
    m.add_event(Event("unblocked", t_ns=int((T0 + 1.5) * 1e9), goid=2))
    assert m.counts["sync"] == 2 and m.counts["runnable"] == 1
    cols = m.timeline_columns(T0 + 1, 3)
    assert cols[0] is None and cols[1] is not None and cols[2] is not None
    # a second without an observation holds the one before, for up to 2 s
    later = m.timeline_columns(T0 + 4, 4)
    assert later[0] is m.timeline[int(T0) + 1] and later[1] is later[0]
    assert later[2] is later[0] and later[3] is None
    assert timeline_row("waiting", "semacquire") == "sync"
    assert timeline_row("waiting", "IO wait") == "IO wait"


def test_timeline_lines_draw_heights_that_read_without_colour() -> None:
    cols: list[dict[str, int] | None] = [None, {"running": 1, "sleep": 8},
                                         {"running": 2, "sleep": 4}]
    lines = [line.plain for line in timeline_lines(cols)]
    assert lines == ["running         2  ▄█ ≤2", "sleep           4  █▄ ≤8"]
    assert cell(1, 100) == "▁" and cell(0, 5) == " " and cell(5, 5) == "█"


def test_no_go_statement_is_its_own_site_and_not_a_filter() -> None:
    assert site_key(Location()) == NO_SITE
    m = LifecycleModel()
    m.add_snapshot(snap(Goroutine(1)), T0)
    assert m.rows(T0)[0].filter_text == ""


def test_status_line_says_why_off_and_what_the_guard_did() -> None:
    off = Event("probes", message="eBPF tracing needs root", data={"available": False})
    assert status_text(off).plain.startswith("eBPF off: eBPF tracing needs root")
    probes = [{"key": "created", "state": "on", "attached": True, "hits_per_s": 120.0,
               "est_cpu": 0.0006},
              {"key": "blocked", "state": "off", "attached": False, "hits_per_s": 41000.0,
               "est_cpu": 0.2}]
    on = Event("probes", data={"available": True, "probes": probes, "lost": 3,
                               "budget": 0.03, "deep": True})
    guard = Event("guard", data={"probe": "blocked", "duty": 0.0625, "hits_per_s": 41000.0})
    text = status_text(on, {"blocked": guard}).plain
    assert "guard: blocked detached at 41.0k hits/s, sampling 1/16 ·" in text
    assert "new 120/s" in text and "lost 3" in text


def test_tracepoint_log_lines_and_condition_errors() -> None:
    ev = Event("tracepoint", t_ns=int(T0 * 1e9), goid=42,
               data={"probe": "tp1", "function": "main.hot", "args": {"i": 500, "s": "x"}})
    assert hit_line(ev).plain.endswith("g42 tp1 main.hot i=500 s='x'")
    shown = error_with_caret("i == 1 && nope > 2", "cond: unknown name 'nope' at column 11")
    assert shown.splitlines()[1:] == ["  i == 1 && nope > 2", "            ^"]
