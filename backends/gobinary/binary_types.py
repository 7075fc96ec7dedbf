"""Plain value types returned by BinaryFacts (re-exported by backends.gobinary.binary)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gotui.backends.model import GotuiError


@dataclass(frozen=True)
class FuncInfo:
    name: str
    entry: int  # function entry pc (link-time address; add the load bias for PIE)
    end: int


@dataclass(frozen=True)
class PCInfo:
    function: str
    file: str
    line: int
    entry: int
    func_id: int = 0  # abi.FuncID from the pclntab (0: normal; names in BinaryFacts)
    inlined: bool = False  # a call inlined into the function that holds the pc


@dataclass
class StructLayout:
    """Byte offsets of the fields gotui needs in one runtime struct, and its size.

    Nested fields use dotted names, e.g. layouts["runtime.g"].offsets["sched.bp"],
    "stack.lo", "stack.hi". For Go >= 1.26 wrapped sudog fields, offsets["c"] points
    at the *hchan pointer itself (the wrapper is flattened)."""

    name: str
    size: int
    offsets: dict[str, int] = field(default_factory=dict)
    source: str = "dwarf"  # "dwarf" or "table"


class Layouts(dict[str, StructLayout]):
    """layout name -> StructLayout; a missing name raises a one-line GotuiError (not a
    KeyError traceback), e.g. for a Go version with no DWARF and no table row."""

    def __init__(self, items: dict[str, StructLayout], context: str) -> None:
        super().__init__(items)
        self.context = context

    def __missing__(self, name: str) -> StructLayout:
        raise GotuiError(f"no struct layout for {name} in {self.context}")
