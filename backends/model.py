"""The one data shape that crosses boundaries: backends -> session -> CLI / TUI / wire.

Every type is a plain dataclass that serialises to JSON with `to_json()` (the one
serialiser, JsonConverter) and back with the `*_from_json()` functions. Field names
follow the snapshot contract in DESIGN.md §3; new fields may be added, existing ones
are never renamed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

GoroutineStatus = Literal[
    "idle", "runnable", "running", "syscall", "waiting", "leaked", "dead", "copystack",
    "preempted"
]
FrameKind = Literal["go", "runtime", "cgo", "c"]
ChanOp = Literal["send", "recv", "select"]

# runtime._G* constants (scan bit 0x1000 masked before lookup)
STATUS_NAMES: dict[int, str] = {
    0: "idle",
    1: "runnable",
    2: "running",
    3: "syscall",
    4: "waiting",
    5: "dead",  # _Gmoribund_unused
    6: "dead",
    7: "dead",  # _Genqueue_unused
    8: "copystack",
    9: "preempted",
    10: "leaked",  # _Gleaked (1.26+): the leak detector proved it can never be woken
    11: "dead",  # _Gdeadextra (1.26+): a dead g kept for cgo callbacks (never dumped)
}
SCAN_BIT = 0x1000  # runtime._Gscan: the GC owns the goroutine's stack right now


def status_name(raw: int) -> str:
    return STATUS_NAMES.get(raw & ~SCAN_BIT, "unknown")


# Function-name prefixes of frames that belong to the runtime, not to user code.
RUNTIME_PREFIXES = ("runtime.", "runtime/internal/", "internal/runtime/", "internal/")
CGO_BOUNDARY_FUNCS = frozenset(
    {
        "runtime.cgocall",
        "runtime.asmcgocall",
        "runtime.asmcgocall.abi0",
        "runtime.cgocallback",
        "runtime.cgocallback.abi0",
        "runtime.cgocallbackg",
        "runtime.cgocallbackg1",
        "crosscall2",
        "_cgo_topofstack",
    }
)


def frame_kind(function: str) -> FrameKind:
    """Classify a frame by its function name (Delve has no system-stack flag)."""
    if (function in CGO_BOUNDARY_FUNCS or function.startswith(("_cgo_", "x_cgo_", "_cgoexp_"))
            or "_Cfunc_" in function or "_cgoexp_" in function):
        return "cgo"
    if function.startswith("C."):
        return "c"
    if function.startswith(RUNTIME_PREFIXES):
        return "runtime"
    if "." not in function and "/" not in function and function:
        # Plain C symbol names (no package path) come from C code.
        return "c"
    return "go"


@dataclass
class Location:
    function: str = ""
    file: str = ""
    line: int = 0
    pc: int = 0
    # entry pc of the function holding pc (pc - entry: the runtime's `+0x..`), 0 if unknown
    entry: int = 0

    def short(self) -> str:
        file = self.file.rsplit("/", 1)[-1] if self.file else "?"
        return f"{self.function} {file}:{self.line}" if self.function else f"{file}:{self.line}"


@dataclass
class Frame:
    function: str = ""
    file: str = ""
    line: int = 0
    pc: int = 0
    kind: FrameKind = "go"
    # free text about where a frame came from, e.g. "frame-pointer walk", "library+0x12"
    note: str = ""
    # entry pc of the physical function the frame runs in (pc - entry is the `+0x..`
    # of the runtime's traceback; 0 if unknown); inlined: a call inlined there
    entry: int = 0
    inlined: bool = False
    # the function's abi.FuncID name from the pclntab when it is special ("wrapper",
    # "gopanic", "sigpanic", "panicwrap", "runFinalizers", "goexit", ...), else ""
    func_id: str = ""

    @property
    def location(self) -> Location:
        return Location(self.function, self.file, self.line, self.pc, self.entry)


@dataclass
class BlockedOn:
    chan: str  # "0x..." address of the runtime.hchan
    op: ChanOp


@dataclass
class Goroutine:
    id: int
    status: str = "waiting"
    wait_reason: str = ""
    wait_ns: int = 0  # how long it has waited, 0 if unknown
    labels: dict[str, str] = field(default_factory=dict)
    current: Location = field(default_factory=Location)
    user_current: Location = field(default_factory=Location)
    go_statement: Location = field(default_factory=Location)
    start: Location = field(default_factory=Location)
    parent_id: int = 0
    blocked_on: BlockedOn | None = None
    stack: list[Frame] = field(default_factory=list)
    thread_id: int = 0  # OS thread running it (0 if none)
    # every channel this goroutine waits on (a select may wait on several)
    waiting_on: list[BlockedOn] = field(default_factory=list)
    # "0x..": the sync object (Lock.addr) it waits on; "" if none or unknown
    blocked_on_lock: str = ""
    # channels/locks that others wait on whose address is in this goroutine's stack
    # (live reader: a scan of the stack words; candidates to wake them, not a proof)
    stack_refs: list[str] = field(default_factory=list)
    # the first frame of the program's own code (its main module, from buildinfo);
    # user_current when no frame of it is on the stack
    own_current: Location = field(default_factory=Location)
    # what wait_ns counts from: "gc" = since the first GC that saw the goroutine
    # blocked (runtime g.waitsince: a lower bound), "park" = since it parked (eBPF
    # saw it: exact), "" = no wait time known
    wait_basis: str = ""
    locked_to_thread: bool = False  # g.lockedm != 0 (runtime.LockOSThread)
    synctest_bubble: int = 0  # id of its testing/synctest bubble (Go 1.24+), 0 if none
    # blocked "durably" in its bubble (the runtime's isIdleInSynctest): "(durable)"
    synctest_durable: bool = False
    scan: bool = False  # the GC scan bit was set when read (the runtime prints "(scan)")


@dataclass
class Channel:
    addr: str
    elem_type: str = ""
    len: int = 0
    cap: int = 0
    closed: bool = False
    senders: list[int] = field(default_factory=list)
    receivers: list[int] = field(default_factory=list)
    elements: list[Any] | None = None  # buffered values in receive order (halted only)


LockKind = Literal["mutex", "rwmutex", "waitgroup", "cond", "sema"]
HoldersBasis = Literal["exact", "inferred", "unknown"]


@dataclass
class Holding:
    """One goroutine holding a lock, and why gotui says so."""

    goroutine: int
    basis: str = "inferred"  # "exact": seen taking it (eBPF); "inferred": from its stack
    held_ns: int = 0  # holding for at least this long (0: unknown)
    location: Location = field(default_factory=Location)  # the frame holding it
    op: str = ""  # the acquiring call: lock | rlock | trylock | tryrlock
    evidence: str = ""  # what tied the goroutine to the lock


def holding_from_json(d: dict[str, Any]) -> Holding:
    return Holding(int(d["goroutine"]), d.get("basis", "inferred"), int(d.get("held_ns", 0)),
                   _loc(d.get("location")), d.get("op", ""), d.get("evidence", ""))


@dataclass
class Lock:
    """A sync object goroutines sleep on, found through the runtime's semaphore table
    (runtime.semtable: semaphore address -> waiting goroutines)."""

    addr: str  # "0x..": the sync.Mutex / RWMutex / WaitGroup (the sema word if unknown)
    kind: str = "sema"  # one of LockKind
    sema: str = ""  # "0x..": the semaphore word the waiters sleep on
    waiters: list[int] = field(default_factory=list)
    # the goroutine(s) holding it: one writer, or the readers of an RWMutex
    holders: list[int] = field(default_factory=list)
    holders_basis: str = "unknown"  # one of HoldersBasis; "exact" only when observed
    holding: list[Holding] = field(default_factory=list)  # per holder: how long, where


@dataclass
class WaitTarget:
    """What a goroutine waits on in a wait-for chain."""

    kind: str  # mutex | rwmutex | sema | waitgroup | cond | chan
    addr: str  # "0x.."
    op: str  # lock | rlock | wait | send | recv | select


@dataclass
class ChainStep:
    """One goroutine of a wait-for chain: where it is, what it waits on, and who could
    end that wait (`next`: the holders of the lock, or the goroutines that could send,
    receive, call Done or Signal), with the basis of that link."""

    goroutine: int
    status: str = ""
    wait_reason: str = ""
    wait_ns: int = 0
    location: Location = field(default_factory=Location)
    waits_for: WaitTarget | None = None
    next: list[int] = field(default_factory=list)
    basis: str = "unknown"  # of the link to `next`: exact | inferred | unknown
    held_ns: int = 0  # lock links: how long next[0] has held it, at least (0: unknown)
    held_at: Location = field(default_factory=Location)  # lock links: where next[0] holds it
    cycle: bool = False  # next[0] is an earlier step: the chain closes on itself


FindingKind = Literal["deadlock", "orphan-wait", "nil-chan", "leak", "mutex-contention"]
Severity = Literal["error", "warning", "hint"]


@dataclass
class Finding:
    """One result of the wait-for analysis (backends/analysis.py)."""

    kind: str  # one of FindingKind
    severity: str  # one of Severity
    title: str
    message: str  # says plainly whether this is a proof or a hint
    goroutines: list[int] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)  # Lock.addr of the locks involved
    # True only when every step is observed or proven (never for an inference)
    proof: bool = False
    # the wait-for chain of its first goroutine, step by step (backends/waitfor.py)
    chain: list[ChainStep] = field(default_factory=list)


@dataclass
class Breakpoint:
    id: int = 0
    name: str = ""
    file: str = ""
    line: int = 0
    function: str = ""
    cond: str = ""
    hit_cond: str = ""  # e.g. "> 5", "% 3"
    hit_cond_per_g: bool = False
    enabled: bool = True
    tracepoint: bool = False
    total_hits: int = 0
    hits_per_goroutine: dict[int, int] = field(default_factory=dict)
    addrs: list[int] = field(default_factory=list)

    def where(self) -> str:
        if self.file:
            return f"{self.file.rsplit('/', 1)[-1]}:{self.line}"
        return self.function


@dataclass
class Variable:
    name: str
    type: str = ""
    value: str = ""
    kind: str = ""
    children: list[Variable] = field(default_factory=list)
    unreadable: str = ""


@dataclass
class TargetInfo:
    pid: int = 0
    exe: str = ""
    go_version: str = ""
    backend: str = ""  # "live", "delve", "gdb", "remote"


@dataclass
class TargetState:
    running: bool = True
    halted_since: float | None = None  # unix time when the target stopped
    exited: bool = False
    exit_status: int | None = None
    current_goroutine: int = 0
    current_thread: int = 0
    # why it stopped: a breakpoint id, "halt", "step", "manual"...
    stop_reason: str = ""
    breakpoint_id: int = 0
    current: Location | None = None


@dataclass
class Event:
    type: str  # created|exited|blocked|unblocked|tracepoint|lost|guard|state|log|error
    t_ns: int = 0
    goid: int = 0
    parent_id: int = 0
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Snapshot:
    pid: int
    exe: str = ""
    go_version: str = ""
    source: str = "live"  # live | delve | gdb
    taken_at: float = field(default_factory=time.time)
    target_paused_ns: int = 0
    goroutines: list[Goroutine] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    locks: list[Lock] = field(default_factory=list)  # sync objects with waiters
    # the target's GODEBUG tracebacklabels (runtime debug.tracebacklabels, Go 1.26+):
    # its goroutine dumps print pprof labels in each header
    traceback_labels: bool = False


# ----------------------------------------------------------------- JSON

_FIELDS: dict[type, tuple[str, ...]] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})
_TEXT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class JsonConverter:
    """The one serialiser of model objects (CLI, TUI, wire): dataclasses -> JSON-ready
    dicts and lists. Field names are cached per class, scalars go inline, and the small
    value objects the live reader shares between goroutines (Location, Frame, BlockedOn)
    are converted once per converter: their dicts are then shared too, so treat what
    comes out as read-only."""

    SHARED = (Location, Frame, BlockedOn)

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}
        self.texts: dict[Any, str] = {}  # JSON text by id() of shared objects, by str

    def text(self, obj: Any) -> str:
        """The compact JSON text of value(obj)."""
        cls = obj.__class__
        if cls is str:
            done = self.texts.get(obj)
            if done is None:
                done = self.texts[obj] = _TEXT.encode(obj)
            return done
        if cls is int:
            return int.__repr__(obj)
        if cls in self.SHARED:
            done = self.texts.get(id(obj))
            if done is None:
                done = self.texts[id(obj)] = _TEXT.encode(self.value(obj))
            return done
        if not obj and (cls is list or cls is dict):
            return "[]" if cls is list else "{}"
        return _TEXT.encode(self.value(obj))

    def value(self, obj: Any) -> Any:
        cls = obj.__class__
        if cls in _SCALARS:
            return obj
        names = _FIELDS.get(cls)
        if names is None:
            names = _FIELDS[cls] = (tuple(f.name for f in dataclasses.fields(obj))
                                    if dataclasses.is_dataclass(obj) else ())
        if names:
            if cls in self.SHARED:
                done = self.memo.get(id(obj))
                if done is None:
                    done = self.memo[id(obj)] = self._object(obj, names)
                return done
            return self._object(obj, names)
        if isinstance(obj, list | tuple):
            return [v if v.__class__ in _SCALARS else self.value(v) for v in obj]
        if isinstance(obj, dict):
            return {str(k): v if v.__class__ in _SCALARS else self.value(v)
                    for k, v in obj.items()}
        return obj

    def _object(self, obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
        out = {}
        for n in names:
            v = getattr(obj, n)
            out[n] = v if v.__class__ in _SCALARS else self.value(v)
        return out


def to_json(obj: Any) -> Any:
    """Dataclass (or list/dict of them) -> JSON-compatible structure."""
    return JsonConverter().value(obj)


def _loc(d: dict[str, Any] | None) -> Location:
    d = d or {}
    return Location(d.get("function", ""), d.get("file", ""), int(d.get("line", 0)),
                    int(d.get("pc", 0)), int(d.get("entry", 0)))


class Shared:
    """One object for equal strings, Locations, frames and stacks while decoding many
    goroutines' JSON. json.loads makes a new str for every string value, and a decoder a
    new Location per field: 100k goroutines parked at a few sites became 100k copies of
    the same few hundred (a joiner's TUI held 531 MB at 100k). Model objects are never
    mutated once made, so sharing them is safe. The memo is dropped past `limit` entries
    (the objects made stay valid; only later ones stop sharing with them)."""

    def __init__(self, limit: int = 1 << 18) -> None:
        self.memo: dict[Any, Any] = {}
        self.limit = limit

    def _keep(self, key: Any, value: Any) -> Any:
        if len(self.memo) >= self.limit:
            self.memo.clear()
        self.memo[key] = value
        return value

    def text(self, s: str) -> str:
        got = self.memo.get(s)
        return got if got is not None else self._keep(s, s)  # type: ignore[no-any-return]

    def loc(self, d: dict[str, Any] | None) -> Location:
        d = d or {}
        key = ("L", d.get("function", ""), d.get("file", ""), d.get("line", 0),
               d.get("pc", 0), d.get("entry", 0))
        got = self.memo.get(key)
        if got is not None:
            return got  # type: ignore[no-any-return]
        made = _loc(d)
        made.function, made.file = self.text(made.function), self.text(made.file)
        return self._keep(key, made)  # type: ignore[no-any-return]

    def frame(self, d: dict[str, Any]) -> Frame:
        key = ("F", *d.items())
        got = self.memo.get(key)
        if got is not None:
            return got  # type: ignore[no-any-return]
        f = frame_from_json(d)
        f.function, f.file, f.note = self.text(f.function), self.text(f.file), self.text(f.note)
        return self._keep(key, f)  # type: ignore[no-any-return]

    def stack(self, frames: list[dict[str, Any]]) -> list[Frame]:
        made = [self.frame(f) for f in frames]
        key = ("S", *map(id, made))  # the frames live as long as this entry (its value)
        got = self.memo.get(key)
        return got if got is not None else self._keep(key, made)  # type: ignore[no-any-return]


def goroutine_from_json(d: dict[str, Any], shared: Shared | None = None) -> Goroutine:
    """A goroutine from its JSON; pass one `shared` for many goroutines."""
    bo = d.get("blocked_on")
    s = shared or Shared()
    loc, text = s.loc, s.text
    return Goroutine(
        id=int(d["id"]),
        status=text(d.get("status", "")),
        wait_reason=text(d.get("wait_reason", "")),
        wait_ns=int(d.get("wait_ns", 0)),
        labels=dict(d.get("labels") or {}),
        current=loc(d.get("current")),
        user_current=loc(d.get("user_current")),
        go_statement=loc(d.get("go_statement")),
        start=loc(d.get("start")),
        parent_id=int(d.get("parent_id", 0)),
        blocked_on=BlockedOn(text(bo["chan"]), bo["op"]) if bo else None,
        stack=s.stack(d.get("stack") or []),
        thread_id=int(d.get("thread_id", 0)),
        waiting_on=[BlockedOn(w["chan"], w["op"]) for w in d.get("waiting_on") or []],
        blocked_on_lock=d.get("blocked_on_lock", ""),
        stack_refs=list(d.get("stack_refs") or []),
        own_current=loc(d.get("own_current")),
        wait_basis=text(d.get("wait_basis", "")),
        locked_to_thread=bool(d.get("locked_to_thread", False)),
        synctest_bubble=int(d.get("synctest_bubble", 0)),
        synctest_durable=bool(d.get("synctest_durable", False)),
        scan=bool(d.get("scan", False)),
    )


def frame_from_json(d: dict[str, Any]) -> Frame:
    return Frame(**{k: v for k, v in d.items() if k in Frame.__dataclass_fields__})


def channel_from_json(d: dict[str, Any]) -> Channel:
    return Channel(**{k: v for k, v in d.items() if k in Channel.__dataclass_fields__})


def snapshot_from_json(d: dict[str, Any]) -> Snapshot:
    shared = Shared()
    return Snapshot(
        pid=int(d["pid"]),
        exe=d.get("exe", ""),
        go_version=d.get("go_version", ""),
        source=d.get("source", ""),
        taken_at=float(d.get("taken_at", 0.0)),
        target_paused_ns=int(d.get("target_paused_ns", 0)),
        goroutines=[goroutine_from_json(g, shared) for g in d.get("goroutines") or []],
        channels=[channel_from_json(c) for c in d.get("channels") or []],
        locks=[lock_from_json(x) for x in d.get("locks") or []],
        traceback_labels=bool(d.get("traceback_labels", False)),
    )


def lock_from_json(d: dict[str, Any]) -> Lock:
    lock = Lock(**{k: v for k, v in d.items() if k in Lock.__dataclass_fields__})
    lock.holding = [holding_from_json(h) for h in d.get("holding") or []]
    return lock


def breakpoint_from_json(d: dict[str, Any]) -> Breakpoint:
    bp = Breakpoint(**{k: v for k, v in d.items() if k in Breakpoint.__dataclass_fields__})
    bp.hits_per_goroutine = {int(k): int(v) for k, v in bp.hits_per_goroutine.items()}
    return bp


def variable_from_json(d: dict[str, Any]) -> Variable:
    return Variable(
        name=d.get("name", ""), type=d.get("type", ""), value=d.get("value", ""),
        kind=d.get("kind", ""), unreadable=d.get("unreadable", ""),
        children=[variable_from_json(c) for c in d.get("children") or []],
    )


def state_from_json(d: dict[str, Any]) -> TargetState:
    cur = d.get("current")
    return TargetState(
        running=bool(d.get("running", True)), halted_since=d.get("halted_since"),
        exited=bool(d.get("exited", False)), exit_status=d.get("exit_status"),
        current_goroutine=int(d.get("current_goroutine", 0)),
        current_thread=int(d.get("current_thread", 0)),
        stop_reason=str(d.get("stop_reason", "")), breakpoint_id=int(d.get("breakpoint_id", 0)),
        current=Location(**{k: v for k, v in cur.items() if k in Location.__dataclass_fields__})
        if isinstance(cur, dict) else None)


def info_from_json(d: dict[str, Any]) -> TargetInfo:
    return TargetInfo(**{k: v for k, v in d.items() if k in TargetInfo.__dataclass_fields__})


def event_from_json(d: dict[str, Any]) -> Event:
    return Event(**{k: v for k, v in d.items() if k in Event.__dataclass_fields__})


class GotuiError(Exception):
    """An expected failure with a one-line message for the user (exit code 1)."""

    exit_code = 1


UserAction = Literal["halt", "drive"]
# A frame note saying that more frames need the target stopped (the TUI names the key).
NEEDS_STOP_NOTE = "C frames need a stop"


class NeedsAction(GotuiError):
    """The operation needs something the user can do first: `action` "halt" (stop the
    target) or "drive" (ask the driver for the wheel). Backends say what is needed; the
    TUI adds the key that does it in the user's keymap."""

    def __init__(self, message: str, action: UserAction) -> None:
        super().__init__(message)
        self.action: UserAction = action


class UsageError(GotuiError):
    """Bad command-line input (exit code 2)."""

    exit_code = 2


@dataclass
class GoProcess:
    """One line of `gotui ps`."""

    pid: int
    exe: str
    go_version: str = ""
    goroutines: int | None = None  # None when not cheaply readable
    traced_by: int = 0


@dataclass
class HostCheck:
    """One line of `gotui doctor`: a prerequisite, what this host has, and when it is
    missing, what to install or change."""

    name: str  # "privileges", "ptrace_scope", "bcc", ..., "target"
    ok: bool
    detail: str  # what was found, or what is missing
    fix: str = ""  # what to run or change ("" when ok)
    needed_for: str = ""  # the features that need it
    required: bool = True  # False: its absence does not fail `gotui doctor`


@dataclass
class HostReport:
    """`gotui doctor --json`: ok is true when every required check passed."""

    ok: bool
    checks: list[HostCheck] = field(default_factory=list)
    pid: int | None = None
