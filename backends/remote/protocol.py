"""Wire protocol of a shared gotui session (websockets, one JSON object per text frame).

Every message is a JSON object with a string `type`.

Server -> client
----------------
- `hello`    {role: "driver"|"viewer", token: "driver"|"viewer", target: TargetInfo,
              session: str, you: str, backend: BACKEND, state: TargetState, protocol: 1}
              (always first; `token` is the kind of token this client joined with)
- `backend`  BACKEND = {target: TargetInfo, backend_name: str, can_stop: bool,
              has_stop_backend: bool}            (the host attached or changed a backend)
- `snapshot` a full snapshot or a delta, see below
- `state`    {state: TargetState}
- `event`    {event: Event}
- `presence` {clients: [{id, role, token, name, name_source: "self-declared", follow}],
              driver: client id | "host" | null, requests: [client ids asking to drive]}
              (`name` is whatever the client sent as X-Gotui-User: never verified)
- `select`   {goroutine: int, pane: str}         (the driver's selection, to followers)
- `result`   {id, ok: true, value}                (answer to one `command`)
- `error`    {code, message, id}                  (id is null when not about a command)
             codes: bad_message, too_large (the connection goes on), forbidden (a
             viewer's command; nothing happened), busy (too many commands in flight),
             failed (the host's one-line error), session (the host session reported it)
- `snapshot_part`  see "Snapshots" below

Roles: a driver-token client takes the wheel when nobody drives (headless share, or
the driver left); otherwise every client starts as a viewer. Viewers may run the
read-only commands (those commands.COMMANDS lets viewers run, and `snapshot` without
stacks), which never change the target's run state: the server answers them from what
it has (the published snapshot, the session's breakpoint list, one shared read of a
halted target). Only
driver-token clients may `request_drive` (listed in presence.requests) and be handed the
wheel by the driver (a client, or "host" at the host's TUI) with `grant_drive`; a
viewer-token client's request is refused (`forbidden`).

Client -> server
----------------
- `command`       {name, args: {...}, id: str|int}   name and args per commands.COMMANDS
- `request_drive` {}                    ask for the wheel
- `grant_drive`   {to: client id}       the current driver hands the wheel over
- `follow`        {on: bool}            follow the driver's selected goroutine and pane
- `select`        {goroutine: int, pane: str}   the driver's selection (driver only)
- `resync`        {}                    send me a full snapshot next (lost track of deltas)

Snapshots: full first, then deltas (built and applied in snapshots.py)
---------------------------------------------------------------------
`{"type": "snapshot", "full": true, "seq": N, "snapshot": <model.to_json(Snapshot)>}`
is the same schema as `gotui snapshot --format json`. After it, the server sends deltas
against the last snapshot THIS client received (a slow client skips intermediate ones,
so its deltas are relative to what it really has):

    {"type": "snapshot", "full": false, "seq": N, "base": M,
     "meta": {pid, exe, go_version, source, taken_at, target_paused_ns},
     "upsert": [goroutine json, ...],   # added or changed goroutines, whole
     "removed": [goroutine ids],        # gone since `base`
     "order": [ids] | absent,           # only when the id order is not
                                        # base order minus removed, then added appended
     "channels": [channel json, ...],   # always the whole (small) channel list
     "wait_dt_ns": int}                 # see below

Goroutines not in `upsert` keep their JSON, except that the client adds `wait_dt_ns`
to a nonzero `wait_ns`: waiting goroutines are not resent on every snapshot just
because they have waited longer. The server takes wait_dt_ns as the median growth of
wait_ns between the two snapshots (the reader's own clock, immune to when taken_at was
stamped) and resends a goroutine when that prediction is off by more than
WAIT_TOLERANCE_NS (100 ms).

Big snapshots travel in parts, so that no single JSON encode or decode of tens of MB
holds the GIL (and stalls an event loop): a `snapshot` message with `"parts": K` (K > 1)
carries the first chunk of its goroutine list (`snapshot.goroutines` of a full one,
`upsert` of a delta) and is followed at once by K-1
`{"type": "snapshot_part", "seq": N, "index": i, "items": [goroutine json, ...]}`
whose items the client appends to that list, in order, before applying the message.

A client whose own seq is not `base` has lost track and sends `resync` (client.py
does this on its own). Snapshots are coalesced per client: a client that reads slowly
gets the newest snapshot when it catches up, never a backlog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gotui.backends.remote.commands import COMMANDS
from gotui.backends.remote.fields import (
    BOOL,
    DICT,
    INT,
    STR,
    ArgSpec,
    ProtocolError,
    check_fields,
    is_type,
)

PROTOCOL_VERSION = 1
# An inbound message above this gets a `too_large` error and the connection survives;
# the websocket layer closes the connection (1009) above HARD_MAX_INBOUND.
MAX_INBOUND = 1 << 20
HARD_MAX_INBOUND = 4 << 20
# The largest frame a client accepts: a `snapshot` command's answer with stacks is the
# biggest message (snapshots pushed to clients travel in parts). A host sending more is
# cut off (1009) rather than let it take the joiner's memory.
MAX_OUTBOUND = 64 << 20
# A multi-part snapshot is refused (and resynced) beyond these.
MAX_SNAPSHOT_GOROUTINES = 2_000_000
MAX_SNAPSHOT_BYTES = 1 << 30
MAX_SNAPSHOT_PARTS = 100_000

ROLES = ("driver", "viewer")
PANES = ("goroutines", "stack", "source", "locals", "breakpoints", "channels", "events",
         "eval", "")

CLIENT_TYPES: dict[str, ArgSpec] = {
    "command": {"name": (STR, True), "args": (DICT, False), "id": ((str, int), True)},
    "request_drive": {},
    "grant_drive": {"to": (STR, True)},
    "follow": {"on": (BOOL, True)},
    "select": {"goroutine": (INT, True), "pane": (STR, True)},
    "resync": {},
}

SERVER_TYPES: dict[str, ArgSpec] = {
    "hello": {"role": (STR, True), "target": (DICT, True), "session": (STR, True),
              "you": (STR, True), "backend": (DICT, True), "state": (DICT, True)},
    "backend": {"target": (DICT, True), "backend_name": (STR, True),
                "can_stop": (BOOL, True), "has_stop_backend": (BOOL, True)},
    "snapshot": {"full": (BOOL, True), "seq": (INT, True), "parts": (INT, False)},
    "snapshot_part": {"seq": (INT, True), "index": (INT, True), "items": ((list,), True)},
    "state": {"state": (DICT, True)},
    "event": {"event": (DICT, True)},
    "presence": {"clients": ((list,), True), "driver": ((str, type(None)), True),
                 "requests": ((list,), True)},
    "select": {"goroutine": (INT, True), "pane": (STR, True)},
    "result": {"id": ((str, int), True), "ok": (BOOL, True)},
    "error": {"code": (STR, True), "message": (STR, True),
              "id": ((str, int, type(None)), False)},
}

MAX_ID_LEN = 128
MAX_STR_ARG = 64 << 10


@dataclass
class ClientMessage:
    type: str
    fields: dict[str, Any] = field(default_factory=dict)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode(msg: Any) -> str:
    return _ENCODER.encode(msg)


def _load(raw: str | bytes, limit: int) -> dict[str, Any]:
    if isinstance(raw, bytes | bytearray | memoryview):
        raise ProtocolError("binary frames are not accepted: send JSON text")
    if not isinstance(raw, str):
        raise ProtocolError("message must be JSON text")
    if len(raw) > limit:
        raise ProtocolError(f"message too large ({len(raw)} > {limit} bytes)", code="too_large")
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"not JSON: {str(exc)[:100]}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("message must be a JSON object")
    if not isinstance(obj.get("type"), str):
        raise ProtocolError("message has no string 'type'")
    return obj


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Validate one message from a client. Raises ProtocolError, never anything else."""
    obj = _load(raw, MAX_INBOUND)
    kind = obj["type"]
    spec = CLIENT_TYPES.get(kind)
    if spec is None:
        raise ProtocolError(f"unknown message type {kind[:40]!r}")
    raw_id = obj.get("id") if kind == "command" else None
    msg_id = raw_id if is_type(raw_id, (str, int)) else None
    if isinstance(msg_id, str) and len(msg_id) > MAX_ID_LEN:
        raise ProtocolError(f"command id longer than {MAX_ID_LEN} characters")
    check_fields(obj, spec, kind, msg_id)
    if kind == "command":
        name = obj["name"]
        args = obj.get("args", {})
        command = COMMANDS.get(name)
        if command is None:
            raise ProtocolError(f"unknown command {name[:40]!r}", msg_id=msg_id)
        unknown = sorted(set(args) - set(command.args))
        if unknown:
            raise ProtocolError(f"{name}: unknown argument {unknown[0][:40]!r}", msg_id=msg_id)
        check_fields(args, command.args, name, msg_id)
        for key, value in args.items():
            if isinstance(value, str) and len(value) > MAX_STR_ARG:
                raise ProtocolError(f"{name}: argument {key!r} is too long", msg_id=msg_id)
        for key, known in command.records.items():
            if key in args:
                record = {k: v for k, v in args[key].items() if k in known}
                check_fields(record, known, f"{name}.{key}", msg_id)
                args = {**args, key: record}
        return ClientMessage(kind, {"name": name, "args": args, "id": msg_id})
    if kind == "select" and obj["pane"] not in PANES:
        raise ProtocolError(f"select: unknown pane {obj['pane'][:40]!r}")
    return ClientMessage(kind, {k: obj[k] for k in spec if k in obj})


def parse_server_message(raw: str | bytes) -> dict[str, Any]:
    """Validate one message from the server (client side). Raises ProtocolError."""
    obj = _load(raw, MAX_OUTBOUND)
    spec = SERVER_TYPES.get(obj["type"])
    if spec is None:
        raise ProtocolError(f"unknown message type {obj['type'][:40]!r}")
    check_fields(obj, spec, obj["type"])
    return obj
