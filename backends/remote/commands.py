"""The commands of a shared session, in one table.

Each Command says everything about one command: its arguments, whether a viewer (a
client not driving) may run it and how a viewer's call is served, what the host does
(the session call and its answer as JSON), and how a joiner decodes that answer.
protocol.py validates `command` messages against it, the server's router (router.py)
dispatches with it, and RemoteSession's methods (client.py) call through it.

Adding a command: a handler below, one Command entry in COMMANDS, a RemoteSession method
that calls it (a one-liner), the method on Session, and its arguments in the roles
property test (tests/security/test_dispatch_roles.py checks that it has every command).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from gotui.backends.model import (
    Breakpoint,
    Frame,
    GotuiError,
    TargetState,
    Variable,
    breakpoint_from_json,
    frame_from_json,
    snapshot_from_json,
    state_from_json,
    to_json,
    variable_from_json,
)
from gotui.backends.remote.fields import BOOL, DICT, INT, STR, ArgSpec
from gotui.backends.session import Session

RUNNING_WAIT_S = 5.0  # after a continue, how long to wait to see the target running

# Fields of a breakpoint a client may set (the rest are reported by the backend).
BREAKPOINT_FIELDS: ArgSpec = {
    "id": (INT, False), "name": (STR, False), "file": (STR, False),
    "line": (INT, False), "function": (STR, False), "cond": (STR, False),
    "hit_cond": (STR, False), "hit_cond_per_g": (BOOL, False), "enabled": (BOOL, False),
    "tracepoint": (BOOL, False),
}


class Viewers(enum.Enum):
    """Whether a viewer may run a command, and how its call is served. No way a viewer
    is served changes the target's run state or keeps it stopped."""

    NEVER = "driver only"
    # the snapshot the server's pull loop last published: never a read of the target
    PUBLISHED = "published snapshot"
    # the host's call, which answers from what the session keeps (the breakpoint list)
    # and never talks to the backend
    KEPT = "kept by the session"
    # halted: one read of the stop backend shared by every viewer asking the same
    # (readcache.py); running: the host's call (the live reader, which never stops it)
    SHARED_READ = "shared read"
    # the host's call, confined to what clients were shown (source files)
    CONFINED = "confined"


class Host(Protocol):
    """What a command's host-side handler may use (router.CommandRouter provides it)."""

    @property
    def session(self) -> Session: ...

    @property
    def stops_seen(self) -> int:
        """How many times the share saw the target stop."""
        ...

    def shown(self, value: Any) -> Any:
        """Note the source files named in a JSON answer (clients may ask for them next);
        returns it."""
        ...

    async def read_source(self, path: str) -> list[str]: ...


T = TypeVar("T")
Handler = Callable[[Host, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Command(Generic[T]):
    name: str
    run: Handler  # at the host, for the driver (and viewers, as `viewers` says)
    decode: Callable[[Any], T]  # at the joiner: the answer's JSON -> what the method returns
    args: ArgSpec = field(default_factory=dict)
    viewers: Viewers = Viewers.NEVER
    # object arguments whose known fields are kept (and checked) and the rest dropped
    records: dict[str, ArgSpec] = field(default_factory=dict)
    # arguments only the driver may set: a full-stack snapshot can keep Delve busy for
    # minutes
    driver_flags: tuple[str, ...] = ()

    def viewer_may(self, args: dict[str, Any]) -> bool:
        return self.viewers is not Viewers.NEVER and not any(
            args.get(flag) for flag in self.driver_flags)


def backend_json(session: Session) -> dict[str, Any]:
    """The host's backends as the `backend` message (and ensure_stop) tells them."""
    return {"target": to_json(session.info), "backend_name": session.backend_name,
            "can_stop": session.can_stop, "has_stop_backend": session.has_stop_backend}


def breakpoint_args(bp: Breakpoint) -> dict[str, Any]:
    """The fields of `bp` a client sends to create, amend or move it."""
    d = to_json(bp)
    return {k: d[k] for k in BREAKPOINT_FIELDS}


# ----------------------------------------------------------------- host side

async def _snapshot(host: Host, a: dict[str, Any]) -> Any:
    snap = await host.session.snapshot(stacks=a.get("stacks", False))
    return await asyncio.to_thread(to_json, snap)


async def _stack(host: Host, a: dict[str, Any]) -> Any:
    return host.shown(to_json(await host.session.stack(a["goid"], a.get("depth", 64))))


async def _locals(host: Host, a: dict[str, Any]) -> Any:
    return to_json(await host.session.locals(a["goid"], a["frame"]))


async def _args(host: Host, a: dict[str, Any]) -> Any:
    return to_json(await host.session.args(a["goid"], a["frame"]))


async def _eval(host: Host, a: dict[str, Any]) -> Any:
    return to_json(await host.session.eval(a["expr"], a.get("goid", -1), a.get("frame", 0)))


async def _breakpoints(host: Host, a: dict[str, Any]) -> Any:
    return host.shown(to_json(await host.session.breakpoints()))


async def _create_breakpoint(host: Host, a: dict[str, Any]) -> Any:
    bp = breakpoint_from_json(a["breakpoint"])
    return host.shown(to_json(await host.session.create_breakpoint(bp)))


async def _amend_breakpoint(host: Host, a: dict[str, Any]) -> Any:
    bp = breakpoint_from_json(a["breakpoint"])
    return host.shown(to_json(await host.session.amend_breakpoint(bp)))


async def _move_breakpoint(host: Host, a: dict[str, Any]) -> Any:
    bp = breakpoint_from_json(a["breakpoint"])  # one halt at the host for the whole move
    return host.shown(to_json(await host.session.move_breakpoint(bp)))


async def _clear_breakpoint(host: Host, a: dict[str, Any]) -> Any:
    await host.session.clear_breakpoint(a["id"])
    return None


async def _continue(host: Host, a: dict[str, Any]) -> Any:
    stops = host.stops_seen
    await host.session.cont()
    await _wait_running(host, stops)
    return to_json(host.session.state)


async def _wait_running(host: Host, stops_before: int) -> None:
    """Return once the target was seen running (or stopping again) after a continue."""
    deadline = time.monotonic() + RUNNING_WAIT_S
    while time.monotonic() < deadline:
        if host.stops_seen != stops_before or not host.session.has_stop_backend:
            return  # it stopped again since, so it ran
        with contextlib.suppress(TimeoutError):
            st = await asyncio.wait_for(host.session.poll_state(), timeout=1.0)
            if st.running or st.exited:
                return
        await asyncio.sleep(0.02)
    raise GotuiError(f"continue sent, but the target was not seen running within "
                     f"{RUNNING_WAIT_S:.0f} s")


def _stepping(verb: Callable[[Session], Awaitable[TargetState]]) -> Handler:
    """halt, next, step, step_out: the state it stopped in (its file may be read next)."""
    async def run(host: Host, a: dict[str, Any]) -> Any:
        st = await verb(host.session)
        host.shown(to_json(st.current))
        return to_json(st)

    return run


async def _switch_goroutine(host: Host, a: dict[str, Any]) -> Any:
    return to_json(await host.session.switch_goroutine(a["goid"]))


async def _read_source(host: Host, a: dict[str, Any]) -> Any:
    return await host.read_source(a["path"])


async def _ensure_stop(host: Host, a: dict[str, Any]) -> Any:
    await host.session.ensure_stop()
    return backend_json(host.session)


# ----------------------------------------------------------------- joiner side

def _frames(value: Any) -> list[Frame]:
    return [frame_from_json(f) for f in value]


def _variables(value: Any) -> list[Variable]:
    return [variable_from_json(v) for v in value]


def _breakpoint_list(value: Any) -> list[Breakpoint]:
    return [breakpoint_from_json(b) for b in value]


def _nothing(value: Any) -> None:
    return None


def _lines(value: Any) -> list[str]:
    return [str(line) for line in value]


def _backend(value: Any) -> dict[str, Any]:
    return dict(value)


# ----------------------------------------------------------------- the table

SNAPSHOT = Command("snapshot", _snapshot, snapshot_from_json, {"stacks": (BOOL, False)},
                   Viewers.PUBLISHED, driver_flags=("stacks",))
STACK = Command("stack", _stack, _frames, {"goid": (INT, True), "depth": (INT, False)},
                Viewers.SHARED_READ)
LOCALS = Command("locals", _locals, _variables, {"goid": (INT, True), "frame": (INT, True)},
                 Viewers.SHARED_READ)
ARGS = Command("args", _args, _variables, {"goid": (INT, True), "frame": (INT, True)},
               Viewers.SHARED_READ)
EVAL = Command("eval", _eval, variable_from_json,
               {"expr": (STR, True), "goid": (INT, False), "frame": (INT, False)})
BREAKPOINTS = Command("breakpoints", _breakpoints, _breakpoint_list, viewers=Viewers.KEPT)
CREATE_BREAKPOINT = Command("create_breakpoint", _create_breakpoint, breakpoint_from_json,
                            {"breakpoint": (DICT, True)},
                            records={"breakpoint": BREAKPOINT_FIELDS})
AMEND_BREAKPOINT = Command("amend_breakpoint", _amend_breakpoint, breakpoint_from_json,
                           {"breakpoint": (DICT, True)},
                           records={"breakpoint": BREAKPOINT_FIELDS})
MOVE_BREAKPOINT = Command("move_breakpoint", _move_breakpoint, breakpoint_from_json,
                          {"breakpoint": (DICT, True)},
                          records={"breakpoint": BREAKPOINT_FIELDS})
CLEAR_BREAKPOINT = Command("clear_breakpoint", _clear_breakpoint, _nothing,
                           {"id": (INT, True)})
CONTINUE = Command("continue", _continue, state_from_json)
HALT = Command("halt", _stepping(lambda s: s.halt()), state_from_json)
NEXT = Command("next", _stepping(lambda s: s.next()), state_from_json)
STEP = Command("step", _stepping(lambda s: s.step()), state_from_json)
STEP_OUT = Command("step_out", _stepping(lambda s: s.step_out()), state_from_json)
SWITCH_GOROUTINE = Command("switch_goroutine", _switch_goroutine, state_from_json,
                           {"goid": (INT, True)})
READ_SOURCE = Command("read_source", _read_source, _lines, {"path": (STR, True)},
                      Viewers.CONFINED)
ENSURE_STOP = Command("ensure_stop", _ensure_stop, _backend)

COMMANDS: dict[str, Command[Any]] = {c.name: c for c in (
    SNAPSHOT, STACK, LOCALS, ARGS, EVAL, BREAKPOINTS, CREATE_BREAKPOINT, AMEND_BREAKPOINT,
    MOVE_BREAKPOINT, CLEAR_BREAKPOINT, CONTINUE, HALT, NEXT, STEP, STEP_OUT,
    SWITCH_GOROUTINE, READ_SOURCE, ENSURE_STOP)}
