"""Runtime pcs -> Locations / Frames, cached per pc, inlined calls expanded.

All pcs given here are runtime addresses; BinaryFacts works on link-time ones, so the
PIE load bias is subtracted on the way in. Locations and Frames handed out are shared
between goroutines (one object per pc): treat them as read-only.
"""

from __future__ import annotations

from typing import Protocol

from gotui.backends.gobinary.binary import FuncInfo, PCInfo, StructLayout
from gotui.backends.model import Frame, Location, frame_kind

NOTE = "frame-pointer walk"


class Facts(Protocol):
    """What the live reader uses of backends.gobinary.binary.BinaryFacts."""

    path: str
    go_version: str
    go_minor: int
    pie: bool
    layouts: dict[str, StructLayout]
    wait_reasons: list[str]
    main_module: str  # path of the main module (buildinfo), "" if unknown

    @property
    def load_base(self) -> int: ...
    def symbol(self, name: str) -> int | None: ...
    def func_at(self, pc: int) -> FuncInfo | None: ...
    def pc_info(self, pc: int) -> PCInfo | None: ...
    def pc_frames(self, pc: int) -> list[PCInfo]: ...
    def start_function(self, startpc: int) -> FuncInfo | None: ...
    def type_name(self, type_addr: int, read_mem: object = None) -> str: ...
    def func_id_names(self) -> dict[int, str]: ...
    def frame_size(self, pc: int) -> int | None: ...


def own_prefixes(main_module: str) -> tuple[str, ...]:
    """Function-name prefixes of the program's own code: package main, and the packages
    of its main module (buildinfo's `mod` path)."""
    if not main_module or main_module == "command-line-arguments":
        return ("main.",)
    return ("main.", main_module + ".", main_module + "/")


class Symbols:
    def __init__(self, facts: Facts, bias: int) -> None:
        self.facts = facts
        self.bias = bias
        self._frames: dict[int, list[Frame]] = {}
        self._user: dict[int, Location | None] = {}
        self._start: dict[int, Location] = {}
        self._func: dict[int, str] = {}
        self._after_call: dict[int, bool] = {}
        self._func_ids: dict[int, str] | None = None
        self._own: dict[int, Location | None] = {}
        self.own_prefixes = own_prefixes(facts.main_module)

    def func_name(self, pc: int) -> str:
        """Name of the (physical) function containing a runtime pc ("" if unknown)."""
        name = self._func.get(pc)
        if name is None:
            fi = self.facts.func_at(pc - self.bias)
            name = fi.name if fi else ""
            self._func[pc] = name
        return name

    def frames(self, pc: int, call: bool) -> list[Frame]:
        """Logical frames at a pc, innermost first (several where calls were inlined);
        `call`: pc is a return address, so look up the call instruction (pc-1)."""
        key = -pc if call else pc
        frames = self._frames.get(key)
        if frames is None:
            infos = self.facts.pc_frames((pc - 1 if call else pc) - self.bias) if pc else []
            if self._func_ids is None:
                self._func_ids = self.facts.func_id_names()
            ids = self._func_ids
            entry = infos[-1].entry + self.bias if infos and infos[-1].entry else 0
            frames = [Frame(i.function, i.file, i.line, pc, frame_kind(i.function), NOTE,
                            entry, i.inlined, ids.get(i.func_id, ""))
                      for i in infos] or [Frame(pc=pc, kind="c", note=NOTE)]
            self._frames[key] = frames
        return frames

    def resumes_after_call(self, pc: int) -> bool:
        """A parked goroutine's saved pc (g.sched.pc, g.syscallpc) is the return address
        of the call it stopped in (gopark's mcall, entersyscall), except for a goroutine
        that never ran: its pc is its function's entry. As the runtime's traceback
        does, the line of a return address is the call's (pc-1). Cached per pc."""
        after = self._after_call.get(pc)
        if after is None:
            fi = self.facts.func_at(pc - self.bias) if pc else None
            after = self._after_call[pc] = fi is not None and pc - self.bias > fi.entry
        return after

    def top_frames(self, pc: int) -> list[Frame]:
        """frames() of a parked goroutine's saved pc (see resumes_after_call)."""
        return self.frames(pc, self.resumes_after_call(pc))

    def location(self, pc: int, call: bool = False) -> Location:
        """Location of the innermost logical frame at pc."""
        f = self.frames(pc, call)[0]
        return Location(f.function, f.file, f.line, pc, f.entry)

    def go_statement(self, gopc: int) -> Location:
        """Where a goroutine was created (g.gopc, a return address), as the runtime's
        "created by" and Delve say it: the function holding the go statement (not a
        call inlined into it), with the file:line of the statement itself."""
        frames = self.frames(gopc, call=True)
        inner, outer = frames[0], frames[-1]
        return Location(outer.function, inner.file, inner.line, gopc, outer.entry)

    def user_location(self, pc: int, call: bool) -> Location | None:
        """The first logical frame at pc that is user Go code, if any: not runtime code,
        nor a cgo boundary (runtime.cgocall, pkg._Cfunc_*), nor C."""
        key = -pc if call else pc
        if key not in self._user:
            user = next((f for f in self.frames(pc, call) if f.kind == "go"), None)
            self._user[key] = (Location(user.function, user.file, user.line, pc, user.entry)
                               if user else None)
        return self._user[key]

    def frame_size(self, pc: int) -> int | None:
        """SP delta of the Go function at a runtime pc (its frame size there)."""
        return self.facts.frame_size(pc - self.bias) if pc else None

    def own_location(self, pc: int, call: bool) -> Location | None:
        """The first logical frame at pc that is the program's own code (is_own)."""
        key = -pc if call else pc
        if key not in self._own:
            own = next((f for f in self.frames(pc, call)
                        if f.kind == "go" and f.function.startswith(self.own_prefixes)), None)
            self._own[key] = (Location(own.function, own.file, own.line, pc, own.entry)
                              if own else None)
        return self._own[key]

    def start(self, startpc: int) -> Location:
        """Start location of a goroutine: the function `go` called, through the wrapper
        closure the compiler makes for `go f(x)` (BinaryFacts.start_function)."""
        loc = self._start.get(startpc)
        if loc is None:
            fn = self.facts.start_function(startpc - self.bias)
            if fn is None:
                loc = self.location(startpc)
            elif fn.entry:
                loc = self.location(fn.entry + self.bias)
            else:  # only exists inlined into the wrapper: no address of its own
                loc = Location(fn.name)
            self._start[startpc] = loc
        return loc
