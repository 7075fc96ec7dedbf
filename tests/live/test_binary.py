"""BinaryFacts on real Go binaries: version, symbols, pc -> file:line, wait reasons,
data symbols of stripped builds, cgo and PIE builds. Cross-checked against the Go
toolchain's own tools (go tool nm / addr2line) and the runtime sources."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest
from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.layout_table import table_layouts
from gotui.backends.model import GotuiError

from tests import gofixtures
from tests.live.conftest import (
    ALL_TOOLCHAINS,
    MAIN_TOOLCHAINS,
    build,
    build_pie,
    go_env,
    go_tool,
    goroot,
)

VARIANTS = [(tc, s) for tc in MAIN_TOOLCHAINS for s in (False, True)]
IDS = [f"{tc}-{'stripped' if s else 'full'}" for tc, s in VARIANTS]
DATA_SYMBOLS = ("runtime.allgs", "runtime.allgptr", "runtime.allglen",
                "runtime.waitReasonStrings", "runtime.firstmoduledata")


@functools.cache
def _toolchain_version(toolchain: str) -> str:
    go, env = go_env(toolchain)
    return subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True,
                          env=env, check=True, timeout=60).stdout.strip()


def _decl_line(fixture: str, func: str) -> int:
    src = (gofixtures.FIXTURES / fixture / "main.go").read_text().splitlines()
    return next(i for i, line in enumerate(src, 1) if line.startswith(f"func {func}("))


def _nm(toolchain: str, exe: Path) -> dict[str, int]:
    out = {}
    for line in go_tool(toolchain, "nm", str(exe)).splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TtDdBbRr":
            out[parts[2]] = int(parts[0], 16)
    return out


@pytest.mark.integration
@pytest.mark.parametrize(("toolchain", "stripped"), VARIANTS, ids=IDS)
def test_version_and_receiver(toolchain: str, stripped: bool) -> None:
    exe = build("basic", toolchain, stripped=stripped)
    facts = BinaryFacts.load(str(exe))
    assert facts.go_version == _toolchain_version(toolchain)
    assert facts.go_minor == int(toolchain.split(".")[1])
    assert facts.stripped is stripped
    assert facts.has_dwarf is not stripped
    assert "path\tbasic" in facts.modinfo
    assert facts.go_build_id == go_tool(toolchain, "buildid", str(exe)).strip()
    assert facts.build_id
    entry = facts.symbol("main.receiver")
    assert entry is not None
    fn = facts.func_at(entry + 1)
    assert fn is not None and fn.name == "main.receiver" and fn.entry == entry < fn.end
    info = facts.pc_info(entry)
    assert info is not None
    assert info.function == "main.receiver" and info.entry == entry
    assert info.file == str(gofixtures.FIXTURES / "basic" / "main.go")
    assert info.line == _decl_line("basic", "receiver")
    assert facts.pc_info(entry) is info  # cached per pc


@pytest.mark.integration
@pytest.mark.parametrize("toolchain", MAIN_TOOLCHAINS)
def test_symbols_and_lines_agree_with_go_tools(toolchain: str) -> None:
    exe = build("basic", toolchain)
    facts = BinaryFacts.load(str(exe))
    nm = _nm(toolchain, exe)
    for name in ("main.receiver", "main.sender", "main.main", "runtime.gopark",
                 "runtime.newproc1", *DATA_SYMBOLS):
        assert facts.symbol(name) == nm[name], name
    # Many pcs across user and runtime functions: entries, middles, last bytes.
    funcs = [f for f in facts.functions() if f.name.startswith(("main.", "runtime.chan"))]
    pcs = sorted({pc for f in funcs for pc in (f.entry, (f.entry + f.end) // 2, f.end - 1)})
    want = go_tool(toolchain, "addr2line", str(exe),
                   stdin="".join(f"{pc:#x}\n" for pc in pcs)).splitlines()
    assert len(want) == 2 * len(pcs)
    for i, pc in enumerate(pcs):
        info = facts.pc_info(pc)
        assert info is not None
        file, _, line = want[2 * i + 1].rpartition(":")
        if int(line) <= 0:  # alignment padding after the last instruction: no line
            file, line = "?", "0"
        assert (info.function, info.file, info.line) == (want[2 * i], file, int(line)), hex(pc)


HEURISTIC_CASES = [(tc, False) for tc in ALL_TOOLCHAINS] + [(tc, True) for tc in MAIN_TOOLCHAINS]


@pytest.mark.integration
@pytest.mark.parametrize(("toolchain", "optimize"), HEURISTIC_CASES,
                         ids=[f"{tc}-{'optimized' if o else 'debug'}" for tc, o in HEURISTIC_CASES])
def test_data_symbol_heuristics_match_symtab(toolchain: str, optimize: bool) -> None:
    facts = BinaryFacts.load(str(build("basic", toolchain, optimize=optimize)))
    found = facts.heuristic_data_symbols()
    for name in ("runtime.allgs", "runtime.allgptr", "runtime.allglen",
                 "runtime.waitReasonStrings", "runtime.semtable"):
        assert found.get(name) == facts.symbol(name), name
        assert facts.symbol_sources[name] == "symtab"
    assert facts.moduledata is not None
    assert facts.moduledata.gofunc == (facts.symbol("go:func.*") or facts.symbol("go.func.*"))
    assert facts.moduledata.types == facts.symbol("runtime.types")
    assert facts.moduledata.bss == (facts.symbol("runtime.bss"), facts.symbol("runtime.ebss"))


@pytest.mark.integration
@pytest.mark.parametrize("toolchain", MAIN_TOOLCHAINS)
def test_stripped_binary_finds_data_symbols(toolchain: str) -> None:
    full = BinaryFacts.load(str(build("basic", toolchain)))
    facts = BinaryFacts.load(str(build("basic", toolchain, stripped=True)))
    for name in DATA_SYMBOLS:
        assert facts.symbol(name) is not None, name
        assert facts.symbol_sources[name] in ("heuristic", "moduledata")
    assert facts.moduledata is not None and full.moduledata is not None
    assert facts.moduledata.text == full.moduledata.text == full.symbol("runtime.text")
    assert full.moduledata.types == full.symbol("runtime.types")
    assert facts.wait_reasons == full.wait_reasons
    assert facts.symbol("runtime.no_such_thing") is None
    with pytest.raises(GotuiError, match="runtime.no_such_thing not found.*stripped"):
        facts.require_symbol("runtime.no_such_thing")


def _source_wait_reasons(toolchain: str) -> list[str]:
    """The waitReason constants' comment strings, in iota order, from runtime2.go."""
    text = (goroot(toolchain) / "src/runtime/runtime2.go").read_text()
    block = text[text.index("waitReasonZero "):]
    block = block[:block.index("\n)")]
    out = []
    for line in block.splitlines():
        m = re.match(r"\s*(waitReason\w+)[^/]*//\s*\"(.*)\"", line)
        if m:
            out.append(m.group(2))
        elif re.match(r"\s*waitReason\w+", line):
            out.append("?")
    return out


WAIT_CASES = VARIANTS + [(tc, False) for tc in ALL_TOOLCHAINS if tc not in MAIN_TOOLCHAINS]


@pytest.mark.integration
@pytest.mark.parametrize(("toolchain", "stripped"), WAIT_CASES,
                         ids=[f"{tc}-{'stripped' if s else 'full'}" for tc, s in WAIT_CASES])
def test_wait_reasons_match_runtime_source(toolchain: str, stripped: bool) -> None:
    facts = BinaryFacts.load(str(build("basic", toolchain, stripped=stripped)))
    want = _source_wait_reasons(toolchain)
    assert "chan receive" in want
    assert facts.wait_reasons.index("chan receive") == want.index("chan receive")
    assert len(facts.wait_reasons) == len(want)
    for got, expected in zip(facts.wait_reasons, want, strict=True):
        assert expected in ("?", got)


@pytest.mark.integration
@pytest.mark.parametrize("toolchain", MAIN_TOOLCHAINS)
def test_type_names(toolchain: str) -> None:
    """Names of runtime type descriptors; DWARF's DW_AT_go_runtime_type gives each type's
    descriptor as an offset from moduledata.types (0 when the linker dropped it)."""
    from elftools.elf.elffile import ELFFile
    from gotui.backends.gobinary.dwarf_layouts import TypeFinder

    exe = build("basic", toolchain)
    facts = BinaryFacts.load(str(exe))
    assert facts.moduledata is not None
    named = []
    with exe.open("rb") as f:
        finder = TypeFinder(ELFFile(f).get_dwarf_info())
        for name in ("int", "string", "chan int", "chan string", "*main.request",
                     "main.request", "sync.Mutex", "*sync.Mutex", "[]string"):
            die = finder.find(name, ("DW_TAG_base_type", "DW_TAG_structure_type",
                                     "DW_TAG_pointer_type", "DW_TAG_typedef",
                                     "DW_TAG_slice_type"))
            assert die is not None, name
            off = die.attributes[0x2904].value  # DW_AT_go_runtime_type
            if off:
                assert facts.type_name(facts.moduledata.types + off) == name
                named.append(name)
    assert {"int", "string", "chan int", "chan string"} <= set(named)
    assert facts.type_name(facts.moduledata.etypes + 64) == ""  # not a type


@pytest.mark.integration
@pytest.mark.parametrize(("toolchain", "stripped"), VARIANTS, ids=IDS)
def test_cgo_binary(toolchain: str, stripped: bool) -> None:
    exe = build("cgo_sleep", toolchain, stripped=stripped)
    facts = BinaryFacts.load(str(exe))
    assert facts.go_version == _toolchain_version(toolchain)
    entry = facts.symbol("main.sleeper")
    info = facts.pc_info(entry) if entry else None
    assert info is not None and info.line == _decl_line("cgo_sleep", "sleeper")
    for name in DATA_SYMBOLS:
        assert facts.symbol(name) is not None, name
    assert facts.wait_reasons
    assert facts.layout_source == ("table" if stripped else "dwarf")
    table = table_layouts(facts.go_minor)
    assert {k: v.offsets for k, v in facts.layouts.items()} == {
        k: v.offsets for k, v in table.items()}
    if not stripped:
        # gcc inlines the static C function into cgo's exported wrapper.
        wrappers = [f for f in facts.c_functions()
                    if f.name.startswith("_cgo_") and f.name.endswith("_Cfunc_c_sleep_forever")]
        assert len(wrappers) == 1
        fn = facts.func_at(wrappers[0].entry + 1)
        assert fn == wrappers[0]
        info = facts.pc_info(wrappers[0].entry)
        assert info is not None and info.function == fn.name


@pytest.mark.integration
@pytest.mark.parametrize("fixture", ["basic", "cgo_sleep"])
@pytest.mark.parametrize("toolchain", ["go1.19", "go1.26"])
def test_pie_binary(fixture: str, toolchain: str) -> None:
    full = BinaryFacts.load(str(build_pie(fixture, toolchain)))
    stripped = BinaryFacts.load(str(build_pie(fixture, toolchain, stripped=True)))
    assert full.pie and stripped.pie
    found = full.heuristic_data_symbols()
    for name in ("runtime.allgs", "runtime.allgptr", "runtime.allglen",
                 "runtime.waitReasonStrings", "runtime.semtable"):
        assert found.get(name) == full.symbol(name), name
        assert stripped.symbol(name) is not None
    assert full.moduledata is not None and full.moduledata.text == full.symbol("runtime.text")
    assert stripped.wait_reasons == full.wait_reasons != []
    for facts in (full, stripped):
        entry = facts.symbol("main.receiver")
        info = facts.pc_info(entry) if entry else None
        assert info is not None and info.line == _decl_line(fixture, "receiver")


# --- garbage input -----------------------------------------------------------------------


def _one_line_error(path: str) -> str:
    with pytest.raises(GotuiError) as exc:
        BinaryFacts.load(path)
    msg = str(exc.value)
    assert msg and "\n" not in msg
    return msg


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read" in _one_line_error(str(tmp_path / "nope"))


def test_not_elf(tmp_path: Path) -> None:
    p = tmp_path / "script.sh"
    p.write_text("#!/bin/sh\necho hi\n" * 10)
    assert "not an ELF file" in _one_line_error(str(p))


def test_non_go_elf() -> None:
    assert "not a Go binary" in _one_line_error("/bin/ls")


@pytest.mark.integration
@pytest.mark.parametrize("keep", [64, 4096, 0.5, 0.9])
def test_truncated_go_binary(tmp_path: Path, keep: float) -> None:
    data = build("basic", "go1.26", stripped=True).read_bytes()
    p = tmp_path / "cut"
    p.write_bytes(data[:int(keep * len(data)) if keep < 1 else int(keep)])
    _one_line_error(str(p))


@pytest.mark.integration
def test_corrupt_pclntab(tmp_path: Path) -> None:
    exe = build("basic", "go1.26", stripped=True)
    facts = BinaryFacts.load(str(exe))
    data = bytearray(exe.read_bytes())
    off = facts.elf.file_offset(facts.pcln_addr)
    assert off is not None
    data[off:off + 4] = b"\0\0\0\0"
    p = tmp_path / "corrupt"
    p.write_bytes(bytes(data))
    assert "function table" in _one_line_error(str(p))


@pytest.mark.integration
def test_random_corruption_gives_gotui_error_or_loads(tmp_path: Path) -> None:
    """Flipped bytes in headers, pclntab and data: never a traceback, only GotuiError."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    exe = build("basic", "go1.26", stripped=True)
    data = exe.read_bytes()
    facts = BinaryFacts.load(str(exe))
    pcln_off = facts.elf.file_offset(facts.pcln_addr) or 0
    hot = [(0, 4096), (pcln_off, pcln_off + 4096), (len(data) - 4096, len(data))]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4095), st.integers(0, 255)),
                    min_size=1, max_size=8))
    def check(flips: list[tuple[int, int, int]]) -> None:
        buf = bytearray(data)
        for region, off, value in flips:
            buf[min(hot[region][0] + off, len(buf) - 1)] = value
        p = tmp_path / "fuzzed"
        p.write_bytes(bytes(buf))
        try:
            BinaryFacts.load(str(p))
        except GotuiError as e:
            assert "\n" not in str(e)

    check()


def _line_of(fixture: str, text: str) -> int:
    src = (gofixtures.FIXTURES / fixture / "main.go").read_text().splitlines()
    return next(i for i, line in enumerate(src, 1) if text in line)


@pytest.mark.integration
@pytest.mark.parametrize("toolchain", MAIN_TOOLCHAINS)
@pytest.mark.parametrize("optimize", [False, True], ids=["debug", "optimized"])
@pytest.mark.parametrize("stripped", [False, True], ids=["full", "stripped"])
def test_start_function_unwraps_go_statement(toolchain: str, optimize: bool,
                                             stripped: bool) -> None:
    """`go receiver(i)` starts in a compiler wrapper; start_function names receiver."""
    facts = BinaryFacts.load(str(build("basic", toolchain, optimize=optimize,
                                       stripped=stripped)))
    starts = {}
    for fn in facts.functions():
        if fn.name.startswith("main.main."):
            start = facts.start_function(fn.entry + 1)
            assert start is not None
            starts[start.name] = fn.name
    assert {"main.receiver", "main.sender"} <= set(starts)
    assert starts["main.receiver"] != "main.receiver"  # reached through a wrapper
    ticker = facts.symbol("main.ticker")
    assert ticker is not None
    start = facts.start_function(ticker)
    assert start is not None and start.name == "main.ticker"  # `go ticker()`: no wrapper


@pytest.mark.integration
@pytest.mark.parametrize("toolchain", ["go1.26", "go1.27"])
def test_inlined_frames(toolchain: str) -> None:
    """Optimized builds inline sender into the `go sender(i)` wrapper: pc_frames expands
    it into sender (at its line) called from the wrapper (at the go statement)."""
    facts = BinaryFacts.load(str(build("basic", toolchain, optimize=True)))
    wrapper = next(f for f in facts.functions() if f.name == "main.main.gowrap2")
    chains = {tuple((f.function, f.line) for f in facts.pc_frames(pc))
              for pc in range(wrapper.entry, wrapper.end)}
    assert (("main.sender", _line_of("basic", "sendCh <- fmt.Sprintf")),
            ("main.main.gowrap2", _line_of("basic", "go sender(i)"))) in chains
    for chain in chains:
        assert chain[-1][0] == "main.main.gowrap2"
    pc = wrapper.entry
    assert facts.pc_frames(pc)[-1].function == facts.pc_info(pc).function  # type: ignore[union-attr]
    assert facts.pc_frames(pc) is facts.pc_frames(pc)  # cached


@pytest.mark.integration
@pytest.mark.parametrize("toolchain", MAIN_TOOLCHAINS)
def test_without_section_headers(tmp_path: Path, toolchain: str) -> None:
    """sstrip-style binaries keep only program headers: build info, pclntab and
    moduledata are found by scanning, data symbols from moduledata's ranges."""
    exe = build("basic", toolchain, stripped=True)
    want = BinaryFacts.load(str(exe))
    data = bytearray(exe.read_bytes())
    data[0x28:0x30] = bytes(8)  # e_shoff
    data[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    p = tmp_path / "noshdr"
    p.write_bytes(bytes(data))
    facts = BinaryFacts.load(str(p))
    assert facts.elf.sections == []
    assert facts.go_version == want.go_version
    assert facts.symbol("main.receiver") == want.symbol("main.receiver")
    assert facts.wait_reasons == want.wait_reasons
    for name in DATA_SYMBOLS:
        assert facts.symbol(name) == want.symbol(name), name
    assert facts.layouts.keys() == want.layouts.keys()


@pytest.mark.integration
@pytest.mark.parametrize("toolchain", MAIN_TOOLCHAINS)
def test_inlined_frames_match_go_runtime(toolchain: str) -> None:
    """tests/fixtures/inline_frames prints runtime.Callers + CallersFrames for a stack
    main -> outer -> middle -> inner (all inlined into main) -> capture. The physical
    return pc into main.main must expand to the same logical frames as the runtime's."""
    exe = build("inline_frames", toolchain, optimize=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60,
                         check=True).stdout.splitlines()
    pcs = [int(line.split()[1], 16) for line in out if line.startswith("PC ")]
    frames = [tuple(line.split()[1:]) for line in out if line.startswith("FRAME ")]
    facts = BinaryFacts.load(str(exe))
    ret = pcs[1]  # return address of the call to capture, inside main.main
    fn = facts.func_at(ret - 1)
    assert fn is not None and fn.name == "main.main"
    want = [(f, file, int(line)) for f, file, line in frames[1:]]
    want = want[:[f for f, _, _ in want].index("main.main") + 1]
    assert [f for f, _, _ in want] == ["main.inner", "main.middle", "main.outer", "main.main"]
    got = [(f.function, f.file, f.line) for f in facts.pc_frames(ret - 1)]
    assert got == want
    assert facts.pc_info(ret - 1).function == "main.main"  # type: ignore[union-attr]
