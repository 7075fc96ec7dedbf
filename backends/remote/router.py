"""The share's commands, dispatched by the one table (commands.py).

The driver's commands run the table's host handler. A viewer's run only when the table
lets viewers run them, and are served as it says: from the published snapshot, from
what the session keeps, or while halted by one read shared by every viewer asking the
same (readcache.py). Each client has at most MAX_INFLIGHT commands in flight; answers
go to its outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from gotui.backends.model import GotuiError, to_json
from gotui.backends.remote.commands import COMMANDS, Command, Viewers
from gotui.backends.remote.fields import ProtocolError, error_message
from gotui.backends.remote.outbox import MAX_INFLIGHT, Outbox
from gotui.backends.remote.protocol import encode
from gotui.backends.remote.publisher import SnapshotPublisher
from gotui.backends.remote.readcache import ReadCache
from gotui.backends.remote.sources import SharedSources
from gotui.backends.session import Session

DRAIN_S = 10.0  # on close, how long commands half done may take to finish


class CommandRouter:
    """Runs clients' commands; the commands.Host the table's handlers use."""

    def __init__(self, session: Session, snapshots: SnapshotPublisher,
                 sources: SharedSources) -> None:
        self.session = session
        self.snapshots = snapshots
        self.sources = sources
        self.viewer_reads = ReadCache()
        self._running: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ commands.Host
    @property
    def stops_seen(self) -> int:
        return self.snapshots.stops_seen

    def shown(self, value: Any) -> Any:
        return self.sources.note(value)

    async def read_source(self, path: str) -> list[str]:
        return await self.sources.read(path)

    # ------------------------------------------------------------ dispatch
    def submit(self, outbox: Outbox, driving: bool, name: str, args: dict[str, Any],
               msg_id: str | int) -> None:
        """Start one command (`name` and `args` checked by protocol.py); its answer goes
        to `outbox`. Raises ProtocolError when it is refused."""
        command = COMMANDS[name]
        if not driving and not command.viewer_may(args):
            raise ProtocolError(f"{name}: viewers cannot run commands", code="forbidden",
                                msg_id=msg_id)
        if not outbox.take_command():
            raise ProtocolError(f"more than {MAX_INFLIGHT} commands in flight", code="busy",
                                msg_id=msg_id)
        task = asyncio.get_running_loop().create_task(
            self._run(outbox, command, args, msg_id, driving))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, outbox: Outbox, command: Command[Any], args: dict[str, Any],
                   msg_id: str | int, driving: bool) -> None:
        try:
            value = await (command.run(self, args) if driving
                           else self._for_viewer(command, args))
            text = await asyncio.to_thread(
                lambda: encode({"type": "result", "id": msg_id, "ok": True, "value": value}))
        except ProtocolError as exc:
            text = encode(error_message(exc.code, str(exc), msg_id))
        except GotuiError as exc:
            text = encode(error_message("failed", str(exc), msg_id))
        except Exception as exc:  # noqa: BLE001 - one line to the client, server goes on
            text = encode(error_message("failed", f"{type(exc).__name__}: {exc}", msg_id))
        outbox.answer(text)

    async def _for_viewer(self, command: Command[Any], args: dict[str, Any]) -> Any:
        """A viewer's call, served as the table says: never anything that changes or
        keeps the target stopped."""
        if command.viewers is Viewers.PUBLISHED:
            snap = self.snapshots.published_from or self.session.last_snapshot
            if snap is None:
                raise GotuiError("no snapshot yet: the first one is on its way")
            return await asyncio.to_thread(to_json, snap)
        if command.viewers is Viewers.SHARED_READ and not self.session.state.running:
            key = (command.name, tuple(sorted(args.items())))
            return await self.viewer_reads.get(key, lambda: command.run(self, args))
        return await command.run(self, args)

    def target_moved(self) -> None:
        """The target's state changed: what viewers read of it is stale."""
        self.viewer_reads.clear()

    async def close(self) -> None:
        """A command half done (a halt, a step) is finished, not cut: cancelling it could
        leave the debugger connection mid-call. Those still running after DRAIN_S are
        cancelled."""
        if self._running:
            await asyncio.wait(list(self._running), timeout=DRAIN_S)
        for task in list(self._running):
            task.cancel()
        for task in list(self._running):
            with contextlib.suppress(BaseException):
                await task
