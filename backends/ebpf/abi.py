"""Go types from DWARF and where a function's arguments are at its entry under Go's
internal register ABI on amd64 (go/src/cmd/compile/abi-internal.md):

integer registers RAX RBX RCX RDI RSI R8 R9 R10 R11 (9), floating-point X0-X14 (15).
Each argument in order is register-assigned recursively (strings: ptr,len; slices:
ptr,len,cap; interfaces: 2 words; structs field by field; arrays of length 0 or 1);
if it does not fit, the register counters go back to where they were and the whole
argument is stack-assigned: aligned, in order, from 8(SP) at entry (past the return
address).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from elftools.dwarf.die import DIE
from gotui.backends.model import GotuiError

INT_REGS = ("ax", "bx", "cx", "di", "si", "r8", "r9", "r10", "r11")  # pt_regs names
N_FLOAT_REGS = 15
DW_AT_GO_KIND = 0x2900
# reflect.Kind values carried in Go's DW_AT_go_kind
_KIND_NAMES = {1: "bool", 13: "float", 14: "float", 15: "complex", 16: "complex", 17: "array",
               18: "chan", 19: "func", 20: "iface", 21: "map", 22: "ptr", 23: "slice",
               24: "string", 25: "struct", 26: "ptr"}


@dataclass
class GoType:
    kind: str  # int uint bool float complex ptr string slice iface struct array map chan func
    name: str
    size: int
    align: int = 8
    fields: list[tuple[str, int, GoType]] = field(default_factory=list)
    length: int = 0  # arrays
    _elem_die: DIE | None = None
    _elem: GoType | None = None

    @property
    def elem(self) -> GoType | None:
        """Pointer target / array element type (resolved lazily: types can be cyclic)."""
        if self._elem is None and self._elem_die is not None:
            self._elem = go_type(self._elem_die)
        return self._elem

    def field(self, name: str) -> tuple[int, GoType] | None:
        for fname, off, ftype in self.fields:
            if fname == name:
                return off, ftype
        return None


_cache: dict[tuple[int, int], GoType] = {}


def go_type(die: DIE) -> GoType:
    key = (id(die.dwarfinfo), die.offset)
    if key not in _cache:
        _cache[key] = _go_type(die)
    return _cache[key]


def _name(die: DIE) -> str:
    a = die.attributes.get("DW_AT_name")
    return a.value.decode(errors="replace") if a else ""


def _target(die: DIE) -> DIE | None:
    return die.get_DIE_from_attribute("DW_AT_type") if "DW_AT_type" in die.attributes else None


def _go_type(die: DIE) -> GoType:
    name = _name(die)
    kind_attr = die.attributes.get(DW_AT_GO_KIND)  # type: ignore[call-overload]
    gkind = _KIND_NAMES.get(kind_attr.value) if kind_attr is not None else None
    size = die.attributes["DW_AT_byte_size"].value if "DW_AT_byte_size" in die.attributes else 8
    if die.tag == "DW_TAG_typedef":
        target = _target(die)
        if gkind in ("map", "chan", "func"):
            return GoType(gkind, name, 8)
        if target is None:
            return GoType("ptr", name, 8)
        under = go_type(target)
        return GoType(under.kind, name, under.size, under.align, under.fields, under.length,
                      under._elem_die, under._elem)
    if die.tag == "DW_TAG_base_type":
        enc = die.attributes["DW_AT_encoding"].value
        kind = {2: "bool", 3: "complex", 4: "float", 5: "int", 6: "int", 7: "uint",
                8: "uint"}.get(enc, "uint")
        return GoType(kind, name, size, min(size, 8) if kind != "complex" else size // 2)
    if die.tag == "DW_TAG_pointer_type":
        return GoType("ptr", name, 8, 8, _elem_die=_target(die))
    if die.tag == "DW_TAG_array_type":
        sub = next((c for c in die.iter_children() if c.tag == "DW_TAG_subrange_type"), None)
        count = sub.attributes["DW_AT_count"].value if sub and "DW_AT_count" in sub.attributes else 0
        elem_die = _target(die)
        elem = go_type(elem_die) if elem_die is not None else GoType("uint", "byte", 1, 1)
        return GoType("array", name, size, elem.align, length=count, _elem_die=elem_die)
    if die.tag == "DW_TAG_structure_type":
        fields = []
        for m in die.iter_children():
            if m.tag == "DW_TAG_member" and _target(m) is not None:
                fields.append((_name(m), m.attributes["DW_AT_data_member_location"].value,
                               go_type(_target(m))))  # type: ignore[arg-type]
        align = max((f[2].align for f in fields), default=1)
        kind = gkind if gkind in ("string", "slice", "iface") else "struct"
        if name == "string":
            kind = "string"
        elif name.startswith("[]"):
            kind = "slice"
        return GoType(kind, name, size, align, fields)
    if die.tag in ("DW_TAG_subroutine_type",):
        return GoType("func", name, 8)
    return GoType("uint", name or die.tag, size, min(size, 8) or 1)


# ---------------------------------------------------------------- places


@dataclass
class Reg:
    """A non-struct value in integer registers (1 for scalars and pointers; ptr,len for
    strings; 3 for slices; 2 for interfaces)."""

    type: GoType
    regs: list[str]


@dataclass
class FloatReg:
    type: GoType


@dataclass
class RegStruct:
    type: GoType
    fields: dict[str, Place]


@dataclass
class Mem:
    """A value in memory at a C expression for its address."""

    type: GoType
    addr: str


Place = Reg | FloatReg | RegStruct | Mem


@dataclass
class Param:
    name: str
    type: GoType
    place: Place


def _words(t: GoType) -> int:
    return {"string": 2, "iface": 2, "slice": 3}.get(t.kind, 1)


class _Assigner:
    def __init__(self) -> None:
        self.i = 0
        self.f = 0
        self.stack = 0

    def assign(self, t: GoType) -> Place:
        saved = (self.i, self.f)
        place = self._regs(t)
        if place is None:
            self.i, self.f = saved
            self.stack = (self.stack + t.align - 1) // t.align * t.align
            place = Mem(t, f"(ctx->sp + {8 + self.stack})")
            self.stack += t.size
        return place

    def _regs(self, t: GoType) -> Place | None:
        if t.kind == "float":
            self.f += 1
            return FloatReg(t) if self.f <= N_FLOAT_REGS else None
        if t.kind == "complex":
            self.f += 2
            return FloatReg(t) if self.f <= N_FLOAT_REGS else None
        if t.kind == "struct":
            fields: dict[str, Place] = {}
            for fname, _, ftype in t.fields:
                p = self._regs(ftype)
                if p is None:
                    return None
                fields[fname] = p
            return RegStruct(t, fields)
        if t.kind == "array":
            if t.length == 0:
                return RegStruct(t, {})
            if t.length == 1 and t.elem is not None:
                p = self._regs(t.elem)
                return None if p is None else RegStruct(t, {"[0]": p})
            return None
        n = _words(t)
        if self.i + n > len(INT_REGS):
            self.i += n
            return None
        regs = list(INT_REGS[self.i : self.i + n])
        self.i += n
        return Reg(t, regs)


def function_params(fn: DIE) -> list[Param]:
    """The function's receiver and arguments (not results) with their entry places."""
    params = []
    asg = _Assigner()
    for c in fn.iter_children():
        if c.tag != "DW_TAG_formal_parameter":
            continue
        vp = c.attributes.get("DW_AT_variable_parameter")
        if vp is not None and vp.value:
            continue  # a result
        tdie = _target(c)
        if tdie is None:
            raise GotuiError(f"parameter {_name(c)!r} has no DWARF type")
        t = go_type(tdie)
        params.append(Param(_name(c), t, asg.assign(t)))
    return params
