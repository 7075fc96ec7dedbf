"""What waits to be sent to one client, and the task that sends it.

A slow client never slows the host: each client has its own sender task and a small
outbox. State, presence, selection, backend and snapshot messages sit in fixed slots
and are coalesced (the newest replaces the older and moves to the back); events are
dropped, with a count, when the outbox is full, and the client is told how many it
lost once it catches up. The snapshot slot holds no text: when its turn comes the
client gets the newest published snapshot, as a delta against the one it has.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Protocol

from gotui.backends.model import Event, to_json
from gotui.backends.remote.fields import error_message
from gotui.backends.remote.protocol import encode
from gotui.backends.remote.snapshots import TextSnapshot
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

MAX_OUTBOX = 256  # queued events/results per client before events are dropped
MAX_INFLIGHT = 16  # commands per client whose answers are not sent yet
# fixed slots (coalesced); queued keys start with EVENT or ANSWER and never clash
SLOTS = ("state", "presence", "select", "backend", "snapshot")
EVENT = "e"  # events and protocol errors: dropped when the outbox is full
ANSWER = "r"  # command answers: in flight until sent


class SnapshotTexts(Protocol):
    """Where the sender gets snapshot messages (publisher.SnapshotPublisher)."""

    @property
    def latest(self) -> TextSnapshot | None: ...

    async def texts(self, base: TextSnapshot | None, latest: TextSnapshot) -> list[str]: ...


class Outbox:
    def __init__(self, ws: ServerConnection, snapshots: SnapshotTexts) -> None:
        self.ws = ws
        self.snapshots = snapshots
        # key -> encoded message; None in the "snapshot" slot means "the latest"
        self.queue: OrderedDict[str, str | None] = OrderedDict()
        self.wake = asyncio.Event()
        self.sent_snapshot: TextSnapshot | None = None  # what deltas are based on
        self.dropped_events = 0
        self.inflight = 0
        self._serial = 0

    def __len__(self) -> int:
        return len(self.queue)

    # ------------------------------------------------------------ queueing
    def put(self, slot: str, text: str) -> None:
        """A coalesced message: replaces what waits in its slot."""
        assert slot in SLOTS and slot != "snapshot"
        self._put(slot, text)

    def event(self, text: str) -> None:
        """An event or a protocol error: dropped (and counted) when the outbox is full."""
        self._put(self._key(EVENT), text)

    def answer(self, text: str) -> None:
        """A command's answer (its slot was taken with take_command())."""
        self._put(self._key(ANSWER), text)

    def snapshot(self, *, full: bool = False) -> None:
        """Send the newest snapshot when its turn comes; full: not as a delta."""
        if full:
            self.sent_snapshot = None
        self._put("snapshot", None)

    def take_command(self) -> bool:
        """Count one more command in flight; False when there are too many. Answers
        count until sent: a client that sends commands without reading the answers is
        refused, not buffered without bound."""
        if self.inflight >= MAX_INFLIGHT:
            return False
        self.inflight += 1
        return True

    def _key(self, kind: str) -> str:
        self._serial += 1
        return f"{kind}{self._serial}"

    def _put(self, key: str, text: str | None) -> None:
        queue = self.queue
        queue.pop(key, None)
        if key.startswith(EVENT) and len(queue) >= MAX_OUTBOX:
            self.dropped_events += 1
            return
        queue[key] = text
        self.wake.set()

    # ------------------------------------------------------------ sending
    async def run(self) -> None:
        """The sender task: until the connection closes."""
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.queue:
                    key, text = self.queue.popitem(last=False)
                    if key.startswith(ANSWER):
                        self.inflight -= 1
                    if key == "snapshot":
                        for part in await self._snapshot_parts():
                            await self.ws.send(part)
                    elif text is not None:
                        await self.ws.send(text)
                    if self.dropped_events and len(self.queue) < MAX_OUTBOX // 2:
                        lost = Event(type="lost", t_ns=time.time_ns(),
                                     message=f"{self.dropped_events} events dropped "
                                             "(slow connection)")
                        self.dropped_events = 0
                        await self.ws.send(encode({"type": "event", "event": to_json(lost)}))
        except ConnectionClosed:
            pass

    async def _snapshot_parts(self) -> list[str]:
        latest = self.snapshots.latest
        if latest is None or self.sent_snapshot is latest:
            return []
        base = self.sent_snapshot
        self.sent_snapshot = latest
        try:
            return await self.snapshots.texts(base, latest)
        except Exception as exc:  # noqa: BLE001 - a bug here must not silence the client
            self.sent_snapshot = None  # the next one is full
            return [encode(error_message("session", f"snapshot not sent: "
                                                    f"{type(exc).__name__}: {exc}"))]
