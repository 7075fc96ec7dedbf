"""Conditions of conditional tracepoints: a small Go-like expression language compiled
to BPF C over the probed function's arguments.

Grammar (Go precedence, lowest first)::

    expr    := and ("||" and)*
    and     := cmp ("&&" cmp)*
    cmp     := sum (("=="|"!="|"<"|"<="|">"|">=") sum)?
    sum     := term (("+"|"-") term)*
    term    := unary (("*"|"/"|"%") unary)*
    unary   := ("!"|"-") unary | primary
    primary := INT | STRING | true | false | nil | "(" expr ")"
             | NAME ("." NAME)*                      argument, fields through pointers
             | strings.HasPrefix(x, "lit") | strings.HasSuffix(x, "lit") | len(x)

Names are the function's parameters (receiver included); `.Field` follows pointers
automatically, as in Go. Strings compare with literals only (== != and the two
strings functions). Floats live in X registers, which uprobes cannot read.
Examples: `i == 500`, `r.ID > 10 && r.Path == "/api/v1/profile"`,
`strings.HasPrefix(r.Path, "/api") || i % 100 == 7`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gotui.backends.ebpf.abi import FloatReg, GoType, Mem, Param, Place, Reg, RegStruct
from gotui.backends.model import GotuiError

MAX_LITERAL = 64

_TOKEN = re.compile(
    r"\s*(?:(?P<num>0[xX][0-9a-fA-F_]+|\d[\d_]*)|(?P<str>\"(?:[^\"\\]|\\.)*\"|`[^`]*`)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>&&|\|\||==|!=|<=|>=|[<>!()+\-*/%.,]))"
)


@dataclass
class Token:
    kind: str  # num str name op end
    text: str
    col: int  # 1-based


def _err(msg: str, col: int) -> GotuiError:
    return GotuiError(f"cond: {msg} at column {col}")


def tokenize(src: str) -> list[Token]:
    toks = []
    pos = 0
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN.match(src, pos)
        if m is None or m.end() == pos:
            col = pos + 1 + (len(src[pos:]) - len(src[pos:].lstrip()))
            raise _err(f"unexpected character {src[col - 1]!r}", col)
        kind = m.lastgroup or "op"
        toks.append(Token(kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    toks.append(Token("end", "", len(src) + 1))
    return toks


# ---------------------------------------------------------------- AST

@dataclass
class Node:
    col: int


@dataclass
class Num(Node):
    value: int


@dataclass
class Str(Node):
    value: bytes


@dataclass
class Const(Node):
    name: str  # true false nil


@dataclass
class Path(Node):
    parts: list[tuple[str, int]]  # (name, column)

    @property
    def text(self) -> str:
        return ".".join(p for p, _ in self.parts)


@dataclass
class Call(Node):
    func: str
    args: list[Node]


@dataclass
class Unary(Node):
    op: str
    arg: Node


@dataclass
class Binary(Node):
    op: str
    left: Node
    right: Node


class _Parser:
    def __init__(self, src: str) -> None:
        self.toks = tokenize(src)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, text: str) -> Token:
        if self.tok.text != text or self.tok.kind not in ("op",):
            raise _err(f"expected {text!r}, found {self._found()}", self.tok.col)
        return self.take()

    def _found(self) -> str:
        return "end of expression" if self.tok.kind == "end" else repr(self.tok.text)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise _err("empty condition", 1)
        node = self.binary(0)
        if self.tok.kind != "end":
            raise _err(f"unexpected {self._found()}", self.tok.col)
        return node

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">="), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.tok.kind == "op" and self.tok.text in self._LEVELS[level]:
            op = self.take()
            right = self.binary(level + 1)
            left = Binary(op.col, op.text, left, right)
            if level == 2 and self.tok.kind == "op" and self.tok.text in self._LEVELS[2]:
                raise _err(f"comparisons do not chain: unexpected {self.tok.text!r}",
                           self.tok.col)
        return left

    def unary(self) -> Node:
        if self.tok.kind == "op" and self.tok.text in ("!", "-"):
            op = self.take()
            return Unary(op.col, op.text, self.unary())
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.take()
            return Num(t.col, int(t.text.replace("_", ""), 0))
        if t.kind == "str":
            self.take()
            return Str(t.col, _unquote(t))
        if t.kind == "op" and t.text == "(":
            self.take()
            node = self.binary(0)
            self.expect(")")
            return node
        if t.kind == "name":
            if t.text in ("true", "false", "nil"):
                self.take()
                return Const(t.col, t.text)
            parts = [(self.take().text, t.col)]
            while self.tok.kind == "op" and self.tok.text == ".":
                self.take()
                if self.tok.kind != "name":
                    raise _err(f"expected a field name, found {self._found()}", self.tok.col)
                nt = self.take()
                parts.append((nt.text, nt.col))
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(t.col, ".".join(p for p, _ in parts))
            return Path(t.col, parts)
        raise _err(f"unexpected {self._found()}", t.col)

    def call(self, col: int, func: str) -> Node:
        if func not in ("strings.HasPrefix", "strings.HasSuffix", "len"):
            raise _err(f"unknown function {func!r} (known: strings.HasPrefix, "
                       "strings.HasSuffix, len)", col)
        self.expect("(")
        args = [self.binary(0)]
        while self.tok.kind == "op" and self.tok.text == ",":
            self.take()
            args.append(self.binary(0))
        self.expect(")")
        want = 1 if func == "len" else 2
        if len(args) != want:
            raise _err(f"{func} takes {want} argument{'s' if want > 1 else ''}", col)
        return Call(col, func, args)


def _unquote(t: Token) -> bytes:
    if t.text.startswith("`"):
        return t.text[1:-1].encode()
    try:
        value = bytes(t.text[1:-1], "utf-8").decode("unicode_escape").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError) as e:
        raise _err("bad escape in string literal", t.col) from e
    return value


def parse(src: str) -> Node:
    return _Parser(src).parse()


# ---------------------------------------------------------------- compiler

@dataclass
class Value:
    kind: str  # int bool str ptr
    expr: str  # C expression (str: the pointer)
    signed: bool = True
    length: str = ""  # str: C expression of the length
    gotype: str = ""


@dataclass
class Capture:
    label: str
    kind: str  # int uint bool ptr str
    slot: int  # index in vals (ints) or strs (strings)
    ptr: str = ""  # C expressions to capture
    expr: str = ""


@dataclass
class Compiled:
    """C statements computing `cond` (a C boolean expression) from `ctx`, and what
    to capture into a matching hit's event."""

    body: list[str]
    cond: str
    captures: list[Capture] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # arguments that are not captured


class Compiler:
    def __init__(self, params: list[Param], func: str, nvals: int, nstrs: int) -> None:
        self.params = {p.name: p for p in params}
        self.order = params
        self.func = func
        self.body: list[str] = []
        self.n = 0
        self.nvals = nvals
        self.nstrs = nstrs
        self.captures: list[Capture] = []
        self.skipped: list[str] = []

    def tmp(self, ctype: str, expr: str) -> str:
        self.n += 1
        name = f"t{self.n}"
        self.body.append(f"{ctype} {name} = {expr};")
        return name

    # -- places
    def place(self, node: Path) -> Place:
        name, col = node.parts[0]
        param = self.params.get(name)
        if param is None:
            known = ", ".join(self.params) or "none"
            raise _err(f"unknown name {name!r} (parameters of {self.func}: {known})", col)
        place: Place = param.place
        for fname, fcol in node.parts[1:]:
            place = self.field(place, fname, fcol)
        return place

    def field(self, place: Place, fname: str, col: int) -> Place:
        t = place.type
        if isinstance(place, RegStruct):
            if fname in place.fields:
                return place.fields[fname]
            raise _err(f"no field {fname!r} in {t.name}", col)
        if t.kind == "ptr":
            target = t.elem
            if target is None or target.kind != "struct":
                raise _err(f"cannot select {fname!r}: {t.name} does not point to a struct", col)
            base = self.tmp("u64", self.load(place).expr)
            f = target.field(fname)
            if f is None:
                raise _err(f"no field {fname!r} in {target.name}", col)
            return Mem(f[1], f"({base} + {f[0]})")
        if t.kind == "struct" and isinstance(place, Mem):
            f = t.field(fname)
            if f is None:
                raise _err(f"no field {fname!r} in {t.name}", col)
            return Mem(f[1], f"({place.addr} + {f[0]})")
        raise _err(f"cannot select {fname!r} from {t.name} ({t.kind})", col)

    def load(self, place: Place, col: int = 0, label: str = "") -> Value:
        t = place.type
        if isinstance(place, FloatReg) or t.kind in ("float", "complex"):
            raise _err(f"{label or t.name} is a {t.name}: floating-point values are in X "
                       "registers, which uprobes cannot read", col)
        if isinstance(place, Reg):
            regs = [f"ctx->{r}" for r in place.regs]
            if t.kind == "string":
                return Value("str", regs[0], length=regs[1], gotype=t.name)
            return self._scalar(t, regs[0], col, label)
        if isinstance(place, Mem):
            if t.kind == "string":
                ptr = self.tmp("u64", f"read_u64({place.addr})")
                ln = self.tmp("u64", f"read_u64({place.addr} + 8)")
                return Value("str", ptr, length=ln, gotype=t.name)
            if t.kind in ("int", "uint", "bool") and t.size in (1, 2, 4, 8):
                raw = self.tmp("u64", f"read_u{t.size * 8}({place.addr})")
                return self._scalar(t, raw, col, label)
            if t.kind in ("ptr", "map", "chan", "func"):
                return Value("ptr", self.tmp("u64", f"read_u64({place.addr})"), False,
                             gotype=t.name)
        raise _err(f"{label or t.name} is a {t.kind} ({t.name}): only integers, bools, "
                   "pointers and strings can be used", col)

    def _scalar(self, t: GoType, raw: str, col: int, label: str) -> Value:
        bits = t.size * 8
        if t.kind == "bool":
            return Value("bool", f"((u8){raw} != 0)", gotype=t.name)
        if t.kind == "int" and bits in (8, 16, 32, 64):
            return Value("int", f"((s64)(s{bits}){raw})", True, gotype=t.name)
        if t.kind == "uint" and bits in (8, 16, 32, 64):
            return Value("int", f"((u64)(u{bits}){raw})", False, gotype=t.name)
        if t.kind in ("ptr", "map", "chan", "func"):
            return Value("ptr", f"((u64){raw})", False, gotype=t.name)
        raise _err(f"{label or t.name} is a {t.kind} ({t.name}): only integers, bools, "
                   "pointers and strings can be used", col)

    # -- expressions
    def value(self, node: Node) -> Value:
        if isinstance(node, Num):
            return Value("int", f"{node.value}LL" if node.value < 2**63 else f"{node.value}ULL",
                         node.value < 2**63)
        if isinstance(node, Const):
            return (Value("bool", "1" if node.name == "true" else "0") if node.name != "nil"
                    else Value("ptr", "0ULL", False, gotype="nil"))
        if isinstance(node, Str):
            raise _err("a string literal can only be compared with a string argument", node.col)
        if isinstance(node, Path):
            v = self.load(self.place(node), node.col, node.text)
            self.capture(node.text, v)
            return v
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Unary):
            v = self.value(node.arg)
            if node.op == "!":
                self.want(v, "bool", node.col, "!")
                return Value("bool", f"(!{v.expr})")
            self.want(v, "int", node.col, "-")
            return Value("int", f"(-(s64){v.expr})", True)
        assert isinstance(node, Binary)
        if node.op in ("&&", "||"):
            left, right = self.value(node.left), self.value(node.right)
            self.want(left, "bool", node.col, node.op)
            self.want(right, "bool", node.col, node.op)
            return Value("bool", f"({left.expr} {node.op} {right.expr})")
        if node.op in ("==", "!=") and (isinstance(node.left, Str) or isinstance(node.right, Str)):
            return self.string_compare(node)
        left, right = self.value(node.left), self.value(node.right)
        if node.op in ("+", "-", "*", "/", "%"):
            self.want(left, "int", node.col, node.op)
            self.want(right, "int", node.col, node.op)
            if node.op in ("/", "%") and right.expr in ("0LL", "0ULL"):
                raise _err("division by zero", node.col)
            if node.op in ("/", "%") and not (isinstance(node.right, Num) and node.right.value > 0):
                raise _err(f"{node.op!r} needs a positive integer literal on its right",
                           node.col)
            signed = left.signed and right.signed
            ctype = "s64" if signed else "u64"
            if node.op in ("/", "%") and left.signed:
                # BPF division is unsigned: keep the sign by hand (Go truncates to 0).
                lt = self.tmp("s64", left.expr)
                expr = (f"({lt} < 0 ? -(s64)((u64)(-{lt}) {node.op} {right.expr}) : "
                        f"(s64)((u64){lt} {node.op} {right.expr}))")
                return Value("int", expr, True)
            return Value("int", f"(({ctype}){left.expr} {node.op} ({ctype}){right.expr})",
                         signed)
        # comparisons
        if left.kind == "str" or right.kind == "str":
            raise _err("strings can only be compared with a string literal", node.col)
        if left.kind != right.kind and {left.kind, right.kind} != {"ptr", "int"}:
            raise _err(f"cannot compare {left.gotype or left.kind} with "
                       f"{right.gotype or right.kind}", node.col)
        if left.kind == "bool" and node.op not in ("==", "!="):
            raise _err(f"cannot order bools with {node.op!r}", node.col)
        ctype = "s64" if left.signed and right.signed else "u64"
        return Value("bool", f"(({ctype}){left.expr} {node.op} ({ctype}){right.expr})")

    def want(self, v: Value, kind: str, col: int, op: str) -> None:
        if v.kind != kind:
            raise _err(f"{op!r} needs {'a bool' if kind == 'bool' else 'an integer'}, "
                       f"got {v.gotype or v.kind}", col)

    def call(self, node: Call) -> Value:
        if node.func == "len":
            v = self.value(node.args[0])
            if v.kind != "str":
                raise _err("len() works on strings only", node.col)
            return Value("int", f"((s64){v.length})", True)
        s, lit = node.args
        if not isinstance(lit, Str):
            raise _err(f"{node.func} needs a string literal as its second argument", lit.col)
        v = self.value(s)
        if v.kind != "str":
            raise _err(f"{node.func} needs a string argument", s.col)
        mode = "prefix" if node.func == "strings.HasPrefix" else "suffix"
        return self.match(v, lit, mode)

    def string_compare(self, node: Binary) -> Value:
        lit, other = (node.left, node.right) if isinstance(node.left, Str) else (
            node.right, node.left)
        assert isinstance(lit, Str)
        if isinstance(other, Str):
            raise _err("comparing two literals", node.col)
        v = self.value(other)
        if v.kind != "str":
            raise _err(f"cannot compare {v.gotype or v.kind} with a string", node.col)
        eq = self.match(v, lit, "equal")
        return eq if node.op == "==" else Value("bool", f"(!{eq.expr})")

    def match(self, v: Value, lit: Str, mode: str) -> Value:
        data = lit.value
        if len(data) > MAX_LITERAL:
            raise _err(f"string literal longer than {MAX_LITERAL} bytes", lit.col)
        ok = self.tmp("int", "0")
        n = len(data)
        length_ok = f"{v.length} == {n}" if mode == "equal" else f"{v.length} >= {n}"
        if n == 0:
            self.body.append(f"{ok} = ({length_ok});")
            return Value("bool", ok)
        self.n += 1
        buf = f"b{self.n}"
        src = v.expr if mode != "suffix" else f"({v.expr} + {v.length} - {n})"
        bytes_ok = " && ".join(f"{buf}[{i}] == {b}" for i, b in enumerate(data))
        self.body.append(
            f"if ({length_ok}) {{ char {buf}[{n}]; "
            f"if (bpf_probe_read_user({buf}, {n}, (void *){src}) == 0) "
            f"{ok} = ({bytes_ok}); }}")
        return Value("bool", ok)

    # -- captures
    def capture(self, label: str, v: Value) -> None:
        if any(c.label == label for c in self.captures):
            return
        if v.kind == "str":
            slot = sum(1 for c in self.captures if c.kind == "str")
            if slot >= self.nstrs:
                self.skipped.append(label)
                return
            self.captures.append(Capture(label, "str", slot, ptr=v.expr, expr=v.length))
            return
        slot = sum(1 for c in self.captures if c.kind != "str")
        if slot >= self.nvals:
            self.skipped.append(label)
            return
        kind = {"int": "int" if v.signed else "uint"}.get(v.kind, v.kind)
        self.captures.append(Capture(label, kind, slot, expr=v.expr))

    def capture_params(self) -> None:
        for p in self.order:
            try:
                self.capture(p.name, self.load(p.place, 0, p.name))
            except GotuiError:
                self.skipped.append(p.name)


def compile_condition(src: str | None, params: list[Param], func: str, *, nvals: int,
                      nstrs: int) -> Compiled:
    """Parse and type-check `src` (None: always true) against `params`."""
    comp = Compiler(params, func, nvals, nstrs)
    comp.capture_params()
    cond = "1"
    if src is not None and src.strip():
        node = parse(src)
        v = comp.value(node)
        if v.kind != "bool":
            raise _err(f"the condition is {v.gotype or v.kind}, not a bool", 1)
        cond = v.expr
    return Compiled(comp.body, cond, comp.captures, comp.skipped)
