"""Post-mortem: a core written by gcore from the running cgo fixture, opened with Delve
(the default) and with gdb. Both must show the goroutines, the stitched stacks and the
channel, refuse to run, and leave no debugger process behind on any way out."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gotui.backends import factory
from gotui.backends.gdb import open_core
from gotui.backends.model import Goroutine, GotuiError

from tests import gofixtures
from tests.needs import requires_dlv

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("gcore") is None, reason="gcore (gdb) missing")]
needs_dlv = requires_dlv
STARTS = {"main.sleepNoFP", "main.sleepFP", "main.callbackFP", "main.callbackNoFP",
          "main.ticker"}


@pytest.fixture(scope="module")
def cgo_core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    exe = gofixtures.build("cgo_callback")
    out = tmp_path_factory.mktemp("core") / "core"
    # one malloc arena: the core holds every mapping, ~8 x 64 MB arenas otherwise
    with gofixtures.run(exe, env={"MALLOC_ARENA_MAX": "1"}) as t:
        subprocess.run(["gcore", "-o", str(out), str(t.pid)], check=True,
                       capture_output=True, timeout=120)
        assert gofixtures.wait_untraced(t.pid) and gofixtures.making_progress(t.pid)
        core = Path(f"{out}.{t.pid}")
    yield exe, core
    core.unlink(missing_ok=True)


def dlv_pids_on(core: Path) -> list[int]:
    """dlv processes whose command line names this core file."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                argv = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"dlv") and str(core).encode() in argv:
                out.append(int(p.name))
    return out


def names(g: Goroutine) -> list[str]:
    return [f.function.removeprefix("C.") for f in g.stack]


def check_cgo_snapshot_shape(by_start: dict[str, Goroutine]) -> None:
    assert STARTS <= set(by_start)
    cb = names(by_start["main.callbackNoFP"])
    assert cb.index("main.goCallback") < cb.index("runtime.cgocallback") \
        < cb.index("main.callbackNoFP")


async def test_gdb_core_lists_goroutines_with_stitched_stacks(
        cgo_core: tuple[Path, Path]) -> None:
    exe, core = cgo_core
    b = await open_core(str(exe), str(core), "gdb")
    try:
        assert b.info.go_version.startswith("go1.")
        assert (await b.state()).stop_reason == "core"
        snap = await b.snapshot(stacks=True)
        by_start = {g.start.function: g for g in snap.goroutines}
        check_cgo_snapshot_shape(by_start)
        sleeper = names(by_start["main.sleepNoFP"])
        assert sleeper.index("c_inner_nofp") < sleeper.index("runtime.asmcgocall") \
            < sleeper.index("main.sleepNoFP")
        cb = names(by_start["main.callbackNoFP"])
        assert cb.index("main.goCallback") < cb.index("c_call_back_nofp") \
            < cb.index("main.callbackNoFP")
        assert by_start["main.callbackFP"].blocked_on is not None
        assert any(len(c.receivers) == 2 for c in snap.channels)
        assert all(g.wait_ns == 0 for g in snap.goroutines)  # no clock to compare with
        with pytest.raises(GotuiError, match="core"):
            await b.cont()
    finally:
        await b.detach()


@needs_dlv
async def test_delve_core_goroutines_stacks_channels(cgo_core: tuple[Path, Path]) -> None:
    exe, core = cgo_core
    b = factory.open_core(str(exe), str(core))  # Delve is the default
    assert b.name == "delve"
    await b.start()
    dlv = b._dlv  # type: ignore[attr-defined]
    try:
        assert dlv is not None and dlv.proc.returncode is None
        st = await b.state()
        assert st.stop_reason == "core" and not st.running
        assert b.info.go_version.startswith("go1.") and b.info.exe == str(exe)
        snap = await b.snapshot(stacks=True)
        by_start = {g.start.function: g for g in snap.goroutines}
        check_cgo_snapshot_shape(by_start)
        for start, c_caller in (("main.callbackFP", "c_call_back_fp"),
                                ("main.callbackNoFP", "c_call_back_nofp")):
            # Delve alone goes from cgocallback to cgocall: the C frames are filled in
            stack = by_start[start].stack
            cb = names(by_start[start])
            assert cb.index("main.goCallback") < cb.index("runtime.cgocallback") \
                < cb.index("crosscall2") < cb.index(c_caller) \
                < cb.index("runtime.asmcgocall") < cb.index(start)
            assert cb[-2:] == [start, "runtime.goexit"]
            c = stack[cb.index(c_caller)]
            assert c.kind == "c" and c.file.endswith(".c") and c.line > 0 and "CFI" in c.note
        # frame numbers past the added C frames still reach Delve's own frames
        g = by_start["main.callbackNoFP"]
        await b.stack(g.id)  # the frame numbers below are those of this stack
        cb = names(g)
        stub = cb.index("main._Cfunc_c_call_back_nofp")
        args = {v.name: v.value for v in await b.args(g.id, stub)}
        assert args.get("p0") == "2"  # C.c_call_back_nofp(2)
        with pytest.raises(GotuiError, match="C frame") as err:
            await b.locals(g.id, cb.index("c_call_back_nofp"))
        assert "\n" not in str(err.value)
        assert by_start["main.callbackFP"].blocked_on is not None
        chan = next(c for c in snap.channels if len(c.receivers) == 2)
        assert {by_start["main.callbackFP"].id, by_start["main.callbackNoFP"].id} \
            == set(chan.receivers)
        for start, inner in (("main.sleepFP", "c_inner_fp"), ("main.sleepNoFP", "c_inner_nofp")):
            # Delve has no symbols for libc in a core: "?" then straight to cgocall;
            # the thread's registers + CFI of the core's mapped files fill the C frames
            stack = by_start[start].stack
            sl = names(by_start[start])
            assert sl.index("sleep") < sl.index(inner) < sl.index("runtime.asmcgocall") \
                < sl.index(start)
            assert all(f.function and f.function != "?" for f in stack)
            libc = stack[sl.index("sleep")]
            assert libc.kind == "c" and libc.note.startswith("sleep+0x")
            assert "(libc.so.6)" in libc.note
            c = stack[sl.index(inner)]
            assert c.file.endswith(".c") and c.line > 0
        assert all(g.wait_ns == 0 for g in snap.goroutines)
        for step in (b.cont, b.next, b.step, b.step_out):
            with pytest.raises(GotuiError, match="core file") as err:
                await step()
            assert "\n" not in str(err.value)
    finally:
        await b.detach()
    assert dlv.proc.returncode is not None
    assert dlv_pids_on(core) == []


@needs_dlv
async def test_core_session_refuses_to_run_and_never_signals_the_old_pid(
        cgo_core: tuple[Path, Path]) -> None:
    exe, core = cgo_core
    session = factory.core_session(str(exe), str(core))
    await session.start()
    try:
        assert session.post_mortem and session.info.pid > 0  # the pid in the core
        with pytest.raises(GotuiError, match="core file"):
            await session.cont()
        with pytest.raises(GotuiError, match="core file"):
            await session.step()
        assert (await session.halt()).stop_reason == "core"
        snap = await session.snapshot()
        assert STARTS <= {g.start.function for g in snap.goroutines}
    finally:
        # "keep halted" would SIGSTOP the target pid: a core has none to stop
        sent: list[tuple[int, int]] = []
        real_kill = os.kill
        os.kill = lambda pid, sig: sent.append((pid, sig))  # type: ignore[assignment]
        try:
            await session.close(resume=False)
        finally:
            os.kill = real_kill
    assert (session.info.pid, signal.SIGSTOP) not in sent
    assert dlv_pids_on(core) == []


@pytest.mark.parametrize("backend", [pytest.param("delve", marks=needs_dlv), "gdb"])
def test_cli_core_json_prints_the_snapshot(cgo_core: tuple[Path, Path], backend: str) -> None:
    exe, core = cgo_core
    res = subprocess.run([sys.executable, "-m", "gotui.tui.cli", "core", str(exe), str(core),
                          "--backend", backend, "--json"],
                         capture_output=True, text=True, timeout=120, cwd=gofixtures.ROOT)
    assert res.returncode == 0, res.stderr
    snap = json.loads(res.stdout)
    assert snap["source"] == backend and snap["target_paused_ns"] == 0
    assert STARTS <= {g["start"]["function"] for g in snap["goroutines"]}
    assert all(g["stack"] for g in snap["goroutines"] if g["status"] != "dead")
    assert dlv_pids_on(core) == []


def test_cli_core_errors_are_one_line(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "gotui.tui.cli", "core", str(tmp_path / "nope"),
                          str(tmp_path / "core"), "--json"],
                         capture_output=True, text=True, timeout=60, cwd=gofixtures.ROOT)
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0 and "no such file" in res.stderr


@needs_dlv
def test_dlv_core_goes_away_when_gotui_is_killed(cgo_core: tuple[Path, Path]) -> None:
    """SIGKILL of gotui: dlv gets SIGTERM (PDEATHSIG) and exits; nothing is left."""
    exe, core = cgo_core
    script = ("import asyncio, sys\n"
              "from backends import factory\n"
              "async def main():\n"
              "    b = factory.open_core(sys.argv[1], sys.argv[2])\n"
              "    await b.start()\n"
              "    print('OPEN', flush=True)\n"
              "    await asyncio.sleep(60)\n"
              "asyncio.run(main())\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(exe), str(core)],
                            stdout=subprocess.PIPE, text=True, cwd=gofixtures.ROOT)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "OPEN"
        assert len(dlv_pids_on(core)) == 1
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 10
        while dlv_pids_on(core) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert dlv_pids_on(core) == []
    finally:
        proc.kill()
        proc.wait(10)


async def test_open_core_errors_are_one_line(tmp_path: Path, cgo_core: tuple[Path, Path],
                                            basic_exe: Path) -> None:
    exe, core = cgo_core
    with pytest.raises(GotuiError, match="cannot read"):
        await open_core(str(tmp_path / "nope"), str(tmp_path / "core"), "gdb")
    with pytest.raises(GotuiError, match="no such file"):
        factory.open_core(str(tmp_path / "nope"), str(tmp_path / "core"))
    junk = tmp_path / "junk"
    junk.write_text("not a core\n")
    for backend in ("delve", "gdb"):
        # checked before any debugger runs: dlv would only say "EOF", gdb a Python error
        with pytest.raises(GotuiError, match="is not a core file"):
            factory.open_core(str(exe), str(junk), backend)
        with pytest.raises(GotuiError, match="is not a Go program"):
            factory.open_core("/bin/sh", str(core), backend)
        with pytest.raises(GotuiError, match=f"was written by {exe}, not by {basic_exe}"):
            factory.open_core(str(basic_exe), str(core), backend)
    assert dlv_pids_on(junk) == [] and dlv_pids_on(core) == []


@needs_dlv
async def test_tui_on_a_core_says_core_refuses_to_run_and_quits_at_once(
        cgo_core: tuple[Path, Path]) -> None:
    from gotui.tui.app import GotuiApp
    from gotui.tui.screens.quit import QuitScreen
    from gotui.tui.widgets.header import state_text

    exe, core = cgo_core
    session = factory.core_session(str(exe), str(core))
    await session.start()
    try:
        app = GotuiApp(session, refresh_interval=1.0, keymap_path="/nonexistent/keymap.toml")
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 30
            while not len(app.index.data) and time.monotonic() < deadline:
                await pilot.pause(0.1)
            assert len(app.index.data)
            assert state_text(app.state, time.time())[0].strip() == "CORE (post-mortem)"
            for key in ("c", "n"):
                await pilot.press(key)
                await pilot.pause(0.3)
            messages = [str(n.message) for n in app._notifications]
            assert any("cannot continue: this is a core file" in m for m in messages)
            assert all("\n" not in m for m in messages)
            assert not app.state.running
            await pilot.press("q")
            assert not isinstance(app.screen, QuitScreen)  # nothing to resume or keep
            deadline = time.monotonic() + 15
            while dlv_pids_on(core) and time.monotonic() < deadline:
                await pilot.pause(0.1)
            assert dlv_pids_on(core) == []  # q alone released everything
    finally:
        await session.close()
    assert dlv_pids_on(core) == []
