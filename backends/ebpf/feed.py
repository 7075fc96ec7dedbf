"""The eBPF feed of a live session: one Tracer on its own thread, its events published
through the Session.

BCC's ring buffer poll blocks and its objects are not thread-safe, so every Tracer
call (start, poll, tracepoints, close) runs on the feed's thread; the event loop only
queues commands and receives batches of events (`loop.call_soon_threadsafe`).

Published events, besides the Tracer's own (created, exited, blocked, unblocked,
tracepoint, lost, guard):
  probes: about once a second, data = {"available": True, "deep", "per_hit_ns",
          "budget", "lost", "probes": [ProbeStats as dicts]}; {"available": True,
          "starting": True} while BCC compiles; or, when eBPF cannot run (or the
          target exited), {"available": False, "by_host"} with the reason as the
          message (by_host: this host lacks something, see `gotui doctor`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from gotui.backends.ebpf.loader import unavailable_reason
from gotui.backends.ebpf.trace import Tracer, tracer_status
from gotui.backends.model import Event, GotuiError

Publish = Callable[[str, Any], None]
STATUS_EVERY = 1.0  # seconds between two `probes` events
POLL_SECONDS = 0.1


class EbpfFeed:
    """`EbpfFeed(pid)` checks the host; `start(publish)` (on the event loop) starts the
    thread; `close()` removes every probe. A feed made with `off_reason` never traces
    and only reports why."""

    def __init__(self, pid: int, *, deep: bool = False, budget: float = 0.03,
                 off_reason: str | None = None,
                 tracer_factory: Callable[..., Tracer] = Tracer) -> None:
        self.pid = pid
        self.deep = deep
        self.budget = budget
        self.off_by_host = False  # off because of this host: `gotui doctor` says more
        if off_reason is None and tracer_factory is Tracer:
            off_reason = unavailable_reason()
            self.off_by_host = off_reason is not None
        self.off_reason = off_reason
        self._make_tracer = tracer_factory
        self._commands: queue.Queue[tuple[Callable[[Tracer], Any],
                                          concurrent.futures.Future[Any]]] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._publish: Publish | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lost = 0
        self.running = False  # the tracer is started and polling
        self.status: Event | None = None  # the last `probes` event, for late listeners

    @classmethod
    def disabled(cls, pid: int, why: str) -> EbpfFeed:
        return cls(pid, off_reason=why)

    @property
    def available(self) -> bool:
        return self.off_reason is None

    # ------------------------------------------------------------ event loop side
    def start(self, publish: Publish) -> None:
        """Start tracing in the background (BCC compiles for a few seconds)."""
        self._publish = publish
        self._loop = asyncio.get_running_loop()
        if self.off_reason is not None:
            self.status = self._off_event(self.off_reason, by_host=self.off_by_host)
            publish("event", self.status)
            return
        if self._thread is None:
            self.status = Event(type="probes", t_ns=time.time_ns(),
                                message="starting: BCC compiles the probes",
                                data={"available": True, "starting": True})
            publish("event", self.status)
            self._thread = threading.Thread(target=self._run, name="gotui-ebpf", daemon=True)
            self._thread.start()

    async def add_tracepoint(self, func: str, cond: str | None) -> str:
        """The tracepoint's key ("tp1"...); GotuiError (e.g. a condition error that
        names the bad token's column) when it cannot be set."""
        key: str = await self._call(lambda t: t.add_tracepoint(func, cond or None))
        return key

    async def remove_tracepoint(self, key: str) -> None:
        await self._call(lambda t: t.remove_tracepoint(key))

    async def _call(self, fn: Callable[[Tracer], Any]) -> Any:
        if self.off_reason is not None:
            raise GotuiError(f"eBPF is off: {self.off_reason}")
        if self._thread is None or self._stop.is_set():
            raise GotuiError("eBPF tracing is not running")
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._commands.put((fn, fut))
        return await asyncio.wrap_future(fut)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread; it detaches every probe and unloads every program.
        Blocking (up to `timeout`): call it from a worker thread in async code.

        While BCC still compiles (seconds) nothing is attached yet: quitting does not
        wait for it; the thread removes what it attached as soon as start returns, and
        if gotui exits first the kernel drops the probes with their fds."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout if self.running else min(timeout, 0.2))

    # ------------------------------------------------------------ feed thread
    def _send(self, events: list[Event]) -> None:
        loop, publish = self._loop, self._publish
        if not events or loop is None or publish is None:
            return

        def deliver() -> None:
            for ev in events:
                if ev.type == "probes":
                    self.status = ev
                publish("event", ev)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(deliver)

    def _off_event(self, why: str, *, by_host: bool = False) -> Event:
        return Event(type="probes", t_ns=time.time_ns(), message=why,
                     data={"available": False, "by_host": by_host})

    def _run(self) -> None:
        tracer = self._make_tracer(self.pid, deep=self.deep, budget=self.budget)
        try:
            try:
                tracer.start()
            except Exception as exc:  # noqa: BLE001 - shown as the one eBPF line
                self.off_reason = str(exc) or type(exc).__name__
                self._send([self._off_event(self.off_reason)])
                return
            self.running = True
            trim_heap()
            last_status = 0.0
            while not self._stop.is_set():
                self._run_commands(tracer)
                events = tracer.poll(POLL_SECONDS)
                self._lost += sum(int(e.data.get("count", 0)) for e in events
                                  if e.type == "lost")
                now = time.monotonic()
                if now - last_status >= STATUS_EVERY:
                    last_status = now
                    events.append(self._status_event(tracer))
                self._send(events)
                if tracer.target_exited:
                    self.off_reason = "the target exited; probes removed"
                    self._send([self._off_event(self.off_reason)])
                    break
        finally:
            self.running = False
            tracer.close()
            self._fail_commands()

    def _run_commands(self, tracer: Tracer) -> None:
        while True:
            try:
                fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                fut.set_result(fn(tracer))
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)
            trim_heap()

    def _fail_commands(self) -> None:
        while True:
            try:
                _, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            fut.set_exception(GotuiError("eBPF tracing stopped"))

    def _status_event(self, tracer: Tracer) -> Event:
        data = tracer_status(tracer)
        data.update(available=True, deep=self.deep, lost=self._lost)
        return Event(type="probes", t_ns=time.time_ns(), data=data)


def trim_heap() -> None:
    """Give back what clang freed after a BCC compile (~30 MB of ~200 MB here)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
