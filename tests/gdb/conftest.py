"""Shared set-up for the gdb backend tests: real gdb, real Go fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from gotui.backends.gdb import GdbBackend

from tests import gofixtures


@pytest.fixture(scope="session")
def cgo_exe() -> Path:
    return gofixtures.build("cgo_callback")


@pytest.fixture
def cgo_target(cgo_exe: Path) -> Iterator[gofixtures.Target]:
    with gofixtures.run(cgo_exe) as t:
        yield t


@pytest.fixture
def basic_target(basic_exe: Path) -> Iterator[gofixtures.Target]:
    with gofixtures.run(basic_exe) as t:
        yield t


async def attached(pid: int) -> GdbBackend:
    b = GdbBackend.for_pid(pid)
    await b.start()
    return b


@pytest.fixture
async def gdb_cgo(cgo_target: gofixtures.Target) -> AsyncIterator[GdbBackend]:
    b = await attached(cgo_target.pid)
    try:
        yield b
    finally:
        await b.detach()


@pytest.fixture
async def gdb_basic(basic_target: gofixtures.Target) -> AsyncIterator[GdbBackend]:
    b = await attached(basic_target.pid)
    try:
        yield b
    finally:
        await b.detach()
