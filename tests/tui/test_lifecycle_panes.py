"""The eBPF panes in the app: a real EbpfFeed (its thread, its commands) over a fake
Tracer that emits lifecycle and tracepoint events, and the fake target of fakes.py."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from gotui.backends.ebpf.feed import EbpfFeed
from gotui.backends.ebpf.trace import ProbeStats
from gotui.backends.model import Event, GotuiError
from gotui.backends.notices import EventArrived
from gotui.tui.widgets.lifecycle import LifecycleTable
from gotui.tui.widgets.probe_status import ProbeStatus
from gotui.tui.widgets.tracepoint_log import TracepointFormScreen, TracepointTable
from textual.widgets import RichLog

from tests.tui.conftest import make_app
from tests.tui.fakes import RecordingSession, make_session
from tests.tui.test_app import WIDE, loaded, until, visible_ids

NARROW = (80, 24)


class FakeTracer:
    """What EbpfFeed needs of a Tracer; `push` hands it events for the next poll."""

    def __init__(self, pid: int, **_: Any) -> None:
        self.pid = pid
        self.per_hit_ns = 5000.0
        self.guard = type("G", (), {"config": type("C", (), {"budget": 0.03})()})()
        self.target_exited = False
        self.closed = threading.Event()
        self.removed: list[str] = []
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._tps = 0

    def start(self) -> None:
        pass

    def push(self, *events: Event) -> None:
        with self._lock:
            self._events += events

    def poll(self, timeout: float) -> list[Event]:
        time.sleep(timeout)
        with self._lock:
            out, self._events = self._events, []
        return out

    def add_tracepoint(self, func: str, cond: str | None) -> str:
        if cond and "nope" in cond:
            raise GotuiError(f"cond: unknown name 'nope' at column {cond.index('nope') + 1}")
        self._tps += 1
        return f"tp{self._tps}"

    def remove_tracepoint(self, key: str) -> None:
        self.removed.append(key)

    def stats(self) -> list[ProbeStats]:
        return [ProbeStats("created", "after CALL runtime.newproc1", "on", True, 10, 5.0, 0.0)]

    def close(self) -> None:
        self.closed.set()


def with_feed(tmp: Path) -> tuple[RecordingSession, list[FakeTracer]]:
    session = make_session(tmp)
    tracers: list[FakeTracer] = []

    def factory(pid: int, **kw: Any) -> FakeTracer:
        tracers.append(FakeTracer(pid, **kw))
        return tracers[-1]

    session.ebpf = EbpfFeed(session.info.pid, tracer_factory=factory)  # type: ignore[arg-type]
    return session, tracers


def created(goid: int, line: int, source: str) -> Event:
    return Event("created", t_ns=time.time_ns(), goid=goid, parent_id=1,
                 data={"go_statement": {"function": "main.main", "file": source, "line": line},
                       "start": {"function": "main.worker", "file": source, "line": 20}})


async def test_lifecycle_pane_counts_events_and_enter_filters_the_site(tmp_path: Path) -> None:
    session, tracers = with_feed(tmp_path)
    # no refresh after the first ones: the next snapshot's digest would (rightly) take
    # back the event-born goroutines, which the fake target does not have, 2 s after
    # their events; a slow run could miss the window and never see the 25
    app = make_app(session, refresh_interval=30)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await until(pilot, lambda: bool(tracers), "the feed's tracer")
        source = session.live.source  # type: ignore[union-attr]
        tracers[0].push(*[created(1000 + i, 30, source) for i in range(25)])
        await pilot.press("9")
        table = app.query_one(LifecycleTable)
        await until(pilot, lambda: bool(table.rows_shown) and table.rows_shown[0].created_total
                    == 25, "the spawning site with 25 created")
        top = table.rows_shown[0]
        assert top.go_statement.line == 30 and top.created_per_s > 0
        assert top.live == 25 + sum(1 for i in range(1, 41) if i % 3 == 0)  # + fakes at :30
        assert "from eBPF events" in str(app.query_one("#pane-lifecycle").border_subtitle)
        table.focus()
        # the cursor stays on its site across refreshes (which re-sort the rows): put it
        # on the spawning site, wherever that is now
        table.move_cursor(row=next(i for i, r in enumerate(table.rows_shown)
                                   if r.go_statement.line == 30))
        await pilot.press("enter")
        await until(pilot, lambda: app.active_pane == "goroutines", "the goroutine list")
        assert app.index.filter_text == "main.main main.go:30"
        assert visible_ids(app) and all(i % 3 == 0 for i in visible_ids(app))
        await pilot.press("q", "enter")
        # quitting closes the tracer (in a thread, before the app exits; the test's end
        # would cancel the quit if it came first, as a loaded CI run once showed)
        await until(pilot, tracers[0].closed.is_set, "the tracer closed by quitting")
    assert tracers[0].closed.is_set()


async def test_tracepoint_form_errors_hits_clear_and_remove(tmp_path: Path) -> None:
    session, tracers = with_feed(tmp_path)
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await until(pilot, lambda: bool(tracers), "the feed's tracer")
        await pilot.press("0", "a")
        await until(pilot, lambda: isinstance(app.screen, TracepointFormScreen), "the form")
        await pilot.press(*"main.hot", "tab", *"i > 1 && nope", "enter")
        error = app.screen.query_one("#tp-error")
        await until(pilot, lambda: "column 10" in str(error.render()), "the error")
        assert str(error.render()).endswith("\n  i > 1 && nope\n           ^")
        await pilot.press(*["backspace"] * 8, "enter")
        await until(pilot, lambda: not isinstance(app.screen, TracepointFormScreen), "closing")
        assert list(app.ebpf_view.tracepoints) == ["tp1"]
        tracers[0].push(*[Event("tracepoint", t_ns=time.time_ns(), goid=7,
                                data={"probe": "tp1", "function": "main.hot",
                                      "args": {"i": n}}) for n in range(5)])
        log = app.query_one("#tracepoint-log", RichLog)
        await until(pilot, lambda: len(log.lines) == 5, "5 logged hits")
        assert "g7 tp1 main.hot i=4" in log.lines[-1].text
        tp_table = app.query_one(TracepointTable)
        await until(pilot, lambda: tp_table.row_count == 1, "the tracepoint row")
        tp_table.focus()
        await pilot.press("x")
        await until(pilot, lambda: not log.lines, "a cleared log")
        await pilot.press("d")
        await until(pilot, lambda: tracers[0].removed == ["tp1"] and tp_table.row_count == 0,
                    "the tracepoint removed")


async def test_status_line_says_why_ebpf_is_off_and_is_hidden_without_a_feed(
        tmp_path: Path) -> None:
    session = make_session(tmp_path)
    session.ebpf = EbpfFeed.disabled(session.info.pid, "eBPF tracing needs root (CAP_BPF)")
    app = make_app(session)
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot, app)
        status = app.query_one(ProbeStatus)
        await until(pilot, lambda: status.display and status.status is not None, "the line")
        assert status.render().plain.startswith("eBPF off: eBPF tracing needs root")
        await pilot.press("t")  # no tracer: the form must not open
        await pilot.pause(0.1)
        assert not isinstance(app.screen, TracepointFormScreen)
        # the rest works: the lifecycle pane falls back to snapshot diffs
        await pilot.press("9")
        table = app.query_one(LifecycleTable)
        await until(pilot, lambda: bool(table.rows_shown), "sites from snapshots")
        assert "from snapshots, 1 s resolution" in str(
            app.query_one("#pane-lifecycle").border_subtitle)
    plain = make_session(tmp_path)
    app = make_app(plain)
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot, app)
        await pilot.pause(0.3)
        assert not app.query_one(ProbeStatus).display


async def test_selected_goroutine_shows_its_parent_chain(tmp_path: Path) -> None:
    session, tracers = with_feed(tmp_path)
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await until(pilot, lambda: bool(tracers), "the feed's tracer")
        source = session.live.source  # type: ignore[union-attr]
        # goroutine 41 appears, created by 40 (alive), itself created by 99 (gone)
        ev40, ev41 = created(40, 30, source), created(41, 30, source)
        ev40.parent_id, ev41.parent_id = 99, 40
        tracers[0].push(ev40, ev41)
        session.live.ids.append(41)  # type: ignore[union-attr]
        await until(pilot, lambda: 41 in app.index.data.live, "goroutine 41 listed")
        await pilot.press("g", "4", "1", "enter")
        detail = app.query_one("#g-detail")
        await until(pilot, lambda: "parent" in str(detail.render()), "the parent chain")
        text = str(detail.render())
        assert text.startswith("g41 created ")
        assert text.endswith(" · parent g40 ← g99 exited")


async def test_feed_says_when_the_target_exited_and_refuses_new_tracepoints() -> None:
    tracers: list[FakeTracer] = []

    def factory(pid: int, **kw: Any) -> FakeTracer:
        tracers.append(FakeTracer(pid, **kw))
        return tracers[-1]

    feed = EbpfFeed(1, tracer_factory=factory)  # type: ignore[arg-type]
    seen: list[Event] = []
    feed.start(lambda n: seen.append(n.event) if isinstance(n, EventArrived) else None)
    assert seen[0].data.get("starting")
    deadline = time.monotonic() + 10
    while not tracers or not feed.running:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert await feed.add_tracepoint("main.hot", "") == "tp1"
    tracers[0].target_exited = True
    while feed.running or not tracers[0].closed.is_set():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # the last batch is delivered on the loop
    assert feed.status is not None and not feed.status.data["available"]
    assert "target exited" in feed.status.message
    try:
        await feed.add_tracepoint("main.hot", "")
    except GotuiError as exc:
        assert "target exited" in str(exc)
    else:
        raise AssertionError("a tracepoint was accepted after the target exited")
    feed.close()
