"""Fixtures: a real Session over fake backends, shared by a real ShareServer on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from gotui.backends.remote.server import ShareServer
from gotui.backends.session import Session
from websockets.asyncio.client import ClientConnection, connect

from tests.remote.fakes import FakeLive, FakeStop, fake_info

WAIT_S = 20.0  # generous upper bound for things that must happen; never asserted as a time


@dataclass
class Host:
    session: Session
    live: FakeLive
    stop: FakeStop
    server: ShareServer

    @property
    def url(self) -> str:
        return self.server.info()["url"]


async def make_host(*, host_drives: bool = False, count: int = 5, pad: int = 0,
                    interval: float = 0.05) -> Host:
    info = fake_info()
    live = FakeLive(info, count=count, pad=pad)
    stop = FakeStop(info, live)
    session = Session(info, live=live, stop=stop)
    await session.start()
    server = ShareServer(session, host_drives=host_drives, snapshot_interval=interval)
    await server.start()
    return Host(session, live, stop, server)


@pytest.fixture
async def host() -> AsyncIterator[Host]:
    h = await make_host()
    yield h
    await h.server.close()
    await h.session.close()


class Raw:
    """A protocol-level client: sends dicts or raw frames, reads typed messages."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, msg: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(json.dumps(msg) if isinstance(msg, dict) else msg)

    async def next(self, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async def loop() -> dict[str, Any]:
            while True:
                msg = json.loads(await self.ws.recv())
                self.seen.append(msg)
                if pred(msg):
                    return msg

        return await asyncio.wait_for(loop(), timeout=WAIT_S)

    async def of_type(self, kind: str, **match: Any) -> dict[str, Any]:
        return await self.next(
            lambda m: m["type"] == kind and all(m.get(k) == v for k, v in match.items()))

    async def close(self) -> None:
        await self.ws.close()


async def raw_connect(url: str, token: str | None, *, path: str = "",
                      **kwargs: Any) -> Raw:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    ws = await connect(url + path, additional_headers=headers, proxy=None, compression=None,
                       max_size=None, **kwargs)
    return Raw(ws)


async def wait_for(cond: Callable[[], bool], what: str) -> None:
    async def loop() -> None:
        while not cond():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(loop(), timeout=WAIT_S)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None
