"""Issue 11 item 6: peers can never starve the host, nor a host its joiners.

~350 idle TCP connects used to exhaust the host's file descriptors (`accept() out of
system resource`, then EMFILE in its own reads). Here the host is a real `gotui share
--headless` with a small descriptor limit; 400 idle connections arrive while a driver
is connected: the host keeps serving the driver, attaches Delve (pipes, sockets, a
child process: its own work), and a newcomer gets in once the idle ones time out.
Joiner side: a fake hostile host sends a frame above the bound, and a snapshot in more
parts than the bound allows."""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from gotui.backends.notices import ErrorRaised
from gotui.backends.remote import protocol, snapshots
from gotui.backends.remote.client import HOST_GONE, join
from websockets.asyncio.server import ServerConnection, serve

from tests import gofixtures
from tests.remote.conftest import Raw, raw_connect, wait_for

from .conftest import headless_share, requires_dlv

NOFILE = 128  # the host's descriptor limit
FLOOD = 400


def _low_nofile() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


@pytest.fixture
def limited_host(target: gofixtures.Target
                 ) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    with headless_share(target.pid, preexec_fn=_low_nofile) as (proc, info):
        yield proc, {"url": info["url"], "driver": info["driver_token"],
                     "viewer": info["viewer_token"]}


def flood(port: int) -> list[socket.socket]:
    """FLOOD idle TCP connections (a host that stops accepting makes them time out:
    the flood gives up after 20 s)."""
    socks = []
    deadline = time.monotonic() + 20
    for _ in range(FLOOD):
        if time.monotonic() > deadline:
            break
        s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        socks.append(s)
    return socks


async def command(client: Raw, name: str, msg_id: str) -> dict[str, Any]:
    await client.send({"type": "command", "name": name, "args": {}, "id": msg_id})
    return await client.next(lambda m: m.get("id") == msg_id)


@pytest.mark.integration
@requires_dlv
async def test_idle_connections_never_starve_the_host(
        limited_host: tuple[subprocess.Popen[str], dict[str, str]],
        target: gofixtures.Target) -> None:
    proc, info = limited_host
    url = info["url"]
    port = int(url.rsplit(":", 1)[1])
    driver = await raw_connect(url, info["driver"])
    socks: list[socket.socket] = []
    try:
        assert (await driver.of_type("hello"))["role"] == "driver"
        socks = await asyncio.to_thread(flood, port)
        assert len(socks) > 100, "the flood did not even connect"
        # the host's own work goes on: attach Delve, read the halted target, resume
        for name in ("halt", "snapshot", "continue"):
            reply = await command(driver, name, name)
            assert reply["type"] == "result", reply
        seq = (await driver.of_type("snapshot"))["seq"]
        await driver.next(lambda m: m["type"] == "snapshot" and m["seq"] > seq)
        # a newcomer gets in (idle unauthenticated ones are dropped after the handshake
        # timeout; the ones above the caps were closed at once)
        deadline = time.monotonic() + 30
        while True:
            try:
                viewer = await raw_connect(url, info["viewer"], open_timeout=10)
                break
            except (OSError, TimeoutError, Exception) as exc:  # noqa: BLE001
                if time.monotonic() > deadline:
                    raise AssertionError(f"no newcomer got in: {exc}") from None
                await asyncio.sleep(0.5)
        await viewer.of_type("hello")
        await viewer.close()
    finally:
        for s in socks:
            s.close()
        await driver.close()
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.to_thread(proc.communicate, None, 30)
    assert "Too many open files" not in err and "out of system resource" not in err, err
    assert proc.returncode == 0, err
    assert gofixtures.wait_untraced(target.pid, timeout=10)


# ----------------------------------------------------------------- a hostile host

class HostileHost:
    """A websocket server that says hello like a gotui host, then misbehaves."""

    def __init__(self, misbehave: Any) -> None:
        self.misbehave = misbehave
        self.done = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        await ws.send(json.dumps({
            "type": "hello", "protocol": protocol.PROTOCOL_VERSION, "role": "viewer",
            "token": "viewer", "target": {"pid": 1, "exe": "/x"}, "session": "s",
            "you": "me", "backend": {"target": {}, "backend_name": "live",
                                     "can_stop": False, "has_stop_backend": False},
            "state": {"running": True}}))
        try:
            await self.misbehave(ws)
        finally:
            self.done.set()


async def hostile(misbehave: Any) -> tuple[Any, str, HostileHost]:
    host = HostileHost(misbehave)
    server = await serve(host.handler, "127.0.0.1", 0, max_size=None, compression=None)
    port = server.sockets[0].getsockname()[1]
    return server, f"ws://127.0.0.1:{port}", host


JOINER_FRAME_BOUND = 64 << 20  # what a joiner accepts in one frame (protocol.MAX_OUTBOUND)


async def test_a_frame_above_the_bound_ends_the_session_cleanly() -> None:
    assert protocol.MAX_OUTBOUND <= JOINER_FRAME_BOUND

    async def huge(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "event", "event": {
            "type": "log", "message": "x" * (JOINER_FRAME_BOUND + 1024)}}))
        await asyncio.sleep(30)

    server, url, _ = await hostile(huge)
    session = await join(url, "t" * 43)
    errors: list[str] = []
    session.subscribe(lambda n: errors.append(n.message) if isinstance(n, ErrorRaised) else None)
    try:
        await wait_for(lambda: session.gone, "the joiner hung up on the host")
        assert HOST_GONE in errors
        assert session._ws.protocol.close_sent.code == 1009  # noqa: SLF001 - it refused
    finally:
        await session.close()
        server.close()


async def test_a_snapshot_in_endless_parts_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "MAX_SNAPSHOT_GOROUTINES", 5000, raising=False)
    monkeypatch.setattr(snapshots, "MAX_SNAPSHOT_PARTS", 10**10, raising=False)
    resyncs: list[str] = []

    async def endless(ws: ServerConnection) -> None:
        g = {"id": 1, "status": "waiting"}
        await ws.send(json.dumps({"type": "snapshot", "full": True, "seq": 1, "parts": 10**9,
                                  "snapshot": {"goroutines": [g], "channels": []}}))
        for i in range(1, 200):  # 200 parts of 100: past the bound of 5000
            await ws.send(json.dumps({"type": "snapshot_part", "seq": 1, "index": i,
                                      "items": [g] * 100}))
        while True:
            msg = json.loads(await ws.recv())
            resyncs.append(msg["type"])

    server, url, _ = await hostile(endless)
    session = await join(url, "t" * 43)
    try:
        await wait_for(lambda: "resync" in resyncs, "the joiner dropped it and resynced")
        assert session.last_snapshot is None
    finally:
        await session.close()
        server.close()
