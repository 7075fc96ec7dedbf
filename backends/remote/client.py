"""The joiner's side: a RemoteSession looks like a local Session to the TUI.

Views (state, snapshots, events) are pushed by the host and mirrored here; every
operation is a `command` message that waits for its `result`. It implements
backends/target.py's TargetSession; listeners get the Session's notices
(backends/notices.py: StateChanged, EventArrived, ErrorRaised, BackendChanged) plus
SnapshotArrived, PresenceChanged, DriverSelected (in follow mode) and SourceChanged (a
path whose text has just arrived, after read_source() returned [] for it).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import itertools
import re
import socket
import ssl
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from gotui.backends.model import (
    Breakpoint,
    Frame,
    Goroutine,
    GotuiError,
    NeedsAction,
    Shared,
    Snapshot,
    TargetInfo,
    TargetState,
    UsageError,
    Variable,
    channel_from_json,
    event_from_json,
    info_from_json,
    snapshot_from_json,
    state_from_json,
)
from gotui.backends.netaddr import is_loopback
from gotui.backends.notices import (
    BackendChanged,
    DriverSelected,
    ErrorRaised,
    EventArrived,
    PresenceChanged,
    Publisher,
    SnapshotArrived,
    SourceChanged,
    StateChanged,
)
from gotui.backends.remote import commands
from gotui.backends.remote.auth import JOIN_HINT
from gotui.backends.remote.commands import Command, breakpoint_args
from gotui.backends.remote.compression import client_deflate
from gotui.backends.remote.fields import ProtocolError
from gotui.backends.remote.protocol import (
    MAX_OUTBOUND,
    PROTOCOL_VERSION,
    encode,
    parse_server_message,
)
from gotui.backends.remote.snapshots import (
    PartsAssembler,
    WireSnapshot,
    apply_delta,
    made_goroutine,
    make_objects,
)
from gotui.backends.target import Capabilities
from gotui.backends.waitclock import BASE, WaitClock, on_clock_from_now
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

if TYPE_CHECKING:
    from gotui.backends.ebpf.feed import EbpfFeed

HOST_GONE = "host gone"
READ_ONLY = "read-only: you are a viewer; ask the driver for the wheel"
BIG_MESSAGE = 64 << 10  # decode messages above this (bytes) in a worker thread
COMMAND_TIMEOUT_S = 120.0
PREFETCH_FILES = 6
# Bounds against a hostile or broken host: frames waiting to be read (each at most
# protocol.MAX_OUTBOUND), and the source files kept.
MAX_QUEUE = 4
MAX_SOURCE_FILES = 256
_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-.~+/=]{1,512}")
T = TypeVar("T")


class RemoteSession(Publisher):
    """A shared session seen from a joiner. Same public interface as backends.session.Session."""

    def __init__(self, ws: ClientConnection, hello: dict[str, Any]) -> None:
        super().__init__()
        self._ws = ws
        self.client_id: str = hello["you"]
        self.session_id: str = hello["session"]
        self.role: str = hello["role"]
        # "driver" or "viewer": the token we joined with; only a driver token can drive
        self.token_kind: str = str(hello.get("token", ""))
        self.info: TargetInfo = info_from_json(hello["target"])
        self.state: TargetState = state_from_json(hello["state"])
        self.last_snapshot: Snapshot | None = None
        self.presence: dict[str, Any] = {}
        self.driver: str | None = None
        self._backend: dict[str, Any] = hello["backend"]
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._wire: WireSnapshot | None = None
        self._resyncing = False
        self._parts = PartsAssembler()
        self._goroutines: dict[int, Goroutine] = {}
        self._clock = WaitClock()  # the waits of the goroutines handed out count to it
        self._shared = Shared()  # equal strings and locations are one object each
        self._snapshot_ready = asyncio.Event()
        self._source_cache: dict[str, list[str]] = {}
        self._source_fetches: dict[str, asyncio.Task[list[str]]] = {}
        self._gone: str = ""
        self._closing = False
        self._reader: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def connect(cls, url: str, token: str, **kwargs: Any) -> RemoteSession:
        """Same as join(): the token travels only in `Authorization: Bearer`."""
        return await join(url, token, **kwargs)

    # ------------------------------------------------------------ Session-like properties
    @property
    def has_stop_backend(self) -> bool:
        return bool(self._backend.get("has_stop_backend"))

    @property
    def can_stop(self) -> bool:
        return bool(self._backend.get("can_stop"))

    @property
    def backend_name(self) -> str:
        return str(self._backend.get("backend_name", "remote"))

    live = None  # the host's live reader is not reachable from here
    ebpf: EbpfFeed | None = None  # the host's eBPF feed neither: its events come pushed

    @property
    def capabilities(self) -> Capabilities:
        # a core file at the host: its state says so, as the host's Session.post_mortem
        return Capabilities(post_mortem=self.state.stop_reason == "core",
                            can_stop=self.can_stop, has_stop_backend=self.has_stop_backend,
                            has_ebpf=False, remote=True)

    @property
    def is_driver(self) -> bool:
        return self.role == "driver"

    @property
    def gone(self) -> bool:
        return bool(self._gone)

    # ------------------------------------------------------------ lifecycle
    def _start_reader(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def start(self) -> None:
        self.publish(BackendChanged(self.info))

    async def ensure_stop(self) -> None:
        """Ask the host to attach its stop-the-world backend (driver only)."""
        self._backend = await self._call(commands.ENSURE_STOP)

    async def close(self, resume: bool = True, kill: bool = False) -> None:
        """Leave the shared session. The host's target is never affected by a joiner leaving."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(Exception):
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        for task in self._source_fetches.values():
            task.cancel()
        self._fail_pending("left the shared session")

    # ------------------------------------------------------------ incoming
    async def _read_loop(self) -> None:
        try:
            async for raw in self._ws:
                try:
                    if len(raw) > BIG_MESSAGE:
                        msg = await asyncio.to_thread(self._parse, raw)
                    else:
                        msg = self._parse(raw)
                    await self._dispatch(msg, len(raw))
                except Exception as exc:  # noqa: BLE001 - a bad message must not end the session
                    self.publish(ErrorRaised(f"bad message from the host: {exc}"))
        except ConnectionClosed:
            pass
        finally:
            if not self._closing:
                self._gone = HOST_GONE
                self._fail_pending(HOST_GONE)
                self.publish(ErrorRaised(HOST_GONE))

    def _parse(self, raw: str | bytes) -> dict[str, Any]:
        """A message from the host; a snapshot (part)'s goroutines are made into objects
        here, as each part comes, and their JSON let go: a full snapshot of 100k
        goroutines as JSON dicts is ~300 MB at once, which the allocator kept (a joiner
        stayed at 450 MB with 60 MB of objects). Only the reader task calls it."""
        msg = parse_server_message(raw)
        if msg["type"] in ("snapshot", "snapshot_part"):
            if msg.get("full"):
                self._shared = Shared()
            make_objects(msg, self._shared)
        return msg

    def _fail_pending(self, why: str) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(GotuiError(why))
        self._pending.clear()

    async def _dispatch(self, msg: dict[str, Any], size: int = 0) -> None:
        kind = msg["type"]
        if kind in ("snapshot", "snapshot_part"):
            try:
                whole = self._parts.feed(msg, size)
            except ProtocolError:
                await self._resync()
                return
            if whole is not None:
                await self._on_snapshot(whole)
        elif kind == "state":
            self.state = state_from_json(msg["state"])
            self.publish(StateChanged(self.state))
            self._prefetch([self.state.current.file] if self.state.current else [])
        elif kind == "event":
            self.publish(EventArrived(event_from_json(msg["event"])))
        elif kind == "result":
            fut = self._pending.pop(str(msg["id"]), None)
            if fut is not None and not fut.done():
                fut.set_result(msg.get("value"))
        elif kind == "error":
            self._on_error(msg)
        elif kind == "presence":
            self.presence = msg
            self.driver = msg["driver"]
            self.role = "driver" if self.driver == self.client_id else "viewer"
            self.publish(PresenceChanged(msg))
        elif kind == "select":
            self.publish(DriverSelected(int(msg["goroutine"]), str(msg["pane"])))
        elif kind == "backend":
            self._backend = msg
            self.info = info_from_json(msg["target"])
            self.publish(BackendChanged(self.info))

    def _on_error(self, msg: dict[str, Any]) -> None:
        text = msg["message"]
        msg_id = msg.get("id")
        fut = self._pending.pop(str(msg_id), None) if msg_id is not None else None
        if fut is None:
            if msg["code"] == "forbidden":
                text = f"{READ_ONLY} ({text})"
            self.publish(ErrorRaised(text if msg["code"] == "session" else f"host: {text}"))
            return
        if not fut.done():
            fut.set_exception(NeedsAction(READ_ONLY, "drive") if msg["code"] == "forbidden"
                              else GotuiError(text))

    async def _on_snapshot(self, msg: dict[str, Any]) -> None:
        if not msg["full"] and (self._wire is None or msg.get("base") != self._wire.seq):
            await self._resync()
            return
        self._resyncing = False
        base = self._wire
        big = len(base.goroutines) > 5000 if base is not None else True
        if big:
            wire, snap = await asyncio.to_thread(self._apply_snapshot, base, msg)
        else:
            wire, snap = self._apply_snapshot(base, msg)
        self._wire = wire
        self.last_snapshot = snap
        self._snapshot_ready.set()
        self.publish(SnapshotArrived(snap))

    async def _resync(self) -> None:
        if not self._resyncing:  # deltas already on the way will not fit either
            self._resyncing = True
            await self._ws.send(encode({"type": "resync"}))

    def _apply_snapshot(self, base: WireSnapshot | None,
                        msg: dict[str, Any]) -> tuple[WireSnapshot, Snapshot]:
        """Turn a full or delta message into the new wire form and Snapshot (may run in a
        worker thread: only the reader task calls it, one at a time)."""
        if msg["full"]:
            if not isinstance(msg.get("snapshot"), dict):
                raise GotuiError("full snapshot without a body")
            wire = WireSnapshot.from_json(msg["seq"], msg["snapshot"])
            self._goroutines = {}
            self._clock = WaitClock()  # (older snapshots keep counting on theirs)
            changed = list(wire.goroutines)
        else:
            assert base is not None
            wire = apply_delta(base, msg)
            for gid in msg["removed"]:
                self._goroutines.pop(int(gid), None)
            changed = [int(g["id"]) for g in msg["upsert"]]
        snap = self._build_snapshot(wire, changed, reordered=msg.get("order") is not None)
        wire.forget_bodies(changed)  # the objects are made: the JSON is not needed again
        return wire, snap

    def _build_snapshot(self, wire: WireSnapshot, changed: list[int],
                        reordered: bool = False) -> Snapshot:
        """The goroutines sent are new objects; the others keep theirs, and their waits
        (counted on the clock: backends/waitclock.py) grow by the delta's wait_dt_ns.
        The objects are kept in the host's order: a delta without an `order` removes and
        appends as a dict does."""
        objs = self._goroutines
        clock = self._clock
        clock.now = BASE + wire.clock_ns
        for gid in changed:
            objs[gid] = on_clock_from_now(made_goroutine(wire.goroutines[gid]), clock)
        if reordered:
            objs = self._goroutines = {gid: objs[gid] for gid in wire.goroutines}
        snap = snapshot_from_json({**wire.meta, "goroutines": [], "channels": []})
        snap.goroutines = list(objs.values())
        snap.channels = [channel_from_json(c) for c in wire.channels]
        return snap

    @property
    def snapshot_seq(self) -> int:
        return self._wire.seq if self._wire is not None else 0

    # ------------------------------------------------------------ outgoing
    async def _send(self, msg: dict[str, Any]) -> None:
        if self._gone:
            raise GotuiError(f"{self._gone}: the shared session has ended")
        if self._closing:
            raise GotuiError("you left the shared session")
        try:
            await self._ws.send(encode(msg))
        except ConnectionClosed:
            raise GotuiError(f"{HOST_GONE}: the shared session has ended") from None

    async def _call(self, command: Command[T], **args: Any) -> T:
        """Run `command` at the host; its answer, decoded as the table says."""
        msg_id = str(next(self._ids))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        try:
            await self._send({"type": "command", "name": command.name, "args": args,
                              "id": msg_id})
            value = await asyncio.wait_for(fut, timeout=COMMAND_TIMEOUT_S)
        except TimeoutError:
            raise GotuiError(f"{command.name}: no answer from the host in "
                             f"{COMMAND_TIMEOUT_S:.0f} s") from None
        finally:
            self._pending.pop(msg_id, None)
        return command.decode(value)

    async def request_drive(self) -> None:
        await self._send({"type": "request_drive"})

    async def grant_drive(self, client_id: str) -> None:
        await self._send({"type": "grant_drive", "to": client_id})

    async def follow(self, on: bool = True) -> None:
        await self._send({"type": "follow", "on": on})

    async def select(self, goroutine: int, pane: str) -> None:
        """Share the driver's selection with followers (ignored for viewers)."""
        if self.is_driver:
            await self._send({"type": "select", "goroutine": goroutine, "pane": pane})

    # ------------------------------------------------------------ views
    async def snapshot(self, stacks: bool = False) -> Snapshot:
        """The host's current view: the pushed mirror, or a full fetch with stacks."""
        if stacks:
            return await self._call(commands.SNAPSHOT, stacks=True)
        if self.last_snapshot is None:
            if self._gone:
                raise GotuiError(f"{self._gone}: the shared session has ended")
            try:
                await asyncio.wait_for(self._snapshot_ready.wait(), timeout=30)
            except TimeoutError:
                raise GotuiError("the host has not sent a snapshot yet") from None
        assert self.last_snapshot is not None
        return self.last_snapshot

    async def stack(self, goid: int, depth: int = 64) -> list[Frame]:
        frames = await self._call(commands.STACK, goid=goid, depth=depth)
        self._prefetch([f.file for f in frames])  # the source pane will want them next
        return frames

    async def locals(self, goid: int, frame: int) -> list[Variable]:
        return await self._call(commands.LOCALS, goid=goid, frame=frame)

    async def args(self, goid: int, frame: int) -> list[Variable]:
        return await self._call(commands.ARGS, goid=goid, frame=frame)

    async def eval(self, expr: str, goid: int = -1, frame: int = 0) -> Variable:
        return await self._call(commands.EVAL, expr=expr, goid=goid, frame=frame)

    def read_source(self, path: str) -> list[str]:
        """Lines of a host source file, fetched once and cached.

        Synchronous like Session.read_source: from a worker thread (the TUI calls it
        through asyncio.to_thread) it waits for the fetch; on the event loop it cannot
        wait, so it returns [] and publishes SourceChanged(path) when the text arrives."""
        if path in self._source_cache:
            return self._source_cache[path]
        if not path or self._gone or self._closing:
            return []
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._prefetch([path])
            return []
        future = asyncio.run_coroutine_threadsafe(self.fetch_source(path), self._loop)
        try:
            return future.result(timeout=COMMAND_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - no source is shown as an empty pane
            return []

    async def fetch_source(self, path: str) -> list[str]:
        await self._fetch_sources([path])
        return self._source_cache.get(path, [])

    def _prefetch(self, paths: list[str]) -> None:
        if not self._gone and not self._closing and any(
                p and p not in self._source_cache for p in paths):
            task = self._loop.create_task(self._fetch_sources(paths))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _fetch_sources(self, paths: list[str]) -> None:
        wanted = list(dict.fromkeys(p for p in paths if p and p not in self._source_cache))
        tasks = []
        for path in wanted[:PREFETCH_FILES]:
            task = self._source_fetches.get(path)
            if task is None:
                task = self._loop.create_task(self._fetch_one(path))
                self._source_fetches[path] = task
            tasks.append(task)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _fetch_one(self, path: str) -> list[str]:
        try:
            lines = await self._call(commands.READ_SOURCE, path=path)
        except GotuiError:
            return []  # not cached: the host may show this file later
        finally:
            self._source_fetches.pop(path, None)
        if len(self._source_cache) >= MAX_SOURCE_FILES:  # drop the oldest
            self._source_cache.pop(next(iter(self._source_cache)))
        self._source_cache[path] = lines
        self.publish(SourceChanged(path))
        return lines

    # ------------------------------------------------------------ breakpoints
    async def breakpoints(self) -> list[Breakpoint]:
        return await self._call(commands.BREAKPOINTS)

    async def create_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        return await self._call(commands.CREATE_BREAKPOINT, breakpoint=breakpoint_args(bp))

    async def amend_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        return await self._call(commands.AMEND_BREAKPOINT, breakpoint=breakpoint_args(bp))

    async def clear_breakpoint(self, bp_id: int) -> None:
        await self._call(commands.CLEAR_BREAKPOINT, id=bp_id)

    async def move_breakpoint(self, bp: Breakpoint) -> Breakpoint:
        """One command: the host moves it as Session.move_breakpoint does (one halt)."""
        return await self._call(commands.MOVE_BREAKPOINT, breakpoint=breakpoint_args(bp))

    # ------------------------------------------------------------ execution
    async def cont(self) -> None:
        self.state = await self._call(commands.CONTINUE)

    async def halt(self) -> TargetState:
        return await self._call(commands.HALT)

    async def next(self) -> TargetState:
        return await self._call(commands.NEXT)

    async def step(self) -> TargetState:
        return await self._call(commands.STEP)

    async def step_out(self) -> TargetState:
        return await self._call(commands.STEP_OUT)

    async def switch_goroutine(self, goid: int) -> TargetState:
        return await self._call(commands.SWITCH_GOROUTINE, goid=goid)


# ----------------------------------------------------------------- entry point

async def join(url: str, token: str, *, cafile: str | None = None, user: str | None = None,
               open_timeout: float = 10.0, insecure: bool = False) -> RemoteSession:
    """Connect to a shared session. The token goes only in `Authorization: Bearer`;
    ws:// (clear text) only to this machine unless insecure."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise GotuiError(f"cannot join {url!r}: the URL must start with ws:// or wss://")
    if any("token" in key.lower() for key in parse_qs(parts.query)):
        raise GotuiError(f"do not put the token in the URL: {JOIN_HINT}")
    if parts.scheme == "ws" and not is_loopback(parts.hostname or "") and not insecure:
        raise UsageError(f"refusing to send the token to {parts.hostname} in clear text "
                         "(ws://): join wss://, tunnel over SSH to 127.0.0.1, or pass "
                         "--insecure")
    if not token:
        raise GotuiError(f"no token: {JOIN_HINT}")
    if not _TOKEN_RE.fullmatch(token):
        raise GotuiError("malformed token: copy it exactly as `gotui share` printed it")
    try:
        ctx = ssl.create_default_context(cafile=cafile) if parts.scheme == "wss" else None
    except (OSError, ssl.SSLError) as exc:
        raise GotuiError(f"cannot load CA file {cafile}: {exc}") from None
    if user is None:
        with contextlib.suppress(Exception):
            user = f"{getpass.getuser()}@{socket.gethostname()}"
    headers = {"Authorization": f"Bearer {token}", "X-Gotui-User": (user or "")[:64]}
    try:
        ws = await connect(url, additional_headers=headers, ssl=ctx, proxy=None,
                           compression=None, extensions=[client_deflate()],
                           max_size=MAX_OUTBOUND, max_queue=MAX_QUEUE,
                           open_timeout=open_timeout, ping_interval=20, ping_timeout=20,
                           close_timeout=5)
    except InvalidStatus as exc:
        code = exc.response.status_code
        if code == 401:
            raise GotuiError("join refused: wrong or missing token (HTTP 401)") from None
        raise GotuiError(f"join refused by {url}: HTTP {code}") from None
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ssl.SSLError) as exc:
        raise GotuiError(f"cannot join {url}: {exc}") from None
    try:
        raw = await asyncio.wait_for(ws.recv(), timeout=open_timeout)
        hello = parse_server_message(raw)
        if hello["type"] != "hello":
            raise GotuiError(f"expected hello, got {hello['type']!r}")
        if hello.get("protocol") != PROTOCOL_VERSION:
            raise GotuiError(f"the host speaks protocol {hello.get('protocol')!r}, this gotui "
                             f"speaks {PROTOCOL_VERSION}: use the same gotui version")
    except BaseException as exc:
        await ws.close()
        if isinstance(exc, GotuiError):
            raise
        if isinstance(exc, Exception):
            raise GotuiError(f"cannot join {url}: no hello from the host ({exc})") from None
        raise
    session = RemoteSession(ws, hello)
    session._start_reader()
    return session
