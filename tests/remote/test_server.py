"""ShareServer + RemoteSession over real websocket connections on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gotui.backends.model import Breakpoint, Event, GotuiError, Snapshot
from gotui.backends.notices import (
    DriverSelected,
    ErrorRaised,
    EventArrived,
    Notice,
    PresenceChanged,
    Publisher,
    SourceChanged,
)
from gotui.backends.remote import commands
from gotui.backends.remote.client import HOST_GONE, READ_ONLY, RemoteSession, join
from gotui.backends.remote.protocol import MAX_INBOUND
from gotui.backends.remote.publisher import SnapshotPublisher, pull_pause
from gotui.backends.remote.server import HOST, ShareServer, serve_session
from gotui.backends.session import LIVE_WARMUP, Session
from websockets.exceptions import InvalidStatus

from tests.remote.conftest import Host, make_host, raw_connect, wait_for
from tests.remote.fakes import SOURCE_FILE, FakeLive, FakeStop, fake_info


def record(publisher: Publisher) -> list[Notice]:
    seen: list[Notice] = []
    publisher.subscribe(seen.append)
    return seen


# ----------------------------------------------------------------- authentication

@pytest.mark.parametrize("token", [None, "wrong-token", ""])
async def test_missing_or_wrong_token_is_refused_at_handshake(host: Host,
                                                               token: str | None) -> None:
    with pytest.raises(InvalidStatus) as exc:
        await raw_connect(host.url, token)
    assert exc.value.response.status_code == 401
    assert host.server.clients() == []


async def test_token_in_url_query_is_refused(host: Host) -> None:
    good = host.server.driver_token
    with pytest.raises(InvalidStatus) as exc:
        await raw_connect(host.url, None, path=f"/?token={good}")
    assert exc.value.response.status_code == 401
    # even together with a valid header: a token in the URL leaks into logs
    with pytest.raises(InvalidStatus):
        await raw_connect(host.url, good, path=f"/?access_token={good}")
    with pytest.raises(GotuiError, match="not put the token in the URL"):
        await join(f"{host.url}/?token={good}", good)


async def test_join_with_wrong_token_is_one_clear_error(host: Host) -> None:
    with pytest.raises(GotuiError, match=r"wrong or missing token \(HTTP 401\)"):
        await join(host.url, "nope")
    with pytest.raises(GotuiError, match="no token"):
        await join(host.url, "")


async def test_each_token_gives_its_role(host: Host) -> None:
    driver = await join(host.url, host.server.driver_token)
    viewer = await join(host.url, host.server.viewer_token)
    try:
        assert driver.role == "driver" and viewer.role == "viewer"
        assert host.server.driver == driver.client_id
        assert driver.info.pid == 4242 and viewer.backend_name == "live+fake"
    finally:
        await driver.close()
        await viewer.close()


# ----------------------------------------------------------------- commands

async def test_viewer_commands_are_forbidden_and_have_no_effect(host: Host) -> None:
    viewer = await join(host.url, host.server.viewer_token)
    raw = await raw_connect(host.url, host.server.viewer_token)
    try:
        calls_before = list(host.stop.calls)
        for op in (viewer.halt(), viewer.cont(), viewer.step(),
                   viewer.create_breakpoint(Breakpoint(function="main.hot")),
                   viewer.eval("1+1"), viewer.ensure_stop(), viewer.switch_goroutine(2)):
            with pytest.raises(GotuiError) as exc:
                await op
            assert str(exc.value) == READ_ONLY
        await raw.send({"type": "command", "name": "continue", "args": {}, "id": 7})
        err = await raw.of_type("error")
        assert (err["code"], err["id"]) == ("forbidden", 7)
        # read-only commands still work for viewers
        assert [f.function for f in await viewer.stack(1)] == ["main.worker"]
        assert host.stop.calls == calls_before
        assert host.stop.bps == {}
        assert not host.session.state.running
    finally:
        await viewer.close()
        await raw.close()


async def test_driver_commands_take_effect_and_return_results(host: Host) -> None:
    driver = await join(host.url, host.server.driver_token)
    try:
        bp = await driver.create_breakpoint(Breakpoint(function="main.hot", cond="i > 3"))
        assert bp.id == 1 and host.stop.bps[1].cond == "i > 3"
        assert [b.function for b in await driver.breakpoints()] == ["main.hot"]
        assert (await driver.eval("x")).value == "7"
        assert [v.name for v in await driver.locals(1, 0)] == ["i"]
        st = await driver.switch_goroutine(3)
        assert st.current_goroutine == 3 and host.stop.current_g == 3
        await driver.clear_breakpoint(1)
        assert host.stop.bps == {}
        st = await driver.next()
        assert st.stop_reason == "next" and "next" in host.stop.calls
    finally:
        await driver.close()


async def test_a_joiner_moves_a_breakpoint_with_one_halt_keeping_its_settings(
        host: Host) -> None:
    """A move is one command: the host halts the running target once for it (as three
    commands, create/clear/amend, it was halted and resumed three times) and the moved
    breakpoint keeps its name, condition and tracepoint flag."""
    driver = await join(host.url, host.server.driver_token)
    try:
        bp = await driver.create_breakpoint(Breakpoint(
            file=SOURCE_FILE, line=10, name="hot", cond="i > 3", tracepoint=True))
        await driver.cont()
        halts = host.stop.calls.count("halt")
        moved = await driver.move_breakpoint(dataclasses.replace(bp, line=12))
        assert host.stop.calls.count("halt") == halts + 1
        assert (moved.line, moved.name, moved.cond, moved.tracepoint) == (12, "hot", "i > 3",
                                                                           True)
        assert [(b.id, b.line, b.name) for b in host.stop.bps.values()] == \
            [(moved.id, 12, "hot")]
        assert [(b.id, b.line) for b in await driver.breakpoints()] == [(moved.id, 12)]
        await wait_for(lambda: host.session.state.running, "resumed after the move")
    finally:
        await driver.close()


async def test_continue_result_comes_only_once_the_target_runs(host: Host) -> None:
    raw = await raw_connect(host.url, host.server.driver_token)
    try:
        host.stop.gate.clear()  # the backend will not start running until we say so
        await raw.send({"type": "command", "name": "continue", "args": {}, "id": "c"})
        await wait_for(lambda: "cont" in host.stop.calls, "the backend got the continue")
        await raw.send({"type": "command", "name": "stack", "args": {"goid": 1}, "id": "s"})
        await raw.of_type("result", id="s")
        assert not any(m.get("id") == "c" for m in raw.seen)
        assert not host.stop.running
        host.stop.gate.set()
        result = await raw.of_type("result", id="c")
        assert host.stop.running and result["value"]["running"] is True
        await raw.send({"type": "command", "name": "halt", "args": {}, "id": "h"})
        halted = await raw.of_type("result", id="h")
        assert halted["value"]["running"] is False and not host.stop.running
    finally:
        await raw.close()


async def test_state_and_events_reach_every_joiner(host: Host) -> None:
    driver = await join(host.url, host.server.driver_token)
    viewer = await join(host.url, host.server.viewer_token)
    seen = record(viewer)
    try:
        await driver.cont()
        await wait_for(lambda: viewer.state.running, "viewer saw the target running")
        # per-goroutine eBPF events stay on the host; the rest reach every joiner
        host.session.publish(EventArrived(Event(type="created", goid=98)))
        host.session.publish(EventArrived(Event(type="tracepoint", goid=99, message="hello")))
        await wait_for(lambda: any(isinstance(n, EventArrived) and n.event.goid == 99
                                   for n in seen), "viewer got the event")
        assert not any(isinstance(n, EventArrived) and n.event.goid == 98 for n in seen)
        await driver.halt()
        await wait_for(lambda: not viewer.state.running, "viewer saw the target halted")
        assert viewer.state.current is not None and viewer.state.current.line == 12
    finally:
        await driver.close()
        await viewer.close()


async def test_snapshots_are_mirrored_through_deltas(host: Host) -> None:
    viewer = await join(host.url, host.server.viewer_token)
    try:
        first = await viewer.snapshot()
        assert [g.id for g in first.goroutines] == [1, 2, 3, 4, 5]
        assert first.source == "fake"  # halted: the stop backend's view, pulled once
        await host.session.cont()  # running: the live view, pulled periodically
        host.live.exit(2)
        host.live.spawn(9)
        host.live.tick()
        await wait_for(lambda: viewer.last_snapshot is not None and
                       [g.id for g in viewer.last_snapshot.goroutines] == [1, 3, 4, 5, 9],
                       "the mirror followed the host")
        await wait_for(lambda: all(g.labels.get("tick") == "1"
                                   for g in viewer.last_snapshot.goroutines  # type: ignore[union-attr]
                                   if g.id != 9), "changed goroutines were updated")
        assert viewer.last_snapshot.source == "live"  # type: ignore[union-attr]
        with pytest.raises(GotuiError, match="read-only"):  # heavy on Delve: driver only
            await viewer.snapshot(stacks=True)
        driver = await RemoteSession.connect(host.url, host.server.driver_token)
        full = await driver.snapshot(stacks=True)
        assert {g.id for g in full.goroutines} == {1, 3, 4, 5, 9}
        await driver.close()
    finally:
        await viewer.close()


async def test_big_snapshots_in_parts_reach_the_joiner_whole(host: Host) -> None:
    host.server.snapshots.chunk = 7  # 5 goroutines -> 50: full and delta messages in parts
    viewer = await join(host.url, host.server.viewer_token)
    try:
        await viewer.snapshot()
        await host.session.cont()
        for gid in range(10, 55):
            host.live.spawn(gid)
        host.live.tick()
        want = sorted(host.live.goroutines)
        await wait_for(lambda: sorted(g.id for g in viewer.last_snapshot.goroutines) == want  # type: ignore[union-attr]
                       and all(g.labels.get("tick") == "1" for g in viewer.last_snapshot.goroutines),  # type: ignore[union-attr]
                       "the joiner assembled the parts")
        late = await join(host.url, host.server.viewer_token)  # its first one is full
        assert sorted(g.id for g in (await late.snapshot()).goroutines) == want
        await late.close()
    finally:
        await viewer.close()


async def test_read_source_only_serves_files_of_the_target(host: Host, tmp_path: Path) -> None:
    src = tmp_path / "worker.go"
    src.write_text("package main\n\nfunc worker() {}\n")
    host.live.goroutines[1].stack[0].file = str(src)
    viewer = await join(host.url, host.server.viewer_token)
    seen = record(viewer)
    try:
        assert viewer.has_stop_backend and viewer.backend_name == "live+fake"
        # not shown by the host yet: refused (and not cached as empty)
        assert await asyncio.to_thread(viewer.read_source, str(src)) == []
        frames = await viewer.stack(1)  # now the host has shown it
        assert frames[0].file == str(src)
        # from a worker thread (as the TUI calls it) read_source waits for the text
        assert await asyncio.to_thread(viewer.read_source, str(src)) == [
            "package main", "", "func worker() {}"]
        assert SourceChanged(str(src)) in seen
        assert viewer.read_source(str(src))[0] == "package main"  # cached, on the loop
        secret = tmp_path / "other.go"
        secret.write_text("package secret\n")
        for path in ("/etc/passwd", str(secret)):
            with pytest.raises(GotuiError, match="read_source"):
                await viewer._call(commands.READ_SOURCE, path=path)
    finally:
        await viewer.close()


# ----------------------------------------------------------------- driving and following

async def test_drive_handoff_is_visible_to_everyone() -> None:
    h = await make_host(host_drives=False)
    d = await join(h.url, h.server.driver_token)
    v = await join(h.url, h.server.driver_token)  # joined second: watches until handed it
    w = await join(h.url, h.server.viewer_token)
    w_seen = record(w)
    try:
        assert v.role == "viewer" and d.role == "driver"
        await v.request_drive()
        for s in (d, v, w):
            await wait_for(lambda s=s: s.presence.get("requests") == [v.client_id],  # type: ignore[misc]
                           "everyone sees the request")
        with pytest.raises(GotuiError):  # a viewer cannot grant
            await w._call(commands.HALT)
        await w.grant_drive(w.client_id)
        await d.grant_drive(v.client_id)
        for s in (d, v, w):
            await wait_for(lambda s=s: s.driver == v.client_id, "everyone sees the new driver")  # type: ignore[misc]
        assert v.role == "driver" and d.role == "viewer" and w.role == "viewer"
        assert h.server.driver == v.client_id and h.server.requests == []
        with pytest.raises(GotuiError, match="read-only"):
            await d.halt()
        await v.cont()
        assert h.session.state.running
        # the driver leaves: a headless session has no driver until a driver-token
        # client asks for the wheel
        await v.close()
        await wait_for(lambda: d.driver is None, "the wheel is free")
        await d.request_drive()
        await wait_for(lambda: d.role == "driver", "the driver-token client took the wheel")
        await w.request_drive()  # a viewer-token client can never drive: refused
        await wait_for(lambda: any(isinstance(n, ErrorRaised) and "viewer token" in n.message
                                   for n in w_seen), "the refusal")
        assert w.client_id not in d.presence["requests"]
        assert d.role == "driver"
    finally:
        for s in (d, v, w):
            await s.close()
        await h.server.close()
        await h.session.close()


async def test_host_grants_and_takes_back_the_wheel() -> None:
    h = await make_host(host_drives=True)
    host_seen = record(h.server.notices)
    session_seen = record(h.session)
    v = await join(h.url, h.server.driver_token)
    try:
        assert v.role == "viewer" and h.server.driver == HOST
        await v.request_drive()
        await wait_for(lambda: h.server.requests == [v.client_id], "host sees the request")
        # the host's TUI is told through the server's notices, never its session's
        assert any(isinstance(n, PresenceChanged) and n.presence["requests"] == [v.client_id]
                   for n in host_seen)
        assert any(isinstance(n, EventArrived) and "asks to drive" in n.event.message
                   for n in host_seen)
        assert not any(isinstance(n, PresenceChanged)
                       or (isinstance(n, EventArrived) and "drive" in n.event.message)
                       for n in session_seen), session_seen
        h.server.grant_drive(v.client_id)
        await wait_for(lambda: v.role == "driver", "joiner drives")
        await v.cont()
        h.server.take_drive()
        await wait_for(lambda: v.driver == HOST, "host drives again")
        with pytest.raises(GotuiError, match="read-only"):
            await v.halt()
    finally:
        await v.close()
        await h.server.close()
        await h.session.close()


async def test_followers_get_the_drivers_selection(host: Host) -> None:
    d = await join(host.url, host.server.driver_token)
    follower = await join(host.url, host.server.viewer_token)
    other = await join(host.url, host.server.viewer_token)
    got = record(follower)
    other_got = record(other)
    try:
        await follower.follow(True)
        await wait_for(lambda: any(c["follow"] for c in d.presence.get("clients", [])),
                       "follow registered")
        await d.select(3, "stack")
        await wait_for(lambda: DriverSelected(3, "stack") in got,
                       "the follower got the selection")
        # a late follower gets the current selection at once
        await other.follow(True)
        await wait_for(lambda: DriverSelected(3, "stack") in other_got,
                       "a new follower got the current selection")
        await follower.follow(False)
        await wait_for(lambda: sum(c["follow"] for c in d.presence["clients"]) == 1,
                       "unfollow registered")
        await d.select(4, "source")
        await wait_for(lambda: DriverSelected(4, "source") in other_got,
                       "the follower got the second selection")
        assert DriverSelected(4, "source") not in got
        # a viewer's selection is not shared
        await other._send({"type": "select", "goroutine": 1, "pane": "stack"})
        await wait_for(lambda: any(isinstance(n, ErrorRaised) and "read-only" in n.message
                                   for n in other_got),
                       "the viewer was told it is read-only")
    finally:
        for s in (d, follower, other):
            await s.close()


# ----------------------------------------------------------------- robustness

async def test_malformed_and_oversize_messages_get_errors_and_the_connection_survives(
        host: Host) -> None:
    raw = await raw_connect(host.url, host.server.driver_token)
    try:
        bad: list[str | bytes | dict[str, Any]] = [
            "not json", b"\x00\x01binary", "[1, 2]", "{}", {"type": "nope"},
            {"type": "command", "name": "halt", "args": {}},  # no id
            {"type": "command", "name": "format_disk", "args": {}, "id": 1},
            {"type": "command", "name": "stack", "args": {"goid": "1"}, "id": 2},
            {"type": "command", "name": "stack", "args": {"goid": True}, "id": 3},
            {"type": "command", "name": "stack", "args": {"goid": 1, "evil": 1}, "id": 4},
            {"type": "command", "name": "create_breakpoint",
             "args": {"breakpoint": {"line": "ten"}}, "id": 5},
            {"type": "grant_drive", "to": 5},
            {"type": "select", "goroutine": 1, "pane": "nowhere"},
            '{"type": "follow", "on": 1}',
            "[" * 100_000,
        ]
        for msg in bad:
            await raw.send(msg)
            err = await raw.of_type("error")
            assert err["code"] == "bad_message", (msg, err)
        await raw.send({"type": "command", "name": "eval",
                        "args": {"expr": "x" * (MAX_INBOUND + 10)}, "id": 9})
        err = await raw.of_type("error")
        assert err["code"] == "too_large"
        await raw.send({"type": "command", "name": "stack", "args": {"goid": 1}, "id": "ok"})
        result = await raw.of_type("result", id="ok")
        assert result["value"][0]["function"] == "main.worker"
        assert host.stop.calls == ["start"]
    finally:
        await raw.close()


async def test_too_many_commands_in_flight_are_refused_not_queued(host: Host) -> None:
    raw = await raw_connect(host.url, host.server.driver_token)
    try:
        host.stop.gate.clear()
        await raw.send({"type": "command", "name": "continue", "args": {}, "id": "c"})
        await wait_for(lambda: "cont" in host.stop.calls, "continue pending")
        # each further continue waits to see the target running (behind the gate):
        # flood with more commands than allowed in flight
        for i in range(40):
            await raw.send({"type": "command", "name": "continue", "args": {}, "id": i})
        await raw.of_type("error", code="busy")
        host.stop.gate.set()
        await raw.of_type("result", id="c")
    finally:
        await raw.close()


async def test_host_gone_is_reported_and_calls_fail_fast() -> None:
    h = await make_host()
    viewer = await join(h.url, h.server.viewer_token)
    seen = record(viewer)
    await viewer.snapshot()
    await h.server.close()
    await wait_for(lambda: ErrorRaised(HOST_GONE) in seen, "the joiner saw 'host gone'")
    assert viewer.gone
    for op in (viewer.stack(1), viewer.halt(), viewer.request_drive()):
        with pytest.raises(GotuiError, match=HOST_GONE) as exc:
            await op
        assert "\n" not in str(exc.value)
    await viewer.close()
    await h.session.close()


async def test_idle_client_is_disconnected_when_configured(host: Host) -> None:
    host.server.idle_timeout = 0.2
    raw = await raw_connect(host.url, host.server.viewer_token)
    await wait_for(lambda: raw.ws.close_code is not None or not host.server.clients(),
                   "idle client dropped")
    await wait_for(lambda: host.server.clients() == [], "server forgot the idle client")
    await raw.close()


# ----------------------------------------------------------------- entry point and TLS

async def test_serve_session_entry_point_and_info(host: Host) -> None:
    server = await serve_session(host.session, "127.0.0.1:0")
    try:
        info = server.info()
        assert info["url"].startswith("ws://127.0.0.1:") and not info["url"].endswith(":0")
        assert info["driver_token"] != info["viewer_token"]
        assert len(info["driver_token"]) >= 32
    finally:
        await server.close()
    with pytest.raises(GotuiError, match="bad listen address"):
        await serve_session(host.session, "localhost:http")
    with pytest.raises(GotuiError, match="both"):
        await serve_session(host.session, ":0", tls_cert="c.pem")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
async def test_tls_join(host: Host, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = await serve_session(host.session, "127.0.0.1:0", tls_cert=str(cert),
                                 tls_key=str(key))
    try:
        url = server.info()["url"]
        assert url.startswith("wss://")
        with pytest.raises(GotuiError, match="cannot join"):  # unknown CA
            await join(url, server.viewer_token)
        viewer = await join(url, server.viewer_token, cafile=str(cert))
        assert (await viewer.snapshot()).pid == 4242
        await viewer.close()
    finally:
        await server.close()
    with pytest.raises(GotuiError, match="TLS"):
        await serve_session(host.session, ":0", tls_cert=str(key), tls_key=str(cert))


async def test_joiner_leaving_never_touches_the_target(host: Host) -> None:
    driver = await join(host.url, host.server.driver_token)
    await driver.cont()
    await driver.close()
    await asyncio.sleep(0)
    assert host.session.state.running and "detach" not in host.stop.calls
    assert host.server.driver is None or host.server.driver == HOST or \
        host.server.driver not in {c["id"] for c in host.server.clients()}


async def test_attaching_the_stop_backend_on_demand_reaches_joiners() -> None:
    info = fake_info()
    live = FakeLive(info)
    stops: list[FakeStop] = []

    async def make_stop() -> FakeStop:
        stops.append(FakeStop(info, live))
        return stops[-1]

    session = Session(info, live=live, stop_factory=make_stop)
    await session.start()
    server = ShareServer(session, host_drives=False, snapshot_interval=0.05)
    await server.start()
    driver = await join(server.info()["url"], server.driver_token)
    viewer = await join(server.info()["url"], server.viewer_token)
    try:
        assert viewer.can_stop and not viewer.has_stop_backend
        await driver.ensure_stop()
        await wait_for(lambda: viewer.has_stop_backend, "the viewer saw Delve attach")
        assert viewer.has_stop_backend and viewer.backend_name == "live+fake"
        assert len(stops) == 1 and session.state.running  # attaching alone never halts
        await driver.halt()
        await wait_for(lambda: not viewer.state.running, "HALTED for the viewer")
    finally:
        await viewer.close()
        await driver.close()
        await server.close()
        await session.close()
    assert stops[0].calls[-1] == "detach"


async def test_host_selection_reaches_followers() -> None:
    h = await make_host(host_drives=True)
    follower = await join(h.url, h.server.viewer_token)
    got = record(follower)
    try:
        await follower.follow(True)
        await wait_for(lambda: any(c["follow"] for c in h.server.presence()["clients"]),
                       "follow registered")
        h.server.host_select(4, "goroutines")
        await wait_for(lambda: DriverSelected(4, "goroutines") in got,
                       "the follower got the host's selection")
    finally:
        await follower.close()
        await h.server.close()
        await h.session.close()


async def test_join_errors_are_one_line() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GotuiError, match="cannot join") as exc:
        await join(f"ws://127.0.0.1:{port}", "sometoken")
    assert "\n" not in str(exc.value)
    with pytest.raises(GotuiError, match="ws:// or wss://"):
        await join(f"http://127.0.0.1:{port}", "sometoken")
    with pytest.raises(GotuiError, match="malformed token"):
        await join(f"ws://127.0.0.1:{port}", "bad token\r\nX-Evil: 1")


async def test_a_garbled_host_message_does_not_end_the_joiners_session() -> None:
    from gotui.backends.model import TargetState, to_json
    from gotui.backends.remote.protocol import PROTOCOL_VERSION, encode
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        await ws.send(encode({"type": "hello", "protocol": PROTOCOL_VERSION, "role": "viewer",
                              "target": {"pid": 1}, "session": "s", "you": "c1",
                              "backend": {}, "state": to_json(TargetState())}))
        for bad in ("nonsense", '{"type": "state"}', '{"type": "state", "state": {"running": '
                    '"x", "current_goroutine": "y"}}', '{"type": "mystery"}',
                    '{"type": "snapshot_part", "seq": 1, "index": 3, "items": []}'):
            await ws.send(bad)
        await ws.send(encode({"type": "state", "state": to_json(TargetState(running=False))}))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        viewer = await join(f"ws://127.0.0.1:{port}", "any-token")
        seen = record(viewer)
        await wait_for(lambda: not viewer.state.running, "the good message after the bad ones")
        assert not viewer.gone
        assert sum(isinstance(n, ErrorRaised) and "bad message from the host" in n.message
                   for n in seen) >= 3
        await viewer.close()


def test_pulls_of_a_huge_target_keep_to_their_share_of_a_core() -> None:
    assert pull_pause(1.0, 0.02) == 1.0  # cheap: the interval asked for
    assert pull_pause(1.0, 0.14) == 2.0  # 100k goroutines: 1.4 s needed, the next step
    assert pull_pause(0.05, 0.02) == 0.25
    assert pull_pause(1.0, 10.0) == 30.0  # never longer than the longest step


async def pulls_of(work: Callable[[], None], until: Callable[[list[float]], bool]) -> list[float]:
    """The pause after each pull of a publisher whose reads each do `work` first."""
    info = fake_info()
    live = FakeLive(info, count=5)
    plain_snapshot = live.snapshot

    def snapshot() -> Snapshot:
        work()
        return plain_snapshot()

    live.snapshot = snapshot  # type: ignore[method-assign]
    session = Session(info, live=live)
    await session.start()
    pauses: list[float] = []
    publisher: SnapshotPublisher

    def published(_: object) -> None:  # called before the pull's pause is set
        asyncio.get_running_loop().call_soon(lambda: pauses.append(publisher.pause))

    publisher = SnapshotPublisher(session, 0.25, published=published, failed=lambda text: None)
    task = asyncio.create_task(publisher.run())
    try:
        await wait_for(lambda: until(pauses), "enough pulls")
    finally:
        task.cancel()
        await session.close()
    return pauses


async def test_a_pulls_pause_counts_its_own_cpu_not_the_other_threads() -> None:
    """A share host compresses a first snapshot for every viewer while it pulls the next:
    counting that CPU as the pull's stretched the pause to 30 s and starved the viewers.
    Here a thread burns a core (zlib releases the GIL) while each read waits 0.2 s."""
    burning = threading.Event()
    burning.set()

    def burn() -> None:
        data = os.urandom(1 << 20)
        while burning.is_set():
            zlib.compress(data, 9)

    burner = threading.Thread(target=burn)
    burner.start()
    try:
        pauses = await pulls_of(lambda: time.sleep(0.2), lambda p: len(p) >= 4)
    finally:
        burning.clear()
        burner.join()
    assert pauses[:4] == [0.25] * 4, "the other thread's CPU was counted as the pull's"


async def test_costly_pulls_stretch_the_pause_after_the_warm_up() -> None:
    """Each read spends 0.06 s of CPU: 0.6 s of pauses keeps them to a tenth of a core,
    the next step is 1 s. The first pulls (one-time costs) keep the interval asked for."""
    def spin() -> None:
        started = time.thread_time()
        while time.thread_time() - started < 0.06:
            pass

    pauses = await pulls_of(spin, lambda p: len(p) >= LIVE_WARMUP + 2)
    assert pauses[:LIVE_WARMUP] == [0.25] * LIVE_WARMUP
    assert pauses[LIVE_WARMUP:] == [1.0, 1.0]
