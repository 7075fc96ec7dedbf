"""Which variables a breakpoint condition can use at a location, from the binary alone.

Delve evaluates a breakpoint's condition in the scope of the stopped goroutine's frame
(pkg/proc/eval.go, pkg/dwarf/reader/variables.go): a lexical block (or the function)
is entered when it contains the pc; a parameter is visible in the whole function; a
variable from the line after its DW_AT_decl_line on (a variable captured by a closure
from that line on); a name that is no local may be a variable of the function's
package. A function breakpoint stops at the function's entry (after its prologue),
where no local is declared yet: `b main.profileHandler` with the condition
`userID == 42` fails on every hit ("could not find symbol value for userID").

check_condition() says so before the breakpoint is made (nothing is attached or
stopped): which name is not in scope, where it is declared, and the first line with
code where it is, a location the breakpoint can move to. Locations are resolved with
the pclntab (function entry, pc -> file:line), scopes with DWARF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.dwarf_layouts import TypeFinder, dwarf_info
from gotui.backends.model import GotuiError

if TYPE_CHECKING:
    from elftools.dwarf.die import DIE

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\'(?:[^\'\\]|\\.)*\'')
# Go keywords, predeclared names and Delve's own names that are never a local variable
_NOT_VARIABLES = frozenset("""
break case chan const continue default defer else fallthrough for func go goto if import
interface map package range return select struct switch type var true false nil iota
append cap clear close complex copy delete imag len make max min new panic print println
real recover bool byte comparable complex64 complex128 error float32 float64 int int8
int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr any
""".split())
_CAPTURED = "DW_AT_go_closure_offset"  # Go's DW_AT 0x2906 name in pyelftools, if known


@dataclass(frozen=True)
class Var:
    name: str
    decl_line: int
    param: bool
    captured: bool
    ranges: tuple[tuple[int, int], ...]  # pc ranges of the block it is declared in


@dataclass(frozen=True)
class ConditionProblem:
    message: str  # one line: what is wrong and where it would work
    move_to: str  # "file:line" where the condition works, "" if none


@dataclass(frozen=True)
class Site:
    function: str
    file: str
    line: int
    pc: int  # link-time
    entry: bool  # a function breakpoint: stops at the entry


def identifiers(cond: str) -> list[str]:
    """The root names a Go expression reads: not field or method names (after a '.'),
    not keywords or predeclared names, not functions called."""
    text = _STRING.sub('""', cond)
    out: list[str] = []
    for m in _IDENT.finditer(text):
        name = m.group()
        before = text[:m.start()].rstrip()
        after = text[m.end():].lstrip()
        if before.endswith(".") or name in _NOT_VARIABLES or after.startswith("("):
            continue
        if name[0].isdigit():
            continue
        if name not in out:
            out.append(name)
    return out


def _package(function: str) -> str:
    """The package path of a function name ("main", "example.com/x/pkg")."""
    slash = function.rfind("/")
    dot = function.find(".", slash + 1)
    return function[:dot] if dot > 0 else function


class Scopes:
    """Scope questions about one binary (link-time addresses)."""

    def __init__(self, facts: BinaryFacts) -> None:
        self.facts = facts
        dwarf = dwarf_info(facts.elf, with_ranges=True)
        if dwarf is None:
            raise GotuiError(f"{facts.path} has no DWARF: conditions cannot be checked")
        self.dwarf = dwarf
        self.finder = TypeFinder(dwarf)
        self._packages: set[str] | None = None

    # ------------------------------------------------------------ locations
    def site(self, function: str, file: str, line: int) -> Site | None:
        """Where a breakpoint given as a function or as file:line stops (None: unknown)."""
        if function:
            entry = self.facts.symbol(function)
            fn = self.facts.func_at(entry) if entry is not None else None
            if fn is None or fn.name != function:
                return None
            info = self.facts.pc_info(entry)
            return Site(function, info.file if info else "?", info.line if info else 0,
                        entry, True)
        for name, start, end in self.facts.pcln.functions():
            pcs = self._pcs_at(start, end, file, line)
            if pcs:
                return Site(name, self.facts.pc_info(pcs[0]).file, line,  # type: ignore[union-attr]
                            pcs[0], False)
        return None

    def _pcs_at(self, start: int, end: int, file: str, line: int) -> list[int]:
        i = self.facts.pcln.find(start)
        if i is None:
            return []
        f0, _ = self.facts.pcln.file_line(i, start)
        if not _same_file(f0, file):
            return []
        return [pc for pc, f, ln in self._lines(i) if ln == line and _same_file(f, file)]

    def _lines(self, i: int) -> list[tuple[int, str, int]]:
        """(first pc, file, line) of each run of pcs of function i with one position."""
        pcln = self.facts.pcln
        out: list[tuple[int, str, int]] = []
        pc, end = pcln.entry(i), pcln.end(i)
        last: tuple[str, int] | None = None
        while pc < end:
            pos = pcln.file_line(i, pc)
            if pos != last:
                out.append((pc, *pos))
                last = pos
            pc += 1
        return out

    # ------------------------------------------------------------ variables
    def variables(self, function: str) -> list[Var]:
        """Every parameter and local of a function, with the block it lives in."""
        die = self.finder.find(function, ("DW_TAG_subprogram",))
        if die is None:
            return []
        out: list[Var] = []
        self._collect(die, _die_ranges(die, self.dwarf), out)
        return out

    def _collect(self, die: DIE, ranges: tuple[tuple[int, int], ...], out: list[Var]) -> None:
        for child in die.iter_children():
            tag = child.tag
            if tag == "DW_TAG_lexical_block":
                self._collect(child, _die_ranges(child, self.dwarf) or ranges, out)
            elif tag in ("DW_TAG_variable", "DW_TAG_formal_parameter"):
                name = _str(child, "DW_AT_name")
                line = child.attributes.get("DW_AT_decl_line")
                captured = any(a in child.attributes for a in (_CAPTURED, 0x2906))
                if name and not name.startswith(("~", ".", "&")):
                    out.append(Var(name, int(line.value) if line else 0,
                                   tag == "DW_TAG_formal_parameter", captured, ranges))

    def package_names(self) -> set[str]:
        """Last elements of the package paths of the binary's functions."""
        if self._packages is None:
            self._packages = {_package(f.name).rsplit("/", 1)[-1]
                              for f in self.facts.functions()}
        return self._packages

    def package_variable(self, function: str, name: str) -> bool:
        return self.finder.find(f"{_package(function)}.{name}", ("DW_TAG_variable",)) is not None

    def first_line_where(self, site: Site, var: Var) -> int:
        """The first line with code of site's function, in var's block, where var is
        visible (0: none)."""
        i = self.facts.pcln.find(site.pc)
        if i is None:
            return 0
        first = var.decl_line if var.captured else var.decl_line + 1
        lines = sorted({ln for pc, f, ln in self._lines(i) if ln >= first
                        and _same_file(f, site.file) and _inside(pc, var.ranges)})
        return lines[0] if lines else 0


def visible(var: Var, pc: int, line: int) -> bool:
    """Delve's rule (see the module doc)."""
    if not _inside(pc, var.ranges):
        return False
    if var.param or not var.decl_line:
        return True
    return line >= (var.decl_line if var.captured else var.decl_line + 1)


def check_condition(scopes: Scopes, function: str, file: str, line: int,
                    cond: str) -> ConditionProblem | None:
    """A problem with using `cond` at the breakpoint location, None if it can work (or
    the location or the function's DWARF is unknown: Delve will say)."""
    if not cond.strip():
        return None
    site = scopes.site(function, file, line)
    if site is None:
        return None
    variables = scopes.variables(site.function)
    if not variables and not site.function:
        return None
    base = site.file.rsplit("/", 1)[-1]
    at = f"{site.function} (its entry, {base}:{site.line})" if site.entry else f"{base}:{site.line}"
    for name in identifiers(cond):
        if name in ("runtime",) or scopes.package_variable(site.function, name):
            continue
        mine = [v for v in variables if v.name == name]
        if any(visible(v, site.pc, site.line) for v in mine):
            continue
        if not mine:
            if name in scopes.package_names():
                continue  # pkg.Var
            return ConditionProblem(
                f"{name} is not a variable of {site.function} (nor of its package): "
                f"the condition cannot be evaluated at {at}", "")
        var = min(mine, key=lambda v: v.decl_line)
        where = scopes.first_line_where(site, var)
        decl = f"{base}:{var.decl_line}"
        if where:
            return ConditionProblem(
                f"{name} is declared at {decl}, not yet in scope at {at}: put the "
                f"breakpoint at {base}:{where} or later", f"{site.file}:{where}")
        return ConditionProblem(f"{name} (declared at {decl}) is not in scope at {at}", "")
    return None


def _inside(pc: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return not ranges or any(lo <= pc < hi for lo, hi in ranges)


def _same_file(path: str, want: str) -> bool:
    """`want` as typed (main.go, pkg/x.go or a full path) names the file `path`."""
    return path == want or path.endswith("/" + want.lstrip("/"))


def _str(die: DIE, attr: str) -> str:
    a = die.attributes.get(attr)
    if a is None:
        return ""
    v = a.value
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _die_ranges(die: DIE, dwarf: object) -> tuple[tuple[int, int], ...]:
    a = die.attributes
    if "DW_AT_low_pc" in a and "DW_AT_high_pc" in a:
        lo = int(a["DW_AT_low_pc"].value)
        hi_attr = a["DW_AT_high_pc"]
        hi = int(hi_attr.value)
        if hi_attr.form != "DW_FORM_addr":
            hi += lo
        return ((lo, hi),)
    if "DW_AT_ranges" in a:
        try:
            rl = dwarf.range_lists()  # type: ignore[attr-defined]
            entries = (rl.get_range_list_at_offset(a["DW_AT_ranges"].value, cu=die.cu)
                       if rl is not None else [])
            top = die.cu.get_top_DIE().attributes.get("DW_AT_low_pc")
        except Exception:  # noqa: BLE001 - malformed or unsupported: treat as unknown
            return ()
        base = int(top.value) if top is not None else 0
        return tuple((e.begin_offset + (0 if e.is_absolute else base),
                      e.end_offset + (0 if e.is_absolute else base))
                     for e in entries if hasattr(e, "begin_offset"))
    return ()


class ConditionScopeError(GotuiError):
    """A breakpoint condition that cannot work at its location (see check_condition)."""

    def __init__(self, problem: ConditionProblem) -> None:
        super().__init__(problem.message)
        self.move_to = problem.move_to


_SCOPES: dict[str, Scopes | None] = {}  # build id -> Scopes (None: no DWARF)


def check_breakpoint(facts: BinaryFacts, function: str, file: str, line: int,
                     cond: str) -> None:
    """Raise ConditionScopeError when `cond` cannot be evaluated at the location."""
    if not cond.strip():
        return
    key = facts.build_id or facts.path
    if key not in _SCOPES:
        try:
            _SCOPES[key] = Scopes(facts)
        except GotuiError:
            _SCOPES[key] = None
    scopes = _SCOPES[key]
    problem = check_condition(scopes, function, file, line, cond) if scopes else None
    if problem is not None:
        raise ConditionScopeError(problem)
