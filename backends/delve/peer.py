"""May gotui act, as root, on the pid a Delve it did not start names? (`gotui connect`)

When its connection to Delve drops, gotui cleans up after a dlv that died without
cleaning up: it writes the target's code back through /proc/<pid>/mem and SIGCONTs a
target left stopped. That is root acting on a pid a network peer named. It does so
only when the pid is verified here: the peer is a process on this machine (found by
its socket: SO_PEERCRED for a unix socket, its inode in /proc/net/tcp{,6} for loopback
TCP) and that very process traces the pid (/proc/<pid>/status TracerPid).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from pathlib import Path
from typing import Any

from gotui.backends.procinfo import tracer_of

_SO_PEERCRED_FMT = "3i"  # struct ucred: pid, uid, gid


def _proc_net_addr(host: str, port: int, family: int) -> str:
    """An address as /proc/net/tcp{,6} prints it: each 32-bit word in host order."""
    raw = socket.inet_pton(family, host)
    words = [raw[i:i + 4][::-1] for i in range(0, len(raw), 4)]
    return "".join(w.hex().upper() for w in words) + f":{port:04X}"


def _socket_inode(local: str, remote: str, family: int) -> int:
    """Inode of the socket whose local/remote addresses are these (0 if none)."""
    table = "/proc/net/tcp6" if family == socket.AF_INET6 else "/proc/net/tcp"
    with contextlib.suppress(OSError):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[1] == local and fields[2] == remote:
                return int(fields[9])
    return 0


def _pid_with_socket(inode: int) -> int:
    """A process that holds socket `inode` open (0 if none is found)."""
    target = f"socket:[{inode}]"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return int(proc.name)
    return 0


def peer_pid(sock: Any) -> int:
    """The process at the other end of our connected socket, 0 if unknown (another
    machine, or not found)."""
    try:
        if sock.family == socket.AF_UNIX:
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                  struct.calcsize(_SO_PEERCRED_FMT))
            return int(struct.unpack(_SO_PEERCRED_FMT, raw)[0])
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return 0
        ours, theirs = sock.getsockname(), sock.getpeername()
    except OSError:
        return 0
    # their socket: local = our peer address, remote = our address
    inode = _socket_inode(_proc_net_addr(theirs[0], theirs[1], sock.family),
                          _proc_net_addr(ours[0], ours[1], sock.family), sock.family)
    return _pid_with_socket(inode) if inode else 0


def traced_by_peer(sock: Any, pid: int) -> bool:
    """Is `pid` a local process traced by the process at the other end of `sock`?"""
    if pid <= 0:
        return False
    peer = peer_pid(sock)
    try:
        return peer > 0 and tracer_of(pid) == peer
    except OSError:
        return False
