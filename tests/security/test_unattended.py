"""Issue 11 item 8: a headless share never leaves the target halted with no driver.

A driver that halted the target and disconnected used to leave it halted forever. Now,
with nobody at the wheel, the target is resumed after --resume-after seconds (default
30), announced to viewers. Real `gotui share --headless`, real dlv, real target."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests import gofixtures
from tests.delve.progress import counter_advancing, read_counter
from tests.remote.conftest import Raw, raw_connect

from .conftest import headless_share, requires_dlv

pytestmark = [pytest.mark.integration, requires_dlv]
RESUME_AFTER = "2"


@pytest.fixture
def headless(target: gofixtures.Target) -> Iterator[dict[str, str]]:
    with headless_share(target.pid, "--resume-after", RESUME_AFTER) as (_, info):
        yield info
    assert gofixtures.wait_untraced(target.pid, timeout=10)


async def command(client: Raw, name: str, msg_id: str) -> dict[str, Any]:
    await client.send({"type": "command", "name": name, "args": {}, "id": msg_id})
    return await client.next(lambda m: m.get("id") == msg_id)


def halted(pid: int, exe: Any) -> bool:
    c0 = read_counter(pid, exe)
    time.sleep(0.3)
    return read_counter(pid, exe) == c0


async def test_target_left_halted_by_a_departed_driver_is_resumed_and_announced(
        headless: dict[str, str], target: gofixtures.Target) -> None:
    url = headless["url"]
    viewer = await raw_connect(url, headless["viewer_token"])
    driver = await raw_connect(url, headless["driver_token"])
    try:
        await viewer.of_type("hello")
        assert (await driver.of_type("hello"))["role"] == "driver"
        reply = await command(driver, "halt", "h")
        assert reply["type"] == "result" and not reply["value"]["running"], reply
        # while a driver is there, a halt stays a halt, however long
        await asyncio.sleep(float(RESUME_AFTER) + 1.5)
        assert await asyncio.to_thread(halted, target.pid, target.exe)
        await driver.close()
        note = await viewer.next(lambda m: m["type"] == "event"
                                 and "will be resumed in" in m["event"]["message"])
        assert f"{float(RESUME_AFTER):g} s" in note["event"]["message"]
        await viewer.next(lambda m: m["type"] == "event"
                          and "resuming the target" in m["event"]["message"])
        await viewer.next(lambda m: m["type"] == "state" and m["state"]["running"])
        assert await asyncio.to_thread(counter_advancing, target.pid, target.exe)
    finally:
        await viewer.close()
        await driver.close()
