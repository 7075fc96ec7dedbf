"""A viewer that stops reading must not slow the host or the other joiners, and gets
the newest snapshot (not a backlog) when it reads again."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from gotui.backends.model import Event, to_json
from gotui.backends.notices import EventArrived
from gotui.backends.remote.client import join
from gotui.backends.remote.outbox import MAX_INFLIGHT, MAX_OUTBOX
from gotui.backends.remote.snapshots import PartsAssembler, WireSnapshot, apply_delta

from tests.remote.conftest import Raw, make_host, raw_connect, wait_for


async def test_slow_viewer_does_not_block_anyone_and_gets_the_latest_snapshot() -> None:
    # ~600 goroutines of ~1.3 KB that all change on every pull: ~800 KB per delta
    h = await make_host(count=600, pad=1000, interval=0.05)
    h.live.auto_tick = True
    await h.session.cont()
    host, port = h.server.host, h.server.port
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    slow = await raw_connect(h.url, h.server.viewer_token, sock=sock)
    fast = await join(h.url, h.server.viewer_token)
    driver = await join(h.url, h.server.driver_token)
    snapshots: list[dict[str, Any]] = []
    try:
        hello = await slow.of_type("hello")
        slow_id = hello["you"]
        slow.ws.transport.pause_reading()  # the viewer stops reading

        def slow_stats() -> dict[str, Any]:
            return next(c for c in h.server.clients() if c["id"] == slow_id)

        await wait_for(lambda: slow_stats()["write_buffer"] >= h.server.write_limit,
                       "the server's sends to the slow viewer are blocked")
        blocked_at = h.server.published

        # the other joiners keep getting fresh snapshots and answers
        await wait_for(lambda: fast.snapshot_seq >= blocked_at + 3, "the fast viewer keeps up")
        assert [f.function for f in await driver.stack(1)] == ["main.worker"]
        await driver.halt()
        await driver.cont()
        for i in range(3 * MAX_OUTBOX):
            h.session.publish(EventArrived(Event(type="log", message=f"event {i}")))
        await wait_for(lambda: fast.snapshot_seq >= blocked_at + 6, "the fast viewer still")
        stats = slow_stats()
        assert stats["outbox"] <= MAX_OUTBOX + 8  # bounded: no backlog builds up
        assert stats["dropped_events"] > 0

        # the viewer reads again: it gets the newest snapshot, skipping the ones it missed
        h.live.auto_tick = False
        settled = h.server.published + 2
        await wait_for(lambda: fast.snapshot_seq >= settled, "two pulls without changes")
        final = WireSnapshot.from_json(0, to_json(h.live.snapshot()))
        slow.ws.transport.resume_reading()
        mirror = await read_mirror(slow, snapshots, until=lambda w: w.predicted() ==
                                   final.goroutines)
        assert mirror.seq >= blocked_at + 6
        seqs = [m["seq"] for m in snapshots]
        assert seqs == sorted(seqs)
        assert max(b - a for a, b in zip(seqs, seqs[1:], strict=False)) >= 3, seqs
        assert len(seqs) < mirror.seq  # coalesced: fewer messages than snapshots published
        assert any(m["type"] == "event" and m["event"]["type"] == "lost" for m in slow.seen)
    finally:
        await fast.close()
        await driver.close()
        await slow.close()
        await h.server.close()
        await h.session.close()


async def read_mirror(raw: Raw, snapshots: list[dict[str, Any]], until: Any) -> WireSnapshot:
    """Apply the snapshot messages a raw client gets until `until(mirror)` holds."""
    mirror: WireSnapshot | None = None
    joiner = PartsAssembler()

    def pred(part: dict[str, Any]) -> bool:
        nonlocal mirror
        if part["type"] not in ("snapshot", "snapshot_part"):
            return False
        msg = joiner.feed(part)
        if msg is None:
            return False
        snapshots.append(msg)
        if msg["full"]:
            mirror = WireSnapshot.from_json(msg["seq"], msg["snapshot"])
        else:
            assert mirror is not None, "a delta came before any full snapshot"
            mirror = apply_delta(mirror, msg)
        return bool(until(mirror))

    await raw.next(pred)
    assert mirror is not None
    return mirror



async def test_a_client_that_never_reads_its_answers_cannot_grow_the_server_queues() -> None:
    h = await make_host(count=600, pad=1000, interval=3600)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (h.server.host, h.server.port))
    raw = await raw_connect(h.url, h.server.viewer_token, sock=sock)
    try:
        hello = await raw.of_type("hello")
        raw.ws.transport.pause_reading()
        # each answer is a whole ~800 KB snapshot: the connection backs up quickly

        def stats() -> dict[str, Any]:
            return next(c for c in h.server.clients() if c["id"] == hello["you"])

        for i in range(MAX_INFLIGHT):
            await raw.send({"type": "command", "name": "snapshot", "args": {}, "id": i})
        await wait_for(lambda: stats()["write_buffer"] >= h.server.write_limit,
                       "the server's sends are blocked")
        for i in range(400):  # refused as busy: the answers above are not read
            await raw.send({"type": "command", "name": "snapshot", "args": {}, "id": i})
        for _ in range(400):
            await raw.send("garbage")
        await wait_for(lambda: stats()["dropped_events"] > 0, "replies were dropped")
        assert stats()["outbox"] <= MAX_OUTBOX + MAX_INFLIGHT + 8
        # the host is fine: another client is served at once
        other = await join(h.url, h.server.viewer_token)
        assert len((await other.snapshot()).goroutines) == 600
        await other.close()
    finally:
        raw.ws.transport.abort()  # it never reads: it vanishes rather than closing cleanly
        await h.server.close()
        await h.session.close()
