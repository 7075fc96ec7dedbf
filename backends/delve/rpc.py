"""Asyncio client for Delve's JSON-RPC API v2.

Wire format (service/rpccommon/server.go in go-delve/delve): JSON-RPC 1.0 over a
stream, one JSON object per line each way:
    -> {"method": "RPCServer.X", "params": [{...}], "id": n}
    <- {"id": n, "result": {...}, "error": null | "message"}

Delve reads a connection's requests one at a time. "Synchronous" methods (all but
State, Command, Restart, StopRecording) run inside that read loop, so they can be
pipelined and answer in order. Command{continue|next|step|...} answers only when the
target stops again; until then a synchronous call would sit in the read loop waiting
for the target lock and no later request (not even halt) would be read. So while a
resuming command is in flight this client allows only State{NonBlocking:true} and
Command{halt}, and refuses anything else with a GotuiError.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import Callable
from typing import Any

from gotui.backends.model import GotuiError

# Commands that resume the target: Delve replies to them only when it stops again.
RESUMING_COMMANDS = frozenset({
    "continue", "next", "step", "stepOut", "stepInstruction", "nextInstruction", "call",
    "rewind", "reverseNext", "reverseStep", "reverseStepOut", "reverseStepInstruction",
    "reverseNextInstruction", "directionCongruentContinue",
})

_REPLY_ID = re.compile(rb'\{"id":("(?:[^"\\]|\\.)*"|-?\d+|null),')

# A 100k-goroutine page is tens of MB of JSON on one line.
_STREAM_LIMIT = 1 << 30


class DelveRPC:
    """One JSON-RPC connection to a headless Delve. Use `await DelveRPC.connect(addr)`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 address: str, id_prefix: str = "r") -> None:
        self.address = address
        self._id_prefix = id_prefix  # distinct per hop, so relayed ids never clash
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        # keyed by the id's JSON text as Delve echoes it back (our ids are "r<n>")
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._relayed: dict[str, str] = {}  # id text -> method, for relay() users
        self._resuming: str | None = None  # id of the in-flight resuming Command
        self._stopped = asyncio.Event()  # set while no resuming Command is in flight
        self._stopped.set()
        self._closed_reason: str | None = None
        self._closing = False
        # called once if the connection drops without close() (e.g. dlv was killed)
        self.on_lost: Callable[[], None] | None = None
        # called with (raw reply line, method) for replies to relay()ed requests
        self.on_relayed_reply: Callable[[bytes, str], None] | None = None
        self._read_task = asyncio.get_running_loop().create_task(self._read_loop())

    # ------------------------------------------------------------ connection
    @classmethod
    async def connect(cls, address: str, timeout: float = 10.0,
                      id_prefix: str = "r") -> DelveRPC:
        """address: "host:port" or "unix:/path/to/socket"."""
        try:
            if address.startswith("unix:"):
                coro = asyncio.open_unix_connection(address[5:], limit=_STREAM_LIMIT)
            else:
                host, sep, port = address.rpartition(":")
                if not sep or not port.isdigit():
                    raise GotuiError(f"bad Delve address {address!r}: want host:port")
                coro = asyncio.open_connection(host.strip("[]"), int(port),
                                               limit=_STREAM_LIMIT)
            reader, writer = await asyncio.wait_for(coro, timeout)
        except TimeoutError:
            raise GotuiError(f"cannot connect to Delve at {address}: timed out") from None
        except OSError as exc:
            why = exc.strerror or str(exc) or exc.__class__.__name__
            raise GotuiError(f"cannot connect to Delve at {address}: {why}") from None
        return cls(reader, writer, address, id_prefix)

    def socket(self) -> Any:
        """The connected socket (to find who is at the other end: delve/peer.py)."""
        return self._writer.get_extra_info("socket")

    @property
    def closed(self) -> bool:
        return self._closed_reason is not None

    @property
    def running(self) -> bool:
        """True while a continue/next/step... is in flight (the target may be running)."""
        return self._resuming is not None

    async def wait_stopped(self, timeout: float) -> bool:
        """Wait until no continue/next/step... is in flight; False on timeout."""
        try:
            async with asyncio.timeout(timeout):  # wait_for may swallow a cancel (3.11)
                await self._stopped.wait()
        except TimeoutError:
            return False
        return True

    async def wait_closed(self) -> None:
        """Wait until the connection ends, then raise the GotuiError saying why."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._read_task)
        raise GotuiError(self._closed_reason or "connection to Delve closed")

    async def close(self) -> None:
        """Close the connection. Without --accept-multiclient, Delve then halts the
        target if it runs and detaches from it (it keeps running)."""
        self._closing = True
        self._fail_all("connection to Delve closed")
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self._read_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._read_task

    # ------------------------------------------------------------ calls
    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call RPCServer.<method>; returns the result object or raises GotuiError
        carrying Delve's error message on one line."""
        params = params or {}
        if self._closed_reason is not None:
            raise GotuiError(self._closed_reason)
        resuming = method == "Command" and params.get("name") in RESUMING_COMMANDS
        if self._resuming is not None and not _allowed_while_running(method, params):
            raise GotuiError(f"cannot call {method} while the target is running: halt it first")
        req_id = f'"{self._id_prefix}{next(self._ids)}"'
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        if resuming:
            self._set_resuming(req_id)
        line = f'{{"method": "RPCServer.{method}", "params": [{json.dumps(params)}], "id": {req_id}}}'
        try:
            self._writer.write(line.encode() + b"\n")
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:
            self._fail_all(f"lost connection to Delve: {exc}")
        try:
            return await fut
        finally:
            self._pending.pop(req_id, None)
            self._clear_resuming(req_id)

    def relay(self, line: bytes, request: dict[str, Any]) -> None:
        """Send another client's request line unchanged (the guard does this); its
        reply goes to on_relayed_reply without being decoded here. `request` is the
        decoded line, used to follow the running state."""
        if self._closed_reason is not None:
            raise GotuiError(self._closed_reason)
        key = json.dumps(request.get("id"))
        method = str(request.get("method", "")).removeprefix("RPCServer.")
        params = (request.get("params") or [{}])[0] or {}
        self._relayed[key] = method
        if method == "Command" and params.get("name") in RESUMING_COMMANDS:
            self._set_resuming(key)
        self._writer.write(line if line.endswith(b"\n") else line + b"\n")

    def _set_resuming(self, key: str) -> None:
        self._resuming = key
        self._stopped.clear()

    def _clear_resuming(self, key: str) -> None:
        if self._resuming == key:
            self._resuming = None
            self._stopped.set()

    async def _read_loop(self) -> None:
        reason = "Delve closed the connection"
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                # Go's encoder writes {"id":...,"result":...}: the id comes first, so
                # a relayed reply (possibly megabytes) is passed on without decoding
                m = _REPLY_ID.match(line)
                key = m.group(1).decode() if m else ""
                if key in self._relayed:
                    method = self._relayed.pop(key)
                    self._clear_resuming(key)
                    if self.on_relayed_reply is not None:
                        self.on_relayed_reply(line, method)
                    continue
                msg = json.loads(line)
                fut = self._pending.get(json.dumps(msg.get("id")))
                if fut is None or fut.done():
                    continue
                if msg.get("error"):
                    fut.set_exception(GotuiError(_one_line(str(msg["error"]))))
                else:
                    fut.set_result(msg.get("result") or {})
        except asyncio.CancelledError:
            reason = "connection to Delve closed"
            raise
        except (OSError, ValueError) as exc:
            reason = f"lost connection to Delve: {exc}"
        finally:
            self._fail_all(reason)
            if not self._closing and self.on_lost is not None:
                self.on_lost()

    def _fail_all(self, reason: str) -> None:
        if self._closed_reason is None:
            self._closed_reason = reason
        for fut in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(GotuiError(self._closed_reason))
        self._resuming = None
        self._stopped.set()

    # ------------------------------------------------------------ typed helpers
    async def state(self, non_blocking: bool = True) -> dict[str, Any]:
        return (await self.call("State", {"NonBlocking": non_blocking}))["State"]

    async def command(self, name: str, **fields: Any) -> dict[str, Any]:
        return (await self.call("Command", {"name": name, **fields}))["State"]

    async def list_goroutines(self, *, page: int = 1000,
                              filters: list[dict[str, Any]] | None = None,
                              group_by: int = 0, group_by_key: str = "",
                              max_group_members: int = 0, max_groups: int = 0,
                              scope: dict[str, Any] | None = None,
                              ) -> list[dict[str, Any]]:
        """All goroutines, paged with Start/Count until Nextg == -1."""
        out: list[dict[str, Any]] = []
        start = 0
        while True:
            params: dict[str, Any] = {
                "Start": start, "Count": page, "Filters": filters or [],
                # api.GoroutineGroupingOptions is embedded, so its fields are flat
                "GroupBy": group_by, "GroupByKey": group_by_key,
                "MaxGroupMembers": max_group_members, "MaxGroups": max_groups,
            }
            if scope is not None:
                params["EvalScope"] = scope
            res = await self.call("ListGoroutines", params)
            out.extend(res.get("Goroutines") or [])
            nextg = int(res.get("Nextg", -1))
            if nextg < 0 or nextg <= start:
                return out
            start = nextg


def _allowed_while_running(method: str, params: dict[str, Any]) -> bool:
    if method == "State":
        return bool(params.get("NonBlocking"))
    return method == "Command" and params.get("name") == "halt"


def _one_line(msg: str) -> str:
    return " ".join(msg.split())
