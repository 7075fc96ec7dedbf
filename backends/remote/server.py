"""Share one host Session over websockets: one driver, any number of viewers.

Nobody gets in without a token (`Authorization: Bearer`, checked before the websocket
handshake completes; auth.py); viewers can read but never change the target, and only
driver-token clients can be given the wheel. Connections are capped (limits.py), a
browser page cannot connect (no Origin header allowed), viewers' reads of a halted
target are answered from a cache (readcache.py), and a headless share resumes a target
left halted with nobody driving (unattended.py). A slow client never
slows the host: each client has its own sender task and a small outbox in which
state/presence/selection/snapshot messages are coalesced (the newest replaces the older)
and events are dropped, with a count, when the outbox is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gotui.backends.model import (
    Event,
    GotuiError,
    Snapshot,
    TargetState,
    UsageError,
    breakpoint_from_json,
    to_json,
)
from gotui.backends.netaddr import is_loopback
from gotui.backends.remote.auth import DRIVER, Tokens
from gotui.backends.remote.compression import server_deflate
from gotui.backends.remote.limits import (
    ConnectionCounter,
    ConnectionLimits,
    listen_socket,
    peer_key,
)
from gotui.backends.remote.protocol import (
    HARD_MAX_INBOUND,
    PROTOCOL_VERSION,
    READ_ONLY_COMMANDS,
    ClientMessage,
    ProtocolError,
    encode,
    error_message,
    parse_client_message,
)
from gotui.backends.remote.readcache import ReadCache
from gotui.backends.remote.snapshots import BodyCache, TextSnapshot, delta_texts, full_texts
from gotui.backends.remote.unattended import UnattendedResume
from gotui.backends.session import LIVE_READ_SHARE, Session
from gotui.backends.sourcefiles import MAX_SOURCE_BYTES, SOURCE_SUFFIXES
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

HOST = "host"  # the driver id of the person at the host's own TUI
MAX_OUTBOX = 256  # queued events/results per client before events are dropped
MAX_INFLIGHT = 16  # concurrent commands per client
RUNNING_WAIT_S = 5.0
# Per-goroutine eBPF events come by the thousand per second under churn; joiners get
# the probe status, tracepoint hits and guard events, and their lifecycle pane works
# from snapshot diffs like any session without eBPF.
LIFECYCLE_EVENTS = frozenset({"created", "exited", "blocked", "unblocked"})
CLOSE_GRACE_S = 0.5  # for clients to take the close frame when the host leaves
OPEN_TIMEOUT_S = 5.0  # TCP accept to authenticated websocket, TLS included
_NAME_RE = re.compile(r"[^\w@.\-: ]")
# websockets must never write to the terminal (the TUI) nor log a request: its logger
# goes nowhere
_QUIET = logging.getLogger("gotui.share")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@dataclass
class _Client:
    id: str
    ws: ServerConnection
    token: str  # auth.DRIVER or auth.VIEWER: the token it joined with
    name: str  # from X-Gotui-User: self-declared, never verified
    follow: bool = False
    # slot key -> encoded message; None in the "snapshot" slot means "the latest"
    outbox: OrderedDict[str, str | None] = field(default_factory=OrderedDict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent_snapshot: TextSnapshot | None = None
    dropped_events: int = 0
    inflight: int = 0
    serial: int = 0

    @property
    def privileged(self) -> bool:
        """Holds the driver token: may ask for, and be given, the wheel."""
        return self.token == DRIVER


class ShareServer:
    def __init__(
        self,
        session: Session,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        host_drives: bool = True,
        snapshot_interval: float = 1.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        idle_timeout: float | None = None,
        write_limit: int = 64 << 10,
        limits: ConnectionLimits | None = None,
        open_timeout: float = OPEN_TIMEOUT_S,
        resume_after: float | None = None,
    ) -> None:
        self.session = session
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.host_drives = host_drives
        self.snapshot_interval = snapshot_interval
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.idle_timeout = idle_timeout
        self.write_limit = write_limit
        self.session_id = secrets.token_hex(8)
        self.tokens = Tokens()
        self.token_dir: str | None = None  # where write_token_files() put them
        self.limits = limits or ConnectionLimits.for_this_process()
        self.connections = ConnectionCounter(self.limits)
        self.open_timeout = open_timeout
        self.driver: str | None = HOST if host_drives else None
        self.requests: list[str] = []
        self.selection: dict[str, Any] | None = None
        self.published = 0  # snapshots published so far (the latest has seq == published)
        self._clients: dict[str, _Client] = {}
        self._latest: TextSnapshot | None = None
        self._bodies = BodyCache()  # goroutine texts of the last build (pull loop only)
        self._published_from: Snapshot | None = None
        self._source_files: set[str] = set()
        self._stops_seen = 0  # how many times the target was seen stopping
        self._pulled_at_stop = -1
        self._pull_now = asyncio.Event()
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._commands: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._last_pull_error = ""
        self._closed = False
        # (base seq, seq) -> encoded snapshot message, for the latest seq only
        self._delta_cache: dict[tuple[int, int], asyncio.Future[list[str]]] = {}
        self.chunk = 1000  # goroutines per snapshot message part
        self._viewer_reads = ReadCache()
        # headless: a target halted with nobody driving resumes after resume_after s
        self._unattended = UnattendedResume(session, resume_after, self._announce) \
            if resume_after is not None and not host_drives else None

    @property
    def driver_token(self) -> str:
        return self.tokens.driver

    @property
    def viewer_token(self) -> str:
        return self.tokens.viewer

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        sock = listen_socket(self.host, self.port, self.connections)
        try:
            self._server = await serve(
                self._handler, sock=sock, ssl=self.ssl_context,
                process_request=self._process_request, max_size=HARD_MAX_INBOUND,
                max_queue=4, write_limit=self.write_limit, compression=None,
                extensions=[server_deflate()], origins=[None], logger=_QUIET,
                ping_interval=self.ping_interval, ping_timeout=self.ping_timeout,
                open_timeout=self.open_timeout, close_timeout=5, server_header=None)
        except BaseException:
            sock.close()
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        self._unsubscribe = self.session.subscribe(self._on_session)
        self._spawn(self._pull_loop())
        self._check_unattended()

    async def close(self) -> None:
        """Stop serving. The host session stays open: the host owns it."""
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._unattended is not None:
            self._unattended.cancel()
        # a command half done (a halt, a step) is finished, not cut: cancelling it could
        # leave the debugger connection mid-call
        if self._commands:
            await asyncio.wait(list(self._commands), timeout=10)
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close(close_connections=True, reason="host closed the session")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=CLOSE_GRACE_S)
            # A client that does not read cannot take the close frame (its socket buffer
            # is full of snapshots): cut it off rather than hold up the host's exit,
            # which releases the target next (measured: up to 26 s otherwise).
            for client in list(self._clients.values()):
                if client.ws.transport is not None:
                    client.ws.transport.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=CLOSE_GRACE_S)
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def info(self) -> dict[str, str]:
        scheme = "wss" if self.ssl_context is not None else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return {"url": f"{scheme}://{host}:{self.port}", "driver_token": self.driver_token,
                "viewer_token": self.viewer_token}

    def clients(self) -> list[dict[str, Any]]:
        """Who is connected, with the size of what waits for them (for the host UI/tests)."""
        out = []
        for c in self._clients.values():
            transport = c.ws.transport
            peer = c.ws.remote_address
            out.append({"id": c.id, "name": c.name, "role": self._role(c.id),
                        "token": c.token, "address": f"{peer[0]}:{peer[1]}" if peer else "",
                        "follow": c.follow, "outbox": len(c.outbox),
                        "dropped_events": c.dropped_events,
                        "write_buffer": transport.get_write_buffer_size() if transport else 0})
        return out

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------ host-side controls
    def grant_drive(self, client_id: str) -> None:
        """The host (or the server on the driver's behalf) hands the wheel over: only
        to a client that joined with the driver token."""
        if client_id != HOST and client_id not in self._clients:
            raise GotuiError(f"no connected client {client_id!r}")
        if client_id == HOST and not self.host_drives:
            raise GotuiError("this session has no host at the keyboard (headless)")
        if client_id != HOST and not self._clients[client_id].privileged:
            raise GotuiError(f"{self._clients[client_id].name} ({client_id}) joined with "
                             "the viewer token: only driver-token clients can drive")
        self.driver = client_id
        if client_id in self.requests:
            self.requests.remove(client_id)
        self._broadcast_presence()

    def take_drive(self) -> None:
        """The host takes the wheel back."""
        self.grant_drive(HOST)

    def kick(self, client_id: str) -> str:
        """Disconnect one client (it may come back while its token is valid: rotate
        the tokens too to keep it out). Returns its name."""
        client = self._clients.get(client_id)
        if client is None:
            raise GotuiError(f"no connected client {client_id!r}")
        self._drop_client(client)
        self._spawn(client.ws.close(1008, "removed by the host"))
        self._announce(f"{client.name} ({client_id}) was removed by the host")
        return client.name

    def rotate_tokens(self, *, kick: bool = False) -> dict[str, str]:
        """New driver and viewer tokens (rewritten to the token files if any); with
        kick, every connected client is disconnected too. Returns info()."""
        self.tokens.rotate()
        if self.token_dir is not None:
            self.tokens.write_files(self.token_dir)
        if kick:
            for client in list(self._clients.values()):
                self._drop_client(client)
                self._spawn(client.ws.close(1008, "the host rotated the tokens"))
        self._announce("the host rotated the session tokens"
                       + (" and disconnected everyone" if kick else ""))
        return self.info()

    def write_token_files(self, directory: str) -> dict[str, str]:
        """Keep the tokens in 0600 files in `directory` (also after a rotation):
        {"driver_token_file", "viewer_token_file"}."""
        paths = self.tokens.write_files(directory)
        self.token_dir = directory
        return {f"{kind}_token_file": path for kind, path in paths.items()}

    def _drop_client(self, client: _Client) -> None:
        """Forget a client now (its connection closes next)."""
        self._clients.pop(client.id, None)
        if client.id in self.requests:
            self.requests.remove(client.id)
        if self.driver == client.id:
            self.driver = HOST if self.host_drives else None
        if not self._closed:
            self._broadcast_presence()

    def _announce(self, message: str) -> None:
        """A line for everyone: the host's TUI and (through _on_session) the clients."""
        self.session.publish("event", Event(type="log", t_ns=time.time_ns(), message=message))

    def host_select(self, goroutine: int, pane: str) -> None:
        """The host's selection, followed by viewers in follow mode (when the host drives)."""
        if self.driver == HOST:
            self._select(HOST, goroutine, pane)

    # ------------------------------------------------------------ authentication
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        query = parse_qs(urlsplit(request.path).query)
        if any("token" in key.lower() for key in query):
            return connection.respond(
                HTTPStatus.UNAUTHORIZED,
                "tokens are not accepted in the URL: send Authorization: Bearer <token>\n")
        if self.tokens.kind(request.headers) is None:
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "missing or wrong token\n")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        if not self.connections.authenticate(peer_key(connection.remote_address)):
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too many clients\n")
        return None

    # ------------------------------------------------------------ connections
    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        token = self.tokens.kind(ws.request.headers)
        if token is None:  # process_request already refused it; belt and braces
            await ws.close(1008, "unauthorized")
            return
        raw_name = next(iter(ws.request.headers.get_all("X-Gotui-User")), "")
        name = _NAME_RE.sub("", raw_name)[:64] or "anonymous"
        client = _Client(id=secrets.token_hex(4), ws=ws, token=token, name=name)
        if client.privileged and self.driver is None:
            self.driver = client.id
        self._clients[client.id] = client
        sender: asyncio.Task[None] | None = None
        try:
            await ws.send(encode({
                "type": "hello", "protocol": PROTOCOL_VERSION, "role": self._role(client.id),
                "token": client.token,
                "target": to_json(self.session.info), "session": self.session_id,
                "you": client.id, "backend": self._backend_json(),
                "state": to_json(self.session.state)}))
            self._put(client, "snapshot", None)
            self._broadcast_presence()
            sender = self._spawn(self._sender(client))
            await self._receive(client)
        except ConnectionClosed:
            pass
        finally:
            if self._clients.get(client.id) is client:
                self._drop_client(client)
            if sender is not None:
                sender.cancel()

    async def _receive(self, client: _Client) -> None:
        while True:
            try:
                raw = await asyncio.wait_for(client.ws.recv(), timeout=self.idle_timeout)
            except TimeoutError:
                await client.ws.close(1001, "idle timeout")
                return
            try:
                msg = parse_client_message(raw)
                self._on_message(client, msg)
            except ProtocolError as exc:
                self._put(client, "e" + self._serial_key(client), encode(exc.to_message()))
            except Exception as exc:  # noqa: BLE001 - a bug must not drop the connection
                self._put(client, "e" + self._serial_key(client), encode(error_message(
                    "failed", f"internal error: {type(exc).__name__}: {exc}")))

    def _on_message(self, client: _Client, msg: ClientMessage) -> None:
        f = msg.fields
        if msg.type == "command":
            self._on_command(client, f["name"], f["args"], f["id"])
        elif msg.type == "request_drive":
            self._request_drive(client)
        elif msg.type == "grant_drive":
            if self.driver != client.id:
                raise ProtocolError("only the driver can hand over the wheel", code="forbidden")
            try:
                self.grant_drive(f["to"])
            except GotuiError as exc:
                raise ProtocolError(str(exc)) from None
        elif msg.type == "follow":
            client.follow = f["on"]
            if client.follow and self.selection is not None:
                self._put(client, "select", encode(self.selection))
            self._broadcast_presence()
        elif msg.type == "select":
            if self.driver != client.id:
                raise ProtocolError("only the driver's selection is shared", code="forbidden")
            self._select(client.id, f["goroutine"], f["pane"])
        elif msg.type == "resync":
            client.sent_snapshot = None
            self._put(client, "snapshot", None)

    def _request_drive(self, client: _Client) -> None:
        if not client.privileged:
            raise ProtocolError("you joined with the viewer token: only driver-token "
                                "clients can drive", code="forbidden")
        if self.driver == client.id:
            self._broadcast_presence()
            return
        if self.driver is None and client.privileged:
            self.driver = client.id
        elif client.id not in self.requests:
            self.requests.append(client.id)
            self.session.publish("event", Event(
                type="log", t_ns=time.time_ns(),
                message=f"{client.name} ({client.id}) asks to drive"))
        self._broadcast_presence()

    def _select(self, source: str, goroutine: int, pane: str) -> None:
        self.selection = {"type": "select", "goroutine": goroutine, "pane": pane}
        text = encode(self.selection)
        for c in self._clients.values():
            if c.follow and c.id != source:
                self._put(c, "select", text)

    # ------------------------------------------------------------ outboxes
    def _serial_key(self, client: _Client) -> str:
        client.serial += 1
        return f"m{client.serial}"

    def _put(self, client: _Client, key: str, text: str | None) -> None:
        """Queue for one client; a fixed key replaces (and moves after) its older value.

        Keys: "e…" events and protocol errors (dropped when the outbox is full),
        "r…" command answers, fixed names for coalesced messages."""
        box = client.outbox
        box.pop(key, None)
        if key.startswith("e") and len(box) >= MAX_OUTBOX:
            client.dropped_events += 1
            return
        box[key] = text
        client.wake.set()

    def _broadcast(self, key: str | None, text: str) -> None:
        for c in self._clients.values():
            self._put(c, key or ("e" + self._serial_key(c)), text)

    def presence(self) -> dict[str, Any]:
        clients = [{"id": c.id, "role": self._role(c.id), "token": c.token, "name": c.name,
                    "name_source": "self-declared", "follow": c.follow}
                   for c in self._clients.values()]
        return {"type": "presence", "clients": clients, "driver": self.driver,
                "requests": list(self.requests)}

    def _broadcast_presence(self) -> None:
        msg = self.presence()
        self._broadcast("presence", encode(msg))
        # the host's own TUI listens on the session: it sees who is there and who asks
        self.session.publish("presence", msg)
        self._check_unattended()

    def _check_unattended(self) -> None:
        if self._unattended is not None and not self._closed:
            self._unattended.update(driver_present=self.driver is not None)

    def _role(self, client_id: str) -> str:
        return "driver" if self.driver == client_id else "viewer"

    async def _sender(self, client: _Client) -> None:
        try:
            while True:
                await client.wake.wait()
                client.wake.clear()
                while client.outbox:
                    key, text = client.outbox.popitem(last=False)
                    if key.startswith("r"):
                        client.inflight -= 1
                    if key == "snapshot":
                        for part in await self._snapshot_parts(client):
                            await client.ws.send(part)
                    elif text is not None:
                        await client.ws.send(text)
                    if client.dropped_events and len(client.outbox) < MAX_OUTBOX // 2:
                        lost = Event(type="lost", t_ns=time.time_ns(),
                                     message=f"{client.dropped_events} events dropped "
                                             "(slow connection)")
                        client.dropped_events = 0
                        await client.ws.send(encode({"type": "event", "event": to_json(lost)}))
        except ConnectionClosed:
            pass

    async def _snapshot_parts(self, client: _Client) -> list[str]:
        latest = self._latest
        if latest is None or client.sent_snapshot is latest:
            return []
        base = client.sent_snapshot
        client.sent_snapshot = latest
        # clients in step share one encoding of the same message
        key = (base.seq if base is not None else 0, latest.seq)
        job = self._delta_cache.get(key)
        if job is None:
            chunk = self.chunk
            if base is None:
                job = asyncio.ensure_future(asyncio.to_thread(full_texts, latest, chunk))
            else:
                job = asyncio.ensure_future(asyncio.to_thread(delta_texts, base, latest, chunk))
            self._delta_cache[key] = job
        try:
            return await asyncio.shield(job)
        except Exception as exc:  # noqa: BLE001 - a bug here must not silence the client
            client.sent_snapshot = None  # the next one is full
            return [encode(error_message("session", f"snapshot not sent: "
                                                    f"{type(exc).__name__}: {exc}"))]

    # ------------------------------------------------------------ host session -> clients
    def _on_session(self, kind: str, payload: Any) -> None:
        if threading.get_ident() != self._loop_thread and self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_session, kind, payload)
            return
        if kind == "state":
            assert isinstance(payload, TargetState)
            if not payload.running:
                self._stops_seen += 1
            self._viewer_reads.clear()  # the target moved: what viewers read is stale
            self._pull_now.set()
            self._broadcast("state", encode({"type": "state", "state": to_json(payload)}))
            self._check_unattended()
        elif kind == "event":
            if payload.type in LIFECYCLE_EVENTS:
                return
            self._broadcast(None, encode({"type": "event", "event": to_json(payload)}))
        elif kind == "error":
            self._broadcast(None, encode(error_message("session", str(payload))))
        elif kind == "backend":
            self._broadcast("backend", encode({"type": "backend", **self._backend_json()}))

    def _backend_json(self) -> dict[str, Any]:
        s = self.session
        return {"target": to_json(s.info), "backend_name": s.backend_name,
                "can_stop": s.can_stop, "has_stop_backend": s.has_stop_backend}

    async def _pull_loop(self) -> None:
        while True:
            halted = not self.session.state.running
            started = time.monotonic()
            self._pull_now.clear()
            if not (halted and self._pulled_at_stop == self._stops_seen):
                stops = self._stops_seen
                await self._pull_once()
                if halted:
                    self._pulled_at_stop = stops
            # a huge target makes pulls expensive: keep them to LIVE_READ_SHARE of a core
            pause = max(self.snapshot_interval,
                        (time.monotonic() - started) / LIVE_READ_SHARE)
            # not wait_for: on Python 3.11 it swallows a cancel that lands as the event
            # is set, and close() then waits for this loop forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._pull_now.wait()

    async def _pull_once(self) -> None:
        last = self.session.last_snapshot
        try:
            if (last is not None and last is not self._published_from
                    and time.time() - last.taken_at < self.snapshot_interval):
                snap = last  # the host's TUI just took one: do not read the target twice
            else:
                snap = await self.session.snapshot()
        except Exception as exc:  # noqa: BLE001 - reported once, the loop goes on
            text = str(exc) if isinstance(exc, GotuiError) else f"{type(exc).__name__}: {exc}"
            if text != self._last_pull_error:
                self._last_pull_error = text
                self._broadcast(None, encode(error_message("session", f"snapshot: {text}")))
            return
        self._last_pull_error = ""
        self._published_from = snap
        seq = self.published + 1
        wire = await asyncio.to_thread(TextSnapshot.build, seq, snap, self._bodies)
        self._source_files |= wire.files
        self._delta_cache.clear()
        self.published = seq
        self._latest = wire
        for c in self._clients.values():
            self._put(c, "snapshot", None)

    def _note_files(self, value: Any) -> None:
        """Remember source files the host showed to clients: only those can be read."""
        if isinstance(value, dict):
            file = value.get("file")
            if isinstance(file, str) and file:
                self._source_files.add(file)
        elif isinstance(value, list):
            for item in value:
                self._note_files(item)

    # ------------------------------------------------------------ commands
    def _on_command(self, client: _Client, name: str, args: dict[str, Any],
                    msg_id: str | int) -> None:
        driving = self.driver == client.id
        if not driving and (name not in READ_ONLY_COMMANDS
                            or (name == "snapshot" and args.get("stacks"))):
            # a full-stack snapshot can keep Delve busy for minutes: the driver's call
            raise ProtocolError(f"{name}: viewers cannot run commands", code="forbidden",
                                msg_id=msg_id)
        if client.inflight >= MAX_INFLIGHT:
            raise ProtocolError(f"more than {MAX_INFLIGHT} commands in flight", code="busy",
                                msg_id=msg_id)
        client.inflight += 1
        task = self._spawn(self._run_command(client, name, args, msg_id, driving))
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    async def _run_command(self, client: _Client, name: str, args: dict[str, Any],
                           msg_id: str | int, driving: bool) -> None:
        try:
            value = await (self._execute(name, args) if driving
                           else self._execute_for_viewer(name, args))
            text = await asyncio.to_thread(
                lambda: encode({"type": "result", "id": msg_id, "ok": True, "value": value}))
        except ProtocolError as exc:
            text = encode(error_message(exc.code, str(exc), msg_id))
        except GotuiError as exc:
            text = encode(error_message("failed", str(exc), msg_id))
        except Exception as exc:  # noqa: BLE001 - one line to the client, server goes on
            text = encode(error_message("failed", f"{type(exc).__name__}: {exc}", msg_id))
        # "r" keys count as in flight until sent (see _sender): a client that sends
        # commands without reading the answers is refused, not buffered without bound
        self._put(client, "r" + self._serial_key(client), text)

    async def _execute(self, name: str, a: dict[str, Any]) -> Any:
        s = self.session
        if name == "snapshot":
            snap = await s.snapshot(stacks=a.get("stacks", False))
            return await asyncio.to_thread(to_json, snap)
        if name == "stack":
            frames = to_json(await s.stack(a["goid"], a.get("depth", 64)))
            self._note_files(frames)
            return frames
        if name in ("locals", "args"):
            fn = s.locals if name == "locals" else s.args
            return to_json(await fn(a["goid"], a["frame"]))
        if name == "eval":
            return to_json(await s.eval(a["expr"], a.get("goid", -1), a.get("frame", 0)))
        if name == "breakpoints":
            bps = to_json(await s.breakpoints())
            self._note_files(bps)
            return bps
        if name in ("create_breakpoint", "amend_breakpoint"):
            bp = breakpoint_from_json(a["breakpoint"])
            fn = s.create_breakpoint if name == "create_breakpoint" else s.amend_breakpoint
            out = to_json(await fn(bp))
            self._note_files(out)
            return out
        if name == "clear_breakpoint":
            await s.clear_breakpoint(a["id"])
            return None
        if name == "continue":
            stops = self._stops_seen
            await s.cont()
            await self._wait_running(stops)
            return to_json(s.state)
        if name in ("halt", "next", "step", "step_out"):
            st = await getattr(s, name)()
            self._note_files(to_json(st.current))
            return to_json(st)
        if name == "switch_goroutine":
            return to_json(await s.switch_goroutine(a["goid"]))
        if name == "read_source":
            return await self._read_source(a["path"])
        if name == "ensure_stop":
            await s.ensure_stop()
            return self._backend_json()
        raise ProtocolError(f"unknown command {name!r}")

    async def _execute_for_viewer(self, name: str, a: dict[str, Any]) -> Any:
        """A viewer's read-only command: from what the host already has (the published
        snapshot, the session's breakpoint list), or one shared read of a halted target
        (readcache.py): never anything that changes or keeps the target stopped."""
        if name == "snapshot":  # stacks=False: _on_command refused the rest
            snap = self._published_from or self.session.last_snapshot
            if snap is None:
                raise GotuiError("no snapshot yet: the first one is on its way")
            return await asyncio.to_thread(to_json, snap)
        if name in ("stack", "locals", "args") and not self.session.state.running:
            key = (name, tuple(sorted(a.items())))
            return await self._viewer_reads.get(key, lambda: self._execute(name, a))
        return await self._execute(name, a)

    async def _wait_running(self, stops_before: int) -> None:
        """Return once the target was seen running (or stopping again) after a continue."""
        deadline = time.monotonic() + RUNNING_WAIT_S
        while time.monotonic() < deadline:
            stop = self.session.stop
            if self._stops_seen != stops_before or stop is None:
                return  # it stopped again since, so it ran
            with contextlib.suppress(TimeoutError):
                st = await asyncio.wait_for(stop.state(), timeout=1.0)
                if st.running or st.exited:
                    return
            await asyncio.sleep(0.02)
        raise GotuiError(f"continue sent, but the target was not seen running within "
                         f"{RUNNING_WAIT_S:.0f} s")

    async def _read_source(self, path: str) -> list[str]:
        if not path.endswith(SOURCE_SUFFIXES):
            raise ProtocolError(f"read_source: only source files can be read, not {path!r}",
                                code="failed")
        state_file = self.session.state.current.file if self.session.state.current else ""
        if path not in self._source_files and path != state_file:
            raise ProtocolError(f"read_source: {path!r} is not a file of this target",
                                code="failed")
        lines = await asyncio.to_thread(self.session.read_source, path)
        if sum(len(line) + 1 for line in lines) > MAX_SOURCE_BYTES:
            raise ProtocolError(f"read_source: {path!r} is too large", code="too_large")
        return lines


# ----------------------------------------------------------------- entry point

def parse_listen(listen: str) -> tuple[str, int]:
    """'HOST:PORT', ':PORT', 'PORT' or '[V6]:PORT' -> (host, port); default host loopback."""
    text = listen.strip()
    host, port_text = "127.0.0.1", text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not text[end + 1:].startswith(":"):
            raise GotuiError(f"bad listen address {listen!r}: use [V6]:PORT")
        host, port_text = text[1:end], text[end + 2:]
    elif ":" in text:
        host_part, port_text = text.rsplit(":", 1)
        host = host_part or host
    try:
        port = int(port_text)
    except ValueError:
        raise GotuiError(f"bad listen address {listen!r}: use HOST:PORT") from None
    if not 0 <= port <= 65535:
        raise GotuiError(f"bad listen address {listen!r}: port out of range")
    return host, port


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise GotuiError(f"cannot load TLS certificate/key: {exc}") from None
    return ctx


def check_share_address(listen: str, *, tls: bool, insecure: bool) -> tuple[str, int]:
    """(host, port) of `listen`, refused (UsageError) when it is reachable from other
    machines and neither TLS nor insecure is given."""
    host, port = parse_listen(listen)
    if not is_loopback(host) and not tls and not insecure:
        raise UsageError(f"refusing to share on {listen} without TLS: tokens and the "
                         "target's data would cross the network in clear text. Pass "
                         "--tls-cert C --tls-key K, listen on 127.0.0.1 and tunnel over "
                         "SSH, or --insecure if you really mean it")
    return host, port


async def serve_session(session: Session, listen: str, *, tls_cert: str | None = None,
                        tls_key: str | None = None, host_drives: bool = True,
                        snapshot_interval: float = 1.0, insecure: bool = False,
                        resume_after: float | None = None) -> ShareServer:
    """Serve `session` on `listen` and return the running server (close() it when done).

    host_drives=False for a headless share: the first driver-token client drives, and
    a target halted with nobody driving resumes after resume_after seconds. A
    non-loopback address needs TLS, or insecure=True (the caller warns)."""
    host, port = check_share_address(listen, tls=bool(tls_cert or tls_key),
                                     insecure=insecure)
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("TLS needs both --tls-cert and --tls-key")
    ctx = tls_context(tls_cert, tls_key) if tls_cert and tls_key else None
    server = ShareServer(session, host=host, port=port, ssl_context=ctx,
                         host_drives=host_drives, snapshot_interval=snapshot_interval,
                         resume_after=resume_after)
    try:
        await server.start()
    except OSError as exc:
        raise GotuiError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    return server
