"""Share one host Session over websockets: one driver, any number of viewers.

Nobody gets in without a token (`Authorization: Bearer`, checked before the websocket
handshake completes; auth.py); connections are capped (limits.py) and a browser page
cannot connect (no Origin header allowed). The rest is in its own modules, put together
here:
- wheel.py: who drives; only driver-token clients can be given the wheel;
- outbox.py: each client's outbox and sender task (a slow client never slows the host);
- publisher.py: the snapshot pull loop, whose snapshots every client is sent;
- router.py + commands.py: clients' commands, dispatched by one table (viewers can read
  but never change the target; their reads of a halted target are shared, readcache.py);
- sources.py: the source files a client may read;
- unattended.py: a headless share resumes a target left halted with nobody driving.

The server only listens to the host session; what the host's own TUI should see of the
share (presence, its log lines) comes from the server's own publisher, `notices`.
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
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gotui.backends.model import (
    Event,
    GotuiError,
    UsageError,
    to_json,
)
from gotui.backends.netaddr import is_loopback
from gotui.backends.notices import (
    BackendChanged,
    ErrorRaised,
    EventArrived,
    Notice,
    PresenceChanged,
    Publisher,
    StateChanged,
)
from gotui.backends.remote.auth import DRIVER, Tokens
from gotui.backends.remote.commands import backend_json
from gotui.backends.remote.compression import server_deflate
from gotui.backends.remote.fields import ProtocolError, error_message
from gotui.backends.remote.limits import (
    ConnectionCounter,
    ConnectionLimits,
    listen_socket,
    peer_key,
)
from gotui.backends.remote.outbox import Outbox
from gotui.backends.remote.protocol import (
    HARD_MAX_INBOUND,
    PROTOCOL_VERSION,
    ClientMessage,
    encode,
    parse_client_message,
)
from gotui.backends.remote.publisher import SnapshotPublisher
from gotui.backends.remote.router import CommandRouter
from gotui.backends.remote.snapshots import TextSnapshot
from gotui.backends.remote.sources import SharedSources
from gotui.backends.remote.unattended import UnattendedResume
from gotui.backends.remote.wheel import HOST, Refused, Wheel
from gotui.backends.session import Session
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

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
    outbox: Outbox
    follow: bool = False

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
        self.selection: dict[str, Any] | None = None
        self._clients: dict[str, _Client] = {}
        # for the host's TUI: PresenceChanged, and EventArrived for the server's log lines
        self.notices = Publisher()
        self.wheel = Wheel(self._clients, host_drives=host_drives)
        self.snapshots = SnapshotPublisher(session, snapshot_interval,
                                           published=self._published, failed=self._failed)
        self.sources = SharedSources(session)
        self.commands = CommandRouter(session, self.snapshots, self.sources)
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._closed = False
        # headless: a target halted with nobody driving resumes after resume_after s
        self._unattended = UnattendedResume(session, resume_after, self._announce) \
            if resume_after is not None and not host_drives else None

    @property
    def driver_token(self) -> str:
        return self.tokens.driver

    @property
    def viewer_token(self) -> str:
        return self.tokens.viewer

    @property
    def driver(self) -> str | None:
        """Who drives: a client id, HOST, or None."""
        return self.wheel.driver

    @property
    def requests(self) -> list[str]:
        """Client ids asking to drive, oldest first."""
        return self.wheel.requests

    @property
    def published(self) -> int:
        """Snapshots published so far (the latest has seq == published)."""
        return self.snapshots.published

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
        self._spawn(self.snapshots.run())
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
        await self.commands.close()
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
            out.append({"id": c.id, "name": c.name, "role": self.wheel.role(c.id),
                        "token": c.token, "address": f"{peer[0]}:{peer[1]}" if peer else "",
                        "follow": c.follow, "outbox": len(c.outbox),
                        "dropped_events": c.outbox.dropped_events,
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
        self.wheel.grant(client_id)
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
        self.wheel.left(client.id)
        if not self._closed:
            self._broadcast_presence()

    def _announce(self, message: str) -> None:
        """A line for everyone: the clients and the host's TUI (through `notices`)."""
        ev = Event(type="log", t_ns=time.time_ns(), message=message)
        self._broadcast(None, encode({"type": "event", "event": to_json(ev)}))
        self.notices.publish(EventArrived(ev))

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
        client = _Client(id=secrets.token_hex(4), ws=ws, token=token, name=name,
                         outbox=Outbox(ws, self.snapshots))
        self.wheel.joined(client)
        self._clients[client.id] = client
        sender: asyncio.Task[None] | None = None
        try:
            await ws.send(encode({
                "type": "hello", "protocol": PROTOCOL_VERSION,
                "role": self.wheel.role(client.id), "token": client.token,
                "target": to_json(self.session.info), "session": self.session_id,
                "you": client.id, "backend": backend_json(self.session),
                "state": to_json(self.session.state)}))
            client.outbox.snapshot()
            self._broadcast_presence()
            sender = self._spawn(client.outbox.run())
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
                client.outbox.event(encode(exc.to_message()))
            except Exception as exc:  # noqa: BLE001 - a bug must not drop the connection
                client.outbox.event(encode(error_message(
                    "failed", f"internal error: {type(exc).__name__}: {exc}")))

    def _on_message(self, client: _Client, msg: ClientMessage) -> None:
        f = msg.fields
        if msg.type == "command":
            self.commands.submit(client.outbox, self.driver == client.id, f["name"],
                                 f["args"], f["id"])
        elif msg.type == "request_drive":
            try:
                asked = self.wheel.request(client)
            except Refused as exc:
                raise ProtocolError(str(exc), code="forbidden") from None
            if asked:
                self._announce(f"{client.name} ({client.id}) asks to drive")
            self._broadcast_presence()
        elif msg.type == "grant_drive":
            try:
                self.wheel.hand_over(client.id, f["to"])
            except Refused as exc:
                raise ProtocolError(str(exc), code="forbidden") from None
            except GotuiError as exc:
                raise ProtocolError(str(exc)) from None
            self._broadcast_presence()
        elif msg.type == "follow":
            client.follow = f["on"]
            if client.follow and self.selection is not None:
                client.outbox.put("select", encode(self.selection))
            self._broadcast_presence()
        elif msg.type == "select":
            if self.driver != client.id:
                raise ProtocolError("only the driver's selection is shared", code="forbidden")
            self._select(client.id, f["goroutine"], f["pane"])
        elif msg.type == "resync":
            client.outbox.snapshot(full=True)

    def _select(self, source: str, goroutine: int, pane: str) -> None:
        self.selection = {"type": "select", "goroutine": goroutine, "pane": pane}
        text = encode(self.selection)
        for c in self._clients.values():
            if c.follow and c.id != source:
                c.outbox.put("select", text)

    # ------------------------------------------------------------ to every client
    def _broadcast(self, slot: str | None, text: str) -> None:
        """To every client: in a coalesced slot, or (None) as an event."""
        for c in self._clients.values():
            if slot is None:
                c.outbox.event(text)
            else:
                c.outbox.put(slot, text)

    def presence(self) -> dict[str, Any]:
        clients = [{"id": c.id, "role": self.wheel.role(c.id), "token": c.token,
                    "name": c.name, "name_source": "self-declared", "follow": c.follow}
                   for c in self._clients.values()]
        return {"type": "presence", "clients": clients, "driver": self.driver,
                "requests": list(self.requests)}

    def _broadcast_presence(self) -> None:
        msg = self.presence()
        self._broadcast("presence", encode(msg))
        # the host's own TUI listens to `notices`: it sees who is there and who asks
        self.notices.publish(PresenceChanged(msg))
        self._check_unattended()

    def _check_unattended(self) -> None:
        if self._unattended is not None and not self._closed:
            self._unattended.update(driver_present=self.driver is not None)

    def _published(self, wire: TextSnapshot) -> None:
        self.sources.add(wire.files)
        for c in self._clients.values():
            c.outbox.snapshot()

    def _failed(self, text: str) -> None:
        self._broadcast(None, encode(error_message("session", text)))

    # ------------------------------------------------------------ host session -> clients
    def _on_session(self, notice: Notice) -> None:
        if threading.get_ident() != self._loop_thread and self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_session, notice)
            return
        match notice:
            case StateChanged(state):
                self.commands.target_moved()
                self.snapshots.target_state(state)
                self._broadcast("state", encode({"type": "state", "state": to_json(state)}))
                self._check_unattended()
            case EventArrived(event):
                if event.type not in LIFECYCLE_EVENTS:
                    self._broadcast(None, encode({"type": "event", "event": to_json(event)}))
            case ErrorRaised(message):
                self._broadcast(None, encode(error_message("session", message)))
            case BackendChanged():
                self._broadcast("backend", encode({"type": "backend",
                                                   **backend_json(self.session)}))
            case _:
                pass


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
