"""Fixtures for the Delve backend tests: a real dlv attached to a real Go program."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from gotui.backends.delve.backend import DelveBackend

from tests import gofixtures
from tests.needs import dlv_path, need_dlv, requires_dlv

__all__ = ["dlv_path", "requires_dlv"]


@pytest.fixture
def target(basic_exe: Path) -> Iterator[gofixtures.Target]:
    with gofixtures.run(basic_exe) as t:
        yield t


@pytest.fixture
async def backend(target: gofixtures.Target) -> AsyncIterator[DelveBackend]:
    need_dlv()
    b = DelveBackend.for_pid(target.pid)
    await b.start()
    try:
        yield b
    finally:
        # a traced target cannot be reaped by the fixture's kill: always detach
        with contextlib.suppress(Exception):
            await b.detach()


