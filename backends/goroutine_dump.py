"""A Snapshot as the Go runtime's own goroutine dump (`runtime.Stack(buf, true)`, the
text of /debug/pprof/goroutine?debug=2), version by version.

What each piece follows in the runtime (runtime/traceback.go; GOTRACEBACK's default
level, where user goroutines are printed and runtime-internal frames left out):
- header (goroutineheader): `goroutine N [status`, then ` (leaked)` (1.26+), ` (scan)`,
  ` (durable)` (1.25+: in a synctest bubble, durably blocked, unless the status says so;
  1.26+ only while waiting), `, N minutes` (waiting or in a syscall, from g.waitsince),
  `, locked to thread`, `, synctest group N` (1.24: the group's root goroutine) or
  `, synctest bubble N` (1.25+), and pprof labels when GODEBUG tracebacklabels=1:
  ` labels:{"k": "v"}` inside the brackets (1.26, always quoted) or `] {k: v}` after
  them (1.27+, quoted only where needed).
- frames (traceback2 / gentraceback): a wrapper (abi.FuncIDWrapper) is left out unless
  it called a panic function; runtime.runFinalizers/runCleanups are always shown
  (1.25+); unexported runtime functions are left out (exported ones: by the first
  letter up to 1.22, receiver-aware since 1.23); a stack with nothing left is printed
  whole. Inlined calls print `(...)` and no pc offset; other frames `+0x<pc-entry>`.
  At most 50 + 50 frames since 1.21 (`...N frames elided...`), 100 physical frames
  before (`...additional frames elided...`).
- `created by F in goroutine P` (the parent since 1.21), not for goroutine 1, not when
  F is runtime-internal; F is the function holding the go statement, not an inlined one.
- a running goroutine: `goroutine running on other thread; stack unavailable`.
Arguments are printed as `(...)`: the values are not read.
"""

from __future__ import annotations

from gotui.backends.analysis import is_system
from gotui.backends.model import Frame, Goroutine, Snapshot
from gotui.backends.waitreasons import go_minor

NEWEST = 99
INNER_FRAMES = OUTER_FRAMES = 50  # runtime.tracebackInnerFrames / tracebackOuterFrames
MAX_FRAMES_OLD = 100  # runtime._TracebackMaxFrames before 1.21
PANIC_IDS = frozenset({"gopanic", "sigpanic", "panicwrap"})
_USER_WHEN_BUSY = {"runtime.runFinalizers": "finalizer wait", "runtime.runfinq": "finalizer wait",
                   "runtime.runCleanups": "cleanup wait"}


def minor_of(snap: Snapshot) -> int:
    return go_minor(snap.go_version) or NEWEST


def is_exported_runtime(name: str, minor: int = NEWEST) -> bool:
    """runtime.isExportedRuntime of that Go version."""
    if not name.startswith("runtime."):
        return False
    rest = name[len("runtime."):]
    if minor < 23:
        return rest[:1].isascii() and rest[:1].isupper()
    rcvr, _, fn = rest.rpartition(".")
    if rcvr.startswith("(*") and rcvr.endswith(")") and len(rcvr) >= 3:
        rcvr = rcvr[2:-1]
    return (fn[:1].isascii() and fn[:1].isupper()
            and (not rcvr or rcvr[:1].isascii() and rcvr[:1].isupper()))


def shown_by_runtime(function: str, first: bool = False, func_id: str = "",
                     callee_id: str = "", minor: int = NEWEST) -> bool:
    """runtime.showfuncinfo at the default GOTRACEBACK level."""
    if func_id == "wrapper" and callee_id not in PANIC_IDS:
        return False
    if minor >= 25 and func_id in ("runFinalizers", "runCleanups"):
        return True
    if function == "runtime.gopanic" and not first:
        return True
    return "." in function and (not function.startswith("runtime.")
                                or is_exported_runtime(function, minor))


def shown_frames(frames: list[Frame], minor: int = NEWEST) -> list[Frame]:
    """The frames the runtime prints, innermost first (C frames are never among them:
    the runtime does not unwind through C without a cgo symbolizer)."""
    go = [f for f in frames if f.kind != "c" and f.function]
    out: list[Frame] = []
    callee = ""
    for f in go:
        if shown_by_runtime(f.function, not out, f.func_id, callee, minor):
            out.append(f)
        callee = f.func_id
    return out or go


def go_string_needs_quoting(s: str) -> bool:
    """runtime.tracebackStringNeedsQuoting (1.27)."""
    return any(not (c.isascii() and (c.isalnum() or c in "./_")) for c in s)


def go_quoted(s: str) -> str:
    """runtime.printquoted: only printable ASCII is left as is."""
    out = ['"']
    for ch in s:
        r = ord(ch)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0x20 <= r <= 0x7E:
            out.append(ch)
        elif r < 0x7F:
            out.append(f"\\x{r:02x}")
        elif r < 0x10000:
            out.append(f"\\u{r:04x}")
        else:
            out.append(f"\\U{r:08x}")
    out.append('"')
    return "".join(out)


def _labels(g: Goroutine, minor: int) -> str:
    items = sorted(g.labels.items())
    if minor < 27:
        return " labels:{" + ", ".join(f"{go_quoted(k)}: {go_quoted(v)}" for k, v in items) + "}"

    def q(s: str) -> str:
        return go_quoted(s) if go_string_needs_quoting(s) else s
    return " {" + ", ".join(f"{q(k)}: {q(v)}" for k, v in items) + "}"


def header(g: Goroutine, minor: int = NEWEST, traceback_labels: bool = False) -> str:
    """runtime.goroutineheader of that Go version, without the trailing newline."""
    parked = g.status in ("waiting", "leaked")
    status = g.wait_reason if parked and g.wait_reason else g.status
    out = [f"goroutine {g.id} [{status}"]
    if minor >= 26 and g.status == "leaked":
        out.append(" (leaked)")
    if g.scan:
        out.append(" (scan)")
    if (minor >= 25 and g.synctest_bubble and g.synctest_durable
            and (minor == 25 or g.status == "waiting") and not status.endswith("(durable)")):
        out.append(" (durable)")
    minutes = g.wait_ns // 60_000_000_000 if g.status in ("waiting", "syscall") else 0
    if minutes >= 1:
        out.append(f", {minutes} minutes")
    if g.locked_to_thread:
        out.append(", locked to thread")
    if g.synctest_bubble and minor >= 24:
        out.append(f", synctest {'group' if minor == 24 else 'bubble'} {g.synctest_bubble}")
    show_labels = traceback_labels and minor >= 26 and g.labels
    if show_labels and minor < 27:
        out.append(_labels(g, minor))
    out.append("]")
    if show_labels and minor >= 27:
        out.append(_labels(g, minor))
    return "".join(out) + ":"


def _frame_lines(f: Frame) -> list[str]:
    name = "panic" if f.function == "runtime.gopanic" else f.function
    where = f"\t{f.file}:{f.line}"
    if not f.inlined and f.entry and f.pc > f.entry:
        where += f" +0x{f.pc - f.entry:x}"
    return [f"{name}(...)", where]


def _elided(frames: list[Frame], minor: int) -> list[str]:
    out: list[str] = []
    if minor >= 21 and len(frames) > INNER_FRAMES + OUTER_FRAMES:
        for f in frames[:INNER_FRAMES]:
            out += _frame_lines(f)
        out.append(f"...{len(frames) - INNER_FRAMES - OUTER_FRAMES} frames elided...")
        for f in frames[-OUTER_FRAMES:]:
            out += _frame_lines(f)
        return out
    physical = 0
    for f in frames:
        out += _frame_lines(f)
        physical += not f.inlined
        if minor < 21 and physical >= MAX_FRAMES_OLD:
            out.append("...additional frames elided...")
            break
    return out


def created_by(g: Goroutine, minor: int = NEWEST) -> list[str]:
    loc = g.go_statement
    if g.id == 1 or not loc.function or not shown_by_runtime(loc.function, minor=minor):
        return []
    line = f"created by {loc.function}"
    if minor >= 21 and g.parent_id:
        line += f" in goroutine {g.parent_id}"
    where = f"\t{loc.file}:{loc.line}"
    if loc.entry and loc.pc > loc.entry:
        where += f" +0x{loc.pc - loc.entry:x}"
    return [line, where]


def dumped(g: Goroutine) -> bool:
    """Whether runtime.Stack(all) prints this goroutine: not dead, not a runtime one
    (the finalizer and cleanup goroutines only while they run user code)."""
    if g.status == "dead":
        return False
    idle = _USER_WHEN_BUSY.get(g.start.function)
    if idle is not None:
        return g.wait_reason != idle
    return not is_system(g)


def goroutine_block(g: Goroutine, minor: int = NEWEST, traceback_labels: bool = False
                    ) -> list[str]:
    out = [header(g, minor, traceback_labels)]
    if g.status == "running" and not g.stack:
        out.append("\tgoroutine running on other thread; stack unavailable")
    else:
        # no stack: it could not be read consistently (it kept moving): no frames
        # rather than a guess
        out += _elided(shown_frames(g.stack, minor), minor)
    out += created_by(g, minor)
    return out


def to_goroutine_dump(snap: Snapshot) -> str:
    """The dump of `snap`'s goroutines in id order (the runtime prints the calling
    goroutine first, then the others in allgs order)."""
    minor = minor_of(snap)
    out: list[str] = []
    for g in sorted(snap.goroutines, key=lambda g: g.id):
        if dumped(g):
            out += goroutine_block(g, minor, snap.traceback_labels)
            out.append("")
    return "\n".join(out)
