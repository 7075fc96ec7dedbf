"""End-to-end check of BinaryFacts against a running fixture: with only the facts read from
the file (symbols, layouts, wait reasons, type names) we walk allgs in /proc/<pid>/mem and
must find the fixture's known goroutines. Done for stripped builds too, where everything
comes from the pclntab, the code heuristics and the layout table. The target is only
read (never stopped or traced)."""

from __future__ import annotations

import os
import struct
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from gotui.backends.gobinary.binary import BinaryFacts, PCInfo

from tests import gofixtures
from tests.live.conftest import MAIN_TOOLCHAINS, build, build_pie

VARIANTS = [(tc, s, False) for tc in MAIN_TOOLCHAINS for s in (False, True)]
VARIANTS += [("go1.19", True, True), ("go1.26", True, True), ("go1.27", False, True)]
IDS = [f"{tc}-{'stripped' if s else 'full'}{'-pie' if pie else ''}" for tc, s, pie in VARIANTS]


def _reader(pid: int) -> tuple[Callable[[int, int], bytes], int]:
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    return (lambda addr, n: os.pread(fd, n, addr)), fd


def _load_bias(pid: int, exe: str, facts: BinaryFacts) -> int:
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[5] == exe and int(fields[2], 16) == 0:
            return int(fields[0].split("-")[0], 16) - facts.load_base
    raise AssertionError(f"{exe} not mapped in {pid}")


def _u64(b: bytes, off: int) -> int:
    return struct.unpack_from("<Q", b, off)[0]


@pytest.mark.integration
@pytest.mark.parametrize(("toolchain", "stripped", "pie"), VARIANTS, ids=IDS)
def test_walk_goroutines_with_file_facts(toolchain: str, stripped: bool, pie: bool) -> None:
    exe = (build_pie if pie else build)("basic", toolchain, stripped=stripped)
    facts = BinaryFacts.load(str(exe))
    assert facts.pie is pie
    g_lay, sudog = facts.layout("runtime.g").offsets, facts.layout("runtime.sudog").offsets
    hchan = facts.layout("runtime.hchan").offsets
    g_size = facts.layout("runtime.g").size
    with gofixtures.run(exe, "-recv", "3", "-send", "2") as target:
        ready_count = int(target.ready_line.split()[1])
        read, fd = _reader(target.pid)
        bias = _load_bias(target.pid, str(exe), facts)
        assert (bias != 0) is pie

        def read_link(addr: int, n: int) -> bytes:  # link-time address
            return read(addr + bias, n)

        def pc_info(pc: int) -> PCInfo | None:  # run-time pc
            return facts.pc_info(pc - bias)

        try:
            allglen = _u64(read_link(facts.require_symbol("runtime.allglen"), 8), 0)
            ptr, length, cap = struct.unpack(
                "<QQQ", read_link(facts.require_symbol("runtime.allgs"), 24))
            assert _u64(read_link(facts.require_symbol("runtime.allgptr"), 8), 0) == ptr
            assert length == allglen and ready_count <= length <= cap
            reasons: Counter[str] = Counter()
            elem_types: Counter[str] = Counter()
            for i in range(length):
                gp = _u64(read(ptr + 8 * i, 8), 0)
                g = read(gp, g_size)
                status = struct.unpack_from("<I", g, g_lay["atomicstatus"])[0] & ~0x1000
                if status != 4:  # _Gwaiting
                    continue
                reason = facts.wait_reasons[g[g_lay["waitreason"]]]
                reasons[reason] += 1
                if reason not in ("chan receive", "chan send"):
                    continue
                gopc_info = pc_info(_u64(g, g_lay["gopc"]) - 1)
                assert gopc_info is not None and gopc_info.function == "main.main"
                start = pc_info(_u64(g, g_lay["startpc"]))
                assert start is not None and start.function.startswith("main.main.")
                go_fn = facts.start_function(_u64(g, g_lay["startpc"]) - bias)
                assert go_fn is not None
                assert go_fn.name == ("main.receiver" if reason == "chan receive" else "main.sender")
                sched = pc_info(_u64(g, g_lay["sched.pc"]))
                assert sched is not None and sched.function.startswith("runtime.")
                lo, hi = _u64(g, g_lay["stack.lo"]), _u64(g, g_lay["stack.hi"])
                assert lo < _u64(g, g_lay["sched.sp"]) < hi
                sg = read(_u64(g, g_lay["waiting"]), facts.layout("runtime.sudog").size)
                assert _u64(sg, sudog["g"]) == gp
                ch = read(_u64(sg, sudog["c"]), facts.layout("runtime.hchan").size)
                elem = facts.type_name(_u64(ch, hchan["elemtype"]) - bias, read_link)
                elem_types[f"{reason}: {elem} cap={_u64(ch, hchan['dataqsiz'])}"] += 1
        finally:
            os.close(fd)
        assert gofixtures.tracer_pid(target.pid) == 0
    assert reasons["chan receive"] == 3 and reasons["chan send"] == 2
    assert elem_types == {"chan receive: int cap=0": 3, "chan send: string cap=2": 2}
