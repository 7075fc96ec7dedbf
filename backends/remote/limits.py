"""Caps on a share server's connections: peers can never starve the host.

The host's own work (reading /proc/<pid>/mem, talking to Delve, the TUI) needs file
descriptors. ~350 idle TCP connects used to exhaust them (`accept() out of system
resource`, then EMFILE in the host's own reads). So the listening socket counts every
accepted connection, from the accept on (TLS handshakes included), and closes at once
those above the caps: all connections, and those not authenticated yet, separately.
The server marks a connection authenticated when its token checks out; the handshake
timeout (ShareServer.open_timeout) drops the idle unauthenticated ones.
"""

from __future__ import annotations

import os
import resource
import socket
from dataclasses import dataclass, field

ACCEPTS_PER_CALL = 64  # over-cap connections closed per accept() before the loop runs


@dataclass
class ConnectionLimits:
    max_total: int = 128  # every open connection, authenticated or not
    max_unauthenticated: int = 16  # connections whose token has not been checked yet
    max_clients: int = 64  # authenticated clients

    @classmethod
    def for_this_process(cls) -> ConnectionLimits:
        """Caps that leave at least 3/4 of the descriptors to the host itself."""
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            soft = 1 << 16
        total = max(8, min(cls.max_total, soft // 4))
        return cls(max_total=total, max_unauthenticated=max(2, min(16, total // 4)),
                   max_clients=max(2, min(64, total - 2)))


@dataclass
class ConnectionCounter:
    limits: ConnectionLimits
    open: dict[tuple[str, int], bool] = field(default_factory=dict)  # peer -> authed
    refused: int = 0

    @property
    def unauthenticated(self) -> int:
        return sum(1 for authed in self.open.values() if not authed)

    @property
    def clients(self) -> int:
        return sum(1 for authed in self.open.values() if authed)

    def admit(self, peer: tuple[str, int]) -> bool:
        if (len(self.open) >= self.limits.max_total
                or self.unauthenticated >= self.limits.max_unauthenticated):
            self.refused += 1
            return False
        self.open[peer] = False
        return True

    def authenticate(self, peer: tuple[str, int]) -> bool:
        """Mark `peer` authenticated; False if that would exceed max_clients."""
        if peer not in self.open:
            return False
        if not self.open[peer] and self.clients >= self.limits.max_clients:
            return False
        self.open[peer] = True
        return True

    def closed(self, peer: tuple[str, int]) -> None:
        self.open.pop(peer, None)


def peer_key(addr: object) -> tuple[str, int]:
    """(host, port) of a socket address (IPv6 addresses have four fields)."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        return str(addr[0]), int(addr[1])
    return str(addr), 0


class CountedSocket(socket.socket):
    """An accepted connection that tells the counter when it is closed."""

    counter: ConnectionCounter | None = None
    peer: tuple[str, int] = ("", 0)

    def close(self) -> None:
        counter, self.counter = self.counter, None
        if counter is not None:
            counter.closed(self.peer)
        super().close()


class LimitedListener(socket.socket):
    """A listening socket whose accept() closes connections above the caps at once
    (asyncio calls this accept())."""

    counter: ConnectionCounter

    @classmethod
    def wrap(cls, sock: socket.socket, counter: ConnectionCounter) -> LimitedListener:
        listener = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        listener.counter = counter
        return listener

    def accept(self) -> tuple[socket.socket, object]:  # type: ignore[override]
        for _ in range(ACCEPTS_PER_CALL):
            fd, addr = self._accept()  # type: ignore[attr-defined]  # BlockingIOError: none left
            peer = peer_key(addr)
            if not self.counter.admit(peer):
                os.close(fd)
                continue
            conn = CountedSocket(self.family, self.type, self.proto, fileno=fd)
            conn.counter, conn.peer = self.counter, peer
            if socket.getdefaulttimeout() is None and self.gettimeout():
                conn.setblocking(True)
            return conn, addr
        raise BlockingIOError  # let the event loop run; more are accepted next time


def listen_socket(host: str, port: int, counter: ConnectionCounter) -> LimitedListener:
    """A bound, listening LimitedListener for host:port (the first address host names)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    # a name with both (localhost): IPv4; clients try every address the name has
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return LimitedListener.wrap(sock, counter)
