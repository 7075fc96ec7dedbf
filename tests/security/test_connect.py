"""Issue 11 item 9: `gotui connect` talks to a Delve API nobody authenticates.

It used to accept any address, and when the connection dropped it wrote "original"
code bytes into, and SIGCONTed, whatever pid the peer had named. Now: a non-loopback
address needs --insecure, and only a pid traced by the very process at the other end
of our (local) connection is ever written or signalled."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gotui.backends.delve.backend import DelveBackend

from tests import gofixtures
from tests.delve.progress import symbol_address

from .conftest import run_gotui

INT3 = 0xCC


def test_connect_refuses_a_non_loopback_delve_without_insecure() -> None:
    res = run_gotui("connect", "192.0.2.1:4040", timeout=60)  # TEST-NET-1: nobody there
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("gotui: refusing to connect to Delve at 192.0.2.1:4040")
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


class FakeDelve:
    """A JSON-RPC server that claims to debug `pid` with a breakpoint at `addr`, then
    drops the connection when told to."""

    def __init__(self, pid: int, exe: str, addr: int) -> None:
        self.pid, self.exe, self.addr = pid, exe, addr
        self.writers: list[asyncio.StreamWriter] = []

    def result(self, method: str) -> dict[str, Any]:
        if method == "GetVersion":
            return {"DelveVersion": "1.27.2", "APIVersion": 2, "Target": "linux/amd64"}
        if method == "State":
            return {"State": {"Pid": self.pid, "Running": False,
                              "TargetCommandLine": self.exe}}
        if method == "ListBreakpoints":
            return {"Breakpoints": [{"id": 1, "addrs": [self.addr]}]}
        raise KeyError(method)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        while line := await reader.readline():
            req = json.loads(line)
            method = req["method"].removeprefix("RPCServer.")
            try:
                reply = {"id": req["id"], "result": self.result(method), "error": None}
            except KeyError:
                reply = {"id": req["id"], "result": None, "error": f"no {method} here"}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()

    def drop(self) -> None:
        for w in self.writers:
            w.transport.abort()


def proc_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def read_byte(pid: int, addr: int) -> int:
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        mem.seek(addr)
        return mem.read(1)[0]


def write_byte(pid: int, addr: int, value: int) -> None:
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
        mem.seek(addr)
        mem.write(bytes([value]))


@pytest.fixture
async def victim(target: gofixtures.Target) -> AsyncIterator[tuple[gofixtures.Target, int]]:
    """A process someone stopped on purpose (SIGSTOP), with an int3 of someone else's
    in code it never runs again (main.init, one byte in)."""
    addr = symbol_address(str(target.exe), "main.init") + 1
    original = read_byte(target.pid, addr)
    assert original != INT3
    os.kill(target.pid, signal.SIGSTOP)
    write_byte(target.pid, addr, INT3)
    try:
        yield target, addr
    finally:
        write_byte(target.pid, addr, original)
        os.kill(target.pid, signal.SIGCONT)


async def test_a_dropped_connection_never_touches_a_pid_the_peer_named(
        victim: tuple[gofixtures.Target, int]) -> None:
    target, addr = victim
    fake = FakeDelve(target.pid, str(target.exe), addr)
    server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    backend = DelveBackend.for_address(f"127.0.0.1:{port}")
    try:
        await backend.start()
        assert backend.info.pid == target.pid
        await asyncio.sleep(0.2)
        assert proc_state(target.pid) == "T"
        fake.drop()  # "Delve died": gotui's clean-up runs now
        await asyncio.sleep(1.0)
        assert read_byte(target.pid, addr) == INT3, "gotui wrote the peer-named pid's code"
        assert proc_state(target.pid) == "T", "gotui SIGCONTed the peer-named pid"
        await backend.detach()
        assert proc_state(target.pid) == "T", "detach SIGCONTed the peer-named pid"
    finally:
        server.close()
        await server.wait_closed()
