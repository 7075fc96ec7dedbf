"""`gotui snapshot --format goroutine-dump` against the Go runtime's own dump of the same
process (runtime.Stack(all), what /debug/pprof/goroutine?debug=2 prints), on every
installed Go version: header for header (wait reason, `(leaked)`, `, locked to thread`,
labels) and frame for frame (function, file:line, `+0x` offset; wrappers hidden as the
runtime hides them), for every goroutine that did not move between the two.

"Did not move": gotui's dump is taken before and after the runtime's; a goroutine whose
block is the same in both is compared. Left out by design: the goroutine that writes
the runtime's dump (it runs), the os/signal loop the dump's SIGUSR1 wakes, and two
goroutines of the fixture that wake every 20-50 ms (the runtime's stop-the-world may
catch them runnable). The fixture is tests/fixtures/blocking."""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from gotui.backends.analysis import findings
from gotui.backends.formats import to_goroutine_dump
from gotui.backends.live.reader import LiveReader
from gotui.backends.model import Finding

from tests import gofixtures
from tests.delve.conftest import dlv_path
from tests.test_blocking_fixtures import GOTUI, _delve_snapshot, _read_runtime_dump

pytestmark = pytest.mark.integration

HEADER = re.compile(r"^goroutine (\d+) \[")
PERIODIC = ("main.closedPoller(", "main.selectDefault(")  # wake every 20-50 ms
LEAKED_STARTS = ("main.leaked(", "main.cycleA(", "main.cycleB(", "main.transfer(")


def blocks(dump: str) -> dict[int, list[str]]:
    """goroutine id -> its lines, arguments written `(...)` (gotui does not read them)."""
    out: dict[int, list[str]] = {}
    for block in dump.strip("\n").split("\n\n"):
        lines = block.strip("\n").splitlines()
        m = HEADER.match(lines[0]) if lines else None
        if m is None:
            continue
        norm = [lines[0]]
        for ln in lines[1:]:
            if ln.startswith(("\t", "created by ", "...")) or "(" not in ln:
                norm.append(ln)
            else:
                norm.append(ln[:ln.rindex("(")] + "(...)")
        out[int(m.group(1))] = norm
    return out


def gotui_dump(pid: int) -> str:
    return subprocess.run([str(GOTUI), "snapshot", str(pid), "--format", "goroutine-dump"],
                          capture_output=True, text=True, timeout=120, check=True,
                          stdin=subprocess.DEVNULL).stdout


def _wait_line(t: gofixtures.Target, prefix: str, timeout: float = 30) -> str:
    assert t.proc.stdout is not None
    fd = t.proc.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            data += chunk
            for line in data.decode(errors="replace").splitlines():
                if line.startswith(prefix):
                    return line
    raise AssertionError(f"no {prefix!r} line: {data[-300:]!r}")


@dataclass
class Run:
    before: dict[int, list[str]]  # gotui, before the runtime's dump
    after: dict[int, list[str]]  # gotui, after it
    real: dict[int, list[str]]  # the runtime's
    delve: dict[int, list[str]] | None  # gotui from a Delve snapshot (before the runtime's)
    leakcheck: str
    findings: list[Finding]  # of a live snapshot taken first

    def unmoved(self) -> list[int]:
        ids = []
        for goid, lines in self.real.items():
            text = "\n".join(lines)
            # the dump's writer runs (the only running goroutine of a stop-the-world)
            if "[running" in lines[0] or "os/signal.loop(" in text or any(
                    p in text for p in PERIODIC):
                continue
            if goid in self.before and self.before[goid] == self.after.get(goid):
                ids.append(goid)
        return sorted(ids)


def _run(exe: gofixtures.Path, env: dict[str, str], leak: bool, delve: bool) -> Run:
    args = ("-leak-every", "1h") if exe.name == "blocking" else ()
    with gofixtures.run(exe, *args, env=env) as t:
        check = ""
        if leak:
            os.kill(t.pid, signal.SIGUSR2)
            check = _wait_line(t, "LEAKCHECK")
        reader = LiveReader(t.pid)
        found = findings(reader.snapshot())
        reader.close()
        before = blocks(gotui_dump(t.pid))
        dv = None
        if delve:
            dv = blocks(to_goroutine_dump(asyncio.run(_delve_snapshot(t.pid))))
            assert gofixtures.wait_untraced(t.pid, 10)
        real = blocks(_read_runtime_dump(t))
        after = blocks(gotui_dump(t.pid))
    return Run(before, after, real, dv, check, found)


def _by_start(run: Run, fn: str) -> list[str]:
    return next(lines for lines in run.real.values() if any(ln.startswith(fn) for ln in lines))


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[tuple[str, str], Run]]:
    yield {}


def _get(runs: dict[tuple[str, str], Run], toolchain: str, variant: str) -> Run:
    key = (toolchain, variant)
    if key not in runs:
        gofixtures.need_toolchain(toolchain)
        minor = int(toolchain.split(".")[1])
        exp = "goroutineleakprofile" if variant == "leak" and minor == 26 else ""
        name = {"synctest": "synctest_bubble", "cgo": "cgo_callback"}.get(variant, "blocking")
        exe = gofixtures.build(name, toolchain=toolchain, goexperiment=exp,
                               stripped=variant == "stripped")
        env = {"GODEBUG": "tracebacklabels=1"} if variant in ("labels", "stripped") else {}
        delve = variant not in ("stripped", "cgo") and minor >= 25 and dlv_path() is not None
        runs[key] = _run(exe, env, leak=variant in ("leak", "stripped"), delve=delve)
    return runs[key]


def _assert_same(run: Run, ours: dict[int, list[str]], minimum: int) -> None:
    unmoved = run.unmoved()
    assert len(unmoved) >= minimum, (len(unmoved), sorted(run.real))
    for goid in unmoved:
        assert ours.get(goid) == run.real[goid], goid


@pytest.mark.parametrize("toolchain", gofixtures.ALL_TOOLCHAINS)
def test_dump_equals_the_runtimes(runs: dict[tuple[str, str], Run], toolchain: str) -> None:
    run = _get(runs, toolchain, "plain")
    _assert_same(run, run.before, 25)
    assert ", locked to thread]:" in _by_start(run, "main.lockedWaiter(")[0]
    wrapped = _by_start(run, "main.viaWrapper(")
    assert not any("(*waiter).Wait" in ln for ln in wrapped), wrapped  # a wrapper
    assert any(ln.startswith("main.waiter.Wait(") for ln in wrapped)
    assert not any("{" in lines[0] or "labels:" in lines[0] for lines in run.real.values())


@pytest.mark.parametrize("toolchain", ["go1.26", "go1.27"])
def test_labels_when_the_target_prints_them(runs: dict[tuple[str, str], Run],
                                            toolchain: str) -> None:
    """GODEBUG=tracebacklabels=1, read from the target: 1.26 prints `labels:{...}` in
    the brackets, always quoted; 1.27 `{...}` after them, quoted where needed."""
    run = _get(runs, toolchain, "labels")
    _assert_same(run, run.before, 25)
    head = _by_start(run, "main.labelled.func1(")[0]
    if toolchain == "go1.26":
        assert head.endswith(' labels:{"role": "worker", "tenant": "t 0"}]:'), head
    else:
        assert head.endswith('] {role: worker, tenant: "t 0"}:'), head


@pytest.mark.parametrize("toolchain", ["go1.26", "go1.27"])
def test_leaked_goroutines_after_the_leak_detector(runs: dict[tuple[str, str], Run],
                                                   toolchain: str) -> None:
    run = _get(runs, toolchain, "leak")
    assert run.leakcheck != "LEAKCHECK none" and int(run.leakcheck.split()[1]) >= 4
    leaked = [g for g, lines in run.real.items() if "(leaked)" in lines[0]]
    assert len(leaked) >= 4
    _assert_same(run, run.before, 25)
    assert all(g in run.unmoved() for g in leaked)
    # the Findings entry is a proof, naming exactly the goroutines the runtime marked
    proofs = [f for f in run.findings if f.kind == "leak" and f.proof]
    assert proofs and all(f.severity == "error" for f in proofs)
    assert sorted(g for f in proofs for g in f.goroutines) == sorted(leaked)
    assert any("main.leakLoop" in f.title for f in proofs)


@pytest.mark.parametrize("toolchain", ["go1.19", "go1.26", "go1.27"])
def test_stripped_binary(runs: dict[tuple[str, str], Run], toolchain: str) -> None:
    """No .symtab: labels setting from the environment, funcIDs and offsets from the
    pclntab, layouts from the table."""
    run = _get(runs, toolchain, "stripped")
    _assert_same(run, run.before, 25)


@pytest.mark.parametrize("toolchain", ["go1.25", "go1.26", "go1.27"])
def test_synctest_bubbles(runs: dict[tuple[str, str], Run], toolchain: str) -> None:
    """testing/synctest in a program: `(durable)` and `, synctest bubble N`."""
    run = _get(runs, toolchain, "synctest")
    _assert_same(run, run.before, 6)
    heads = [lines[0] for lines in run.real.values() if "synctest bubble" in lines[0]]
    assert len(heads) >= 4, heads
    assert any("[chan receive (durable), synctest bubble " in h for h in heads)
    assert any("[sleep (durable), synctest bubble " in h for h in heads)
    assert any("[chan receive, synctest bubble " in h for h in heads)


@pytest.mark.parametrize("toolchain", ["go1.19", "go1.26", "go1.27"])
def test_cgo(runs: dict[tuple[str, str], Run], toolchain: str) -> None:
    """Goroutines in C calls (frames from entersyscall's pc, runtime.cgocall hidden) and
    Go callbacks from C (locked to their thread), C built with and without frame
    pointers."""
    run = _get(runs, toolchain, "cgo")
    _assert_same(run, run.before, 5)
    in_c = [lines for lines in run.real.values() if any("_Cfunc_c_sleep" in ln for ln in lines)]
    assert len(in_c) == 2 and all(b[0].endswith("[syscall]:") for b in in_c)
    callbacks = [lines for lines in run.real.values()
                 if any(ln.startswith("main.goCallback(") for ln in lines)]
    assert len(callbacks) == 2 and all(", locked to thread]:" in b[0] for b in callbacks)
    compared = set(run.unmoved())
    assert {int(b[0].split()[1]) for b in in_c + callbacks} <= compared


@pytest.mark.parametrize(("toolchain", "variant"), [("go1.26", "plain"), ("go1.27", "labels"),
                                                    ("go1.27", "leak"), ("go1.26", "synctest")])
def test_delve_dump_equals_the_runtimes(runs: dict[tuple[str, str], Run], toolchain: str,
                                        variant: str) -> None:
    if dlv_path() is None:
        pytest.skip("dlv is not installed on this machine")
    run = _get(runs, toolchain, variant)
    assert run.delve is not None
    # Delve stacks a goroutine in a syscall from its thread's registers (inside the
    # syscall's assembly); the runtime from entersyscall's pc
    syscall = {g for g, lines in run.real.items() if lines[0].split("[")[1].startswith("syscall")}
    unmoved = [g for g in run.unmoved() if g not in syscall]
    assert len(unmoved) >= (6 if variant == "synctest" else 25)
    for goid in unmoved:
        assert run.delve.get(goid) == run.real[goid], goid
