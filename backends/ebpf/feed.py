"""The eBPF feed of a live session: one Tracer, its events published through the Session.

The Tracer (BCC: libbcc, clang, the compiled programs, the uprobes) runs in a helper
process (backends/ebpf/helper.py, spawned isolated), not in gotui: compiling costs
seconds of CPU and ~150 MB that gotui's own process then never holds, and the compile
competes at a lower priority than gotui. The helper streams decoded events as JSON
lines over a pipe and takes commands (tracepoints) on another; it dies with gotui
(PR_SET_PDEATHSIG, and the pipe closing), and with it every probe and program (the
kernel drops them with their fds). A test's fake Tracer (`tracer_factory`) runs in a
thread of gotui instead, through the same loop (FeedLoop).

BCC's ring buffer poll blocks and its objects are not thread-safe, so every Tracer
call (start, poll, tracepoints, close) runs on the FeedLoop's thread; the event loop
only queues commands and receives batches of events (`loop.call_soon_threadsafe`).

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
import itertools
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from gotui.backends.model import Event, GotuiError, event_from_json, to_json
from gotui.backends.notices import EventArrived, Notice

if TYPE_CHECKING:  # the Tracer (BCC, pyelftools) is only imported where it runs
    from gotui.backends.ebpf.trace import Tracer

Publish = Callable[[Notice], None]
Done = Callable[[Any, "str | None"], None]  # (result, error message)
STATUS_EVERY = 1.0  # seconds between two `probes` events
POLL_SECONDS = 0.1
HELPER_MODULE = "gotui.backends.ebpf.helper"
HELPER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}
STOP_WAIT_SECONDS = 10.0  # an orderly helper exit (probes detached) before SIGKILL


def off_event(why: str, *, by_host: bool = False) -> Event:
    """eBPF is off, and why; by_host: because of this host (`gotui doctor` says more)."""
    return Event(type="probes", t_ns=time.time_ns(), message=why,
                 data={"available": False, "by_host": by_host})


# Commands a feed sends to its Tracer, by name (they cross the helper's pipe as JSON).
COMMANDS: dict[str, Callable[[Tracer, dict[str, Any]], Any]] = {
    "add_tracepoint": lambda t, a: t.add_tracepoint(a["func"], a.get("cond") or None),
    "remove_tracepoint": lambda t, a: t.remove_tracepoint(a["key"]),
}


class FeedLoop:
    """Where the Tracer lives: starts it, polls it, runs commands between polls, and
    hands batches of events to `send` (with a `probes` status every STATUS_EVERY s).
    `run()` returns once `stop` is set (or the target exited); the Tracer is closed."""

    def __init__(self, make_tracer: Callable[..., Tracer], pid: int, *, deep: bool,
                 budget: float, send: Callable[[list[Event]], None],
                 started: Callable[[], None] | None = None) -> None:
        self.make_tracer, self.pid, self.deep, self.budget = make_tracer, pid, deep, budget
        self.send = send
        self.started = started
        self.commands: queue.Queue[tuple[str, dict[str, Any], Done]] = queue.Queue()
        self.stop = threading.Event()
        self.running = False  # the tracer is started and polling
        self._lost = 0

    def run(self) -> None:
        from gotui.backends.ebpf.loader import HostUnavailable

        tracer = self.make_tracer(self.pid, deep=self.deep, budget=self.budget)
        try:
            try:
                tracer.start()
            except HostUnavailable as exc:
                self.send([off_event(exc.reason, by_host=True)])
                return
            except Exception as exc:  # noqa: BLE001 - shown as the one eBPF line
                self.send([off_event(str(exc) or type(exc).__name__)])
                return
            self.running = True
            if self.started is not None:
                self.started()
            trim_heap()
            last_status = 0.0
            while not self.stop.is_set():
                self._run_commands(tracer)
                events = tracer.poll(POLL_SECONDS)
                self._lost += sum(int(e.data.get("count", 0)) for e in events
                                  if e.type == "lost")
                now = time.monotonic()
                if now - last_status >= STATUS_EVERY:
                    last_status = now
                    events.append(self._status_event(tracer))
                if tracer.target_exited:
                    events.append(off_event("the target exited; probes removed"))
                    self.send(events)
                    break
                self.send(events)
        finally:
            self.running = False
            tracer.close()
            self._fail_commands()

    def _run_commands(self, tracer: Tracer) -> None:
        while True:
            try:
                op, args, done = self.commands.get_nowait()
            except queue.Empty:
                return
            try:
                result = COMMANDS[op](tracer, args)
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                done(None, str(exc) or type(exc).__name__)
            else:
                done(result, None)
            trim_heap()

    def _fail_commands(self) -> None:
        while True:
            try:
                _, _, done = self.commands.get_nowait()
            except queue.Empty:
                return
            done(None, "eBPF tracing stopped")

    def _status_event(self, tracer: Tracer) -> Event:
        from gotui.backends.ebpf.trace import tracer_status

        data = tracer_status(tracer)
        data.update(available=True, deep=self.deep, lost=self._lost)
        return Event(type="probes", t_ns=time.time_ns(), data=data)


class EbpfFeed:
    """`start(publish)` (on the event loop) starts the helper, which checks the host and
    traces; `close()` removes every probe. A feed made with `off_reason` never traces
    and only reports why."""

    def __init__(self, pid: int, *, deep: bool = False, budget: float = 0.03,
                 off_reason: str | None = None,
                 tracer_factory: Callable[..., Tracer] | None = None) -> None:
        self.pid = pid
        self.deep = deep
        self.budget = budget
        # Whether this host can trace is found out by the helper (it imports BCC, which
        # gotui's own process never loads): it says so as the first `probes` event.
        self.off_reason = off_reason
        self._make_tracer = tracer_factory  # None: the real Tracer, in the helper process
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._publish: Publish | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_thread: FeedLoop | None = None
        self.helper: subprocess.Popen[bytes] | None = None
        self._helper_running = False
        self._ids = itertools.count(1)
        self._pending: dict[int, Done] = {}
        self._write_lock = threading.Lock()
        self.status: Event | None = None  # the last `probes` event, for late listeners

    @classmethod
    def disabled(cls, pid: int, why: str) -> EbpfFeed:
        return cls(pid, off_reason=why)

    @property
    def available(self) -> bool:
        return self.off_reason is None

    @property
    def running(self) -> bool:
        """The tracer is started and polling (probes attached)."""
        if self._in_thread is not None:
            return self._in_thread.running
        return self._helper_running

    # ------------------------------------------------------------ event loop side
    def start(self, publish: Publish) -> None:
        """Start tracing in the background (BCC compiles for a few seconds)."""
        self._publish = publish
        self._loop = asyncio.get_running_loop()
        if self.off_reason is not None:
            self.status = off_event(self.off_reason)
            publish(EventArrived(self.status))
            return
        if self._thread is None:
            self.status = Event(type="probes", t_ns=time.time_ns(),
                                message="starting: BCC compiles the probes",
                                data={"available": True, "starting": True})
            publish(EventArrived(self.status))
            if self._make_tracer is not None:
                self._in_thread = FeedLoop(self._make_tracer, self.pid, deep=self.deep,
                                           budget=self.budget, send=self._send)
                self._in_thread.stop = self._stop
                run: Callable[[], None] = self._in_thread.run
            else:
                run = self._run_helper
            self._thread = threading.Thread(target=run, name="gotui-ebpf", daemon=True)
            self._thread.start()

    async def add_tracepoint(self, func: str, cond: str | None) -> str:
        """The tracepoint's key ("tp1"...); GotuiError (e.g. a condition error that
        names the bad token's column) when it cannot be set."""
        key: str = await self._call("add_tracepoint", func=func, cond=cond or "")
        return key

    async def remove_tracepoint(self, key: str) -> None:
        await self._call("remove_tracepoint", key=key)

    async def _call(self, op: str, **args: Any) -> Any:
        if self.off_reason is not None:
            raise GotuiError(f"eBPF is off: {self.off_reason}")
        if self._thread is None or self._stop.is_set():
            raise GotuiError("eBPF tracing is not running")
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def done(result: Any, error: str | None) -> None:
            if fut.done():
                return
            if error is None:
                fut.set_result(result)
            else:
                fut.set_exception(GotuiError(error))

        if self._in_thread is not None:
            self._in_thread.commands.put((op, args, done))
        else:
            self._send_command(op, args, done)
        return await asyncio.wrap_future(fut)

    def close(self, timeout: float = STOP_WAIT_SECONDS) -> None:
        """Stop tracing; every probe is detached and every program unloaded. Blocking
        (up to `timeout`): call it from a worker thread in async code.

        While BCC still compiles (seconds) nothing is attached yet: quitting does not
        wait for it; the helper removes what it attached as soon as start returns,
        and if gotui exits first the helper dies with it (and the kernel drops the
        probes with their fds)."""
        self._stop.set()
        helper = self.helper
        if helper is not None:
            with self._write_lock, contextlib.suppress(OSError, ValueError):
                assert helper.stdin is not None
                helper.stdin.close()  # EOF: the helper closes its tracer and exits
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout if self.running else min(timeout, 0.2))
        if helper is not None and self.running and helper.poll() is None:
            helper.kill()  # stuck: the kernel removes its probes with its fds

    # ------------------------------------------------------------ feed thread
    def _send(self, events: list[Event]) -> None:
        loop, publish = self._loop, self._publish
        for ev in events:  # (not on the loop: a command may check it first)
            if ev.type == "probes" and not ev.data.get("available", True):
                self.off_reason = ev.message
        if not events or loop is None or publish is None:
            return

        def deliver() -> None:
            for ev in events:
                if ev.type == "probes":
                    self.status = ev
                publish(EventArrived(ev))

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(deliver)

    # ------------------------------------------------------------ helper process
    def _send_command(self, op: str, args: dict[str, Any], done: Done) -> None:
        helper = self.helper
        n = next(self._ids)
        self._pending[n] = done
        try:
            with self._write_lock:
                if helper is None or helper.stdin is None:
                    raise OSError("the eBPF helper is not there")
                helper.stdin.write(json.dumps({"id": n, "op": op, "args": args}).encode()
                                   + b"\n")
                helper.stdin.flush()
        except (OSError, ValueError):
            self._pending.pop(n, None)
            done(None, "eBPF tracing stopped")

    def _run_helper(self) -> None:
        """Thread body: spawn the helper (from this thread, which lives exactly as
        long as it: PR_SET_PDEATHSIG follows the thread that forked), relay its lines,
        and say why when it ends on its own."""
        with tempfile.TemporaryFile() as errors:
            try:
                self.helper = spawn_helper(self.pid, deep=self.deep, budget=self.budget,
                                           stderr=errors)
            except OSError as exc:
                self._send([off_event(f"cannot start the eBPF helper: {exc}")])
                return
            if self._stop.is_set():  # closed while we spawned it
                self.close()
            try:
                self._relay(self.helper)
            finally:
                self._helper_running = False
                for n in list(self._pending):
                    self._pending.pop(n)(None, "eBPF tracing stopped")
                code = self.helper.wait()
                if not self._stop.is_set() and self.off_reason is None:
                    errors.seek(0)
                    last = (errors.read().decode(errors="replace").strip().splitlines()
                            or [f"exit status {code}"])[-1]
                    self._send([off_event(f"the eBPF helper exited: {last}")])

    def _relay(self, helper: subprocess.Popen[bytes]) -> None:
        assert helper.stdout is not None
        for line in helper.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "events" in msg:
                self._send([event_from_json(e) for e in msg["events"]])
            elif "running" in msg:
                self._helper_running = bool(msg["running"])
            elif "reply" in msg:
                done = self._pending.pop(int(msg["reply"]), None)
                if done is not None:
                    done(msg.get("result"), msg.get("error"))


def spawn_helper(pid: int, *, deep: bool, budget: float, stderr: IO[bytes] | int
                 ) -> subprocess.Popen[bytes]:
    """The eBPF helper for `pid`, isolated: this interpreter with -I (no PYTHONPATH,
    no user site, not the cwd), cwd "/", a minimal environment, its own session (a
    Ctrl-C for gotui's process group is gotui's to handle), and it dies with us."""
    args = [sys.executable, "-I", "-m", HELPER_MODULE, "--pid", str(pid),
            "--parent", str(os.getpid()), "--budget", repr(budget)]
    if deep:
        args.append("--deep")
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=stderr, cwd="/", env=HELPER_ENV, close_fds=True,
                            start_new_session=True)


def event_line(events: list[Event]) -> bytes:
    """One helper -> gotui line carrying a batch of events."""
    return json.dumps({"events": to_json(events)}, separators=(",", ":")).encode() + b"\n"


def trim_heap() -> None:
    """Give back what clang freed after a BCC compile (~30 MB of ~200 MB here)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
