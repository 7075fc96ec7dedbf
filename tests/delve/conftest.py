"""Fixtures for the Delve backend tests: a real dlv attached to a real Go program."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.delve.process import find_dlv
from gotui.backends.model import GotuiError

from tests import gofixtures


def dlv_path() -> str | None:
    try:
        return find_dlv()
    except GotuiError:
        return None


requires_dlv = pytest.mark.skipif(dlv_path() is None, reason="dlv is not installed here")


@pytest.fixture
def target(basic_exe: Path) -> Iterator[gofixtures.Target]:
    with gofixtures.run(basic_exe) as t:
        yield t


@pytest.fixture
async def backend(target: gofixtures.Target) -> AsyncIterator[DelveBackend]:
    if dlv_path() is None:
        pytest.skip("dlv is not installed here")
    b = DelveBackend.for_pid(target.pid)
    await b.start()
    try:
        yield b
    finally:
        # a traced target cannot be reaped by the fixture's kill: always detach
        with contextlib.suppress(Exception):
            await b.detach()


