"""Condition language: parsing, error messages pointing at the bad token, type checks
against the real DWARF of a fixture, and the Go register ABI assignment."""

from __future__ import annotations

import pytest
from gotui.backends.ebpf.abi import FloatReg, Mem, Reg, function_params
from gotui.backends.ebpf.cond import compile_condition, parse
from gotui.backends.ebpf.symbols import GoBinary
from gotui.backends.model import GotuiError

from tests import gofixtures


@pytest.fixture(scope="module")
def args_bin() -> GoBinary:
    return GoBinary.load(str(gofixtures.build("ebpf_args")))


def params(b: GoBinary, func: str) -> list:
    die = b.function_die(func)
    assert die is not None
    return function_params(die)


def compile_(b: GoBinary, src: str, func: str = "main.handle"):
    return compile_condition(src, params(b, func), func, nvals=12, nstrs=4)


def test_register_abi_assignment(args_bin: GoBinary) -> None:
    ps = {p.name: p for p in params(args_bin, "main.handle")}
    assert list(ps) == ["id", "name", "ok", "u", "f"]
    assert isinstance(ps["id"].place, Reg) and ps["id"].place.regs == ["ax"]
    assert isinstance(ps["name"].place, Reg) and ps["name"].place.regs == ["bx", "cx"]
    assert isinstance(ps["ok"].place, Reg) and ps["ok"].place.regs == ["di"]
    assert isinstance(ps["u"].place, Reg) and ps["u"].place.regs == ["si"]
    assert isinstance(ps["f"].place, FloatReg)


def test_basic_fixture_params_from_each_toolchain() -> None:
    for tc in ("go1.19", "go1.26", "go1.27"):
        b = GoBinary.load(str(gofixtures.build("basic", toolchain=tc)))
        ps = params(b, "main.hot")
        assert [(p.name, p.place.regs) for p in ps] == [("i", ["ax"]), ("r", ["bx"])], tc  # type: ignore[union-attr]
        assert ps[1].type.elem is not None and ps[1].type.elem.field("Path") is not None


def test_compiles_fields_through_pointers_and_strings(args_bin: GoBinary) -> None:
    c = compile_(args_bin, 'u.Inner.Level == 3 && strings.HasPrefix(name, "/api") && !ok')
    text = "\n".join(c.body) + c.cond
    assert "ctx->si" in text and "read_u32" in text  # Level is an int32 behind 2 pointers
    labels = [cap.label for cap in c.captures]
    assert labels[:4] == ["id", "name", "ok", "u"] and "u.Inner.Level" in labels
    assert "f" in c.skipped  # a float64: not readable from pt_regs


@pytest.mark.parametrize("src, message", [
    ("usr.ID == 1", 'cond: unknown name \'usr\' (parameters of main.handle: id, name, ok, u, f) at column 1'),
    ("id == 1 && usr == 2", "unknown name 'usr'"),
    ("u.Nope > 1", "cond: no field 'Nope' in main.user at column 3"),
    ("id ==", "cond: unexpected end of expression at column 6"),
    ("id == 1 &&& ok", "cond: unexpected character '&' at column 11"),
    ("id = 1", "cond: unexpected character '=' at column 4"),
    ("f > 1", "floating-point values are in X registers"),
    ("name == 3", "strings can only be compared with a string literal at column 6"),
    ('id == "x"', "cannot compare int with a string"),
    ("id", "the condition is int, not a bool"),
    ("id % 0 == 1", "division by zero"),
    ("id < 2 < 3", "comparisons do not chain"),
    ("strings.Contains(name, \"a\")", "unknown function 'strings.Contains'"),
    ("(id == 1", "expected ')', found end of expression"),
    ("id == 1 $", "unexpected character '$' at column 9"),
])
def test_invalid_expressions_point_at_the_bad_token(args_bin: GoBinary, src: str,
                                                    message: str) -> None:
    with pytest.raises(GotuiError) as exc:
        compile_(args_bin, src)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_unknown_name_column() -> None:
    b = GoBinary.load(str(gofixtures.build("basic")))
    with pytest.raises(GotuiError, match="unknown name 'usr'.* at column 5$"):
        compile_(b, "i > usr", "main.hot")


def test_precedence() -> None:
    node = parse("a || b && c == 1 + 2 * 3")
    assert type(node).__name__ == "Binary" and node.op == "||"  # type: ignore[attr-defined]
    right = node.right  # type: ignore[attr-defined]
    assert right.op == "&&" and right.right.op == "==" and right.right.right.op == "+"


def test_stack_assigned_arguments_are_memory_places() -> None:
    from gotui.backends.ebpf.abi import GoType, _Assigner

    asg = _Assigner()
    i64 = GoType("int", "int", 8)
    big = GoType("array", "[4]int", 32, 8, length=4)
    places = [asg.assign(t) for t in (i64, big, i64)]
    assert isinstance(places[0], Reg) and places[0].regs == ["ax"]
    assert isinstance(places[1], Mem) and places[1].addr == "(ctx->sp + 8)"
    assert isinstance(places[2], Reg) and places[2].regs == ["bx"]
